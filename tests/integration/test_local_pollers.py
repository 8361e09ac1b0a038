"""The local SQS poller: a batch is never received twice while it runs, and what it failed
comes back (soon locally), except what the handler gave its own delay (Retry-After)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_stack.pollers import SqsPoller, StreamReader


@pytest.fixture
def queue() -> Iterator[tuple[Any, str, str]]:
    with mock_aws():
        sqs = boto3.client("sqs")
        url = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "180"})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        yield sqs, url, arn


def _poller(sqs: Any, url: str, arn: str, invoke: Any, touched: set[str]) -> SqsPoller:
    return SqsPoller(
        "f",
        url,
        arn,
        10,
        sqs,
        invoke,
        "eu-west-1",
        retry_after_s=0,
        visibility_changed=lambda receipt: receipt in touched,
    )


def test_failed_messages_come_back_and_a_handlers_own_delay_is_kept(
    queue: tuple[Any, str, str],
) -> None:
    sqs, url, arn = queue
    for body in ("ok", "fails", "delayed"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    touched: set[str] = set()

    def invoke(_name: str, event: dict[str, Any]) -> dict[str, Any]:
        failures = []
        for record in event["Records"]:
            if record["body"] == "delayed":  # the handler sets its own visibility, then fails
                touched.add(record["receiptHandle"])
            if record["body"] != "ok":
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    poller = _poller(sqs, url, arn, invoke, touched)
    while poller.received < 3:
        assert poller.poll_once()
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in again] == ["fails"]  # "ok" deleted, "delayed" kept hidden


def test_a_running_batch_is_not_received_again(queue: tuple[Any, str, str]) -> None:
    sqs, url, arn = queue
    sqs.send_message(QueueUrl=url, MessageBody="slow")
    seen_meanwhile: list[Any] = []

    def invoke(_name: str, _event: dict[str, Any]) -> dict[str, Any]:
        # what another poller of the queue would get while this batch runs
        seen_meanwhile.extend(sqs.receive_message(QueueUrl=url).get("Messages", []))
        return {"batchItemFailures": []}

    assert _poller(sqs, url, arn, invoke, set()).poll_once()
    assert seen_meanwhile == []
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []  # deleted once done


def test_a_batching_window_gathers_what_arrives_and_receives_only_when_it_can_fill(
    queue: tuple[Any, str, str],
) -> None:
    """Messages sent during the window join its batch; the poller asks the queue's count
    (no request) instead of receiving on every arrival."""
    import threading

    sqs, url, arn = queue
    receives = 0
    real_receive = sqs.receive_message

    def counting_receive(**kwargs: Any) -> Any:
        nonlocal receives
        receives += 1
        return real_receive(**kwargs)

    def visible() -> int:
        attrs = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"])

    batches: list[list[str]] = []

    def invoke(_name: str, event: dict[str, Any]) -> dict[str, Any]:
        batches.append([r["body"] for r in event["Records"]])
        return {"batchItemFailures": []}

    wake = threading.Event()
    counting = type("Counting", (), {"receive_message": staticmethod(counting_receive)})()
    for name in ("delete_message_batch", "change_message_visibility_batch"):
        setattr(counting, name, getattr(sqs, name))
    poller = SqsPoller(
        "f", url, arn, 100, counting, invoke, "eu-west-1",
        wake=wake, idle_s=0.05, batching_window_s=0.6, visible=visible,
    )  # fmt: skip
    sqs.send_message(QueueUrl=url, MessageBody="m0")

    def trickle() -> None:
        for n in range(1, 25):
            sqs.send_message(QueueUrl=url, MessageBody=f"m{n}")
            wake.set()

    sender = threading.Thread(target=trickle)
    sender.start()
    assert poller.poll_once()
    sender.join()
    assert sorted(batches[0], key=lambda b: int(b[1:])) == [f"m{n}" for n in range(25)]
    assert receives <= 6  # 25 messages, 10 per receive, and one empty receive at the end


def test_the_stream_reader_drops_what_the_mappings_filters_do_not_match() -> None:
    with mock_aws():
        db = boto3.client("dynamodb")
        table = db.create_table(
            TableName="t",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )["TableDescription"]
        invoked: list[list[str]] = []

        def invoke(_name: str, event: dict[str, Any]) -> dict[str, Any]:
            invoked.append([r["dynamodb"]["Keys"]["sk"]["S"] for r in event["Records"]])
            return {"batchItemFailures": []}

        reader = StreamReader(
            "f", table["LatestStreamArn"], 100, 0, boto3.client("dynamodbstreams"), invoke,
            "eu-west-1", "unused", boto3.client("sqs"),
            filters=({"dynamodb": {"Keys": {"sk": {"S": ["LEVEL"]}}}},),
        )  # fmt: skip
        for sk in ("MOVE#1", "RES#1"):
            db.put_item(TableName="t", Item={"pk": {"S": "SKU#A"}, "sk": {"S": sk}})
        assert reader.poll_once() and invoked == []  # read past, nobody invoked
        for sk in ("MOVE#2", "LEVEL"):
            db.put_item(TableName="t", Item={"pk": {"S": "SKU#A"}, "sk": {"S": sk}})
        assert reader.poll_once() and invoked == [["LEVEL"]]
        assert not reader.pending()
