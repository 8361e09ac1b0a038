"""The local stack's mend of moto: a cancelled transaction leaves the stream as DynamoDB would."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_stack.moto_patches import query_reads_one_partition, rollback_transactions_in_place


def _pk_sk_table(db: Any, name: str, **extra: Any) -> None:
    """A table keyed as Keel's are (string hash key `pk`, range key `sk`)."""
    db.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )


@pytest.fixture
def streamed_table() -> Iterator[tuple[Any, Any, str]]:
    rollback_transactions_in_place()
    with mock_aws():
        db = boto3.client("dynamodb")
        arn = db.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )["TableDescription"]["LatestStreamArn"]
        yield db, boto3.client("dynamodbstreams"), arn


def test_an_iterator_taken_before_a_cancelled_transaction_sees_only_real_writes(
    streamed_table: tuple[Any, Any, str],
) -> None:
    db, streams, arn = streamed_table
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    db.put_item(TableName="t", Item={"pk": {"S": "real-1"}})
    with pytest.raises(db.exceptions.TransactionCanceledException):
        db.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "t", "Item": {"pk": {"S": "phantom"}}}},
                {
                    "Put": {
                        "TableName": "t",
                        "Item": {"pk": {"S": "real-1"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    db.put_item(TableName="t", Item={"pk": {"S": "real-2"}})
    records = streams.get_records(ShardIterator=iterator)["Records"]
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in records] == ["real-1", "real-2"]
    sequence = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert sequence == sorted(set(sequence))


def _everything(db: Any, streams: Any, tables: list[str]) -> dict[str, Any]:
    """Every item of every table and every stream record, as the API shows them."""
    state: dict[str, Any] = {}
    for name in tables:
        items = db.scan(TableName=name, ConsistentRead=True)["Items"]
        state[name] = sorted(items, key=repr)
        arn = db.describe_table(TableName=name)["Table"].get("LatestStreamArn")
        if arn:
            shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
            iterator = streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            records = streams.get_records(ShardIterator=iterator)["Records"]
            state[f"{name} stream"] = [
                (r["eventName"], r["dynamodb"]["SequenceNumber"], r["dynamodb"].get("NewImage"))
                for r in records
            ]
    return state


@pytest.fixture
def two_tables(streamed_table: tuple[Any, Any, str]) -> tuple[Any, Any]:
    """`t` (hash key, streamed) and `levels` (hash + range key, streamed), both filled."""
    db, streams, _ = streamed_table
    _pk_sk_table(
        db,
        "levels",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    for n in range(20):
        db.put_item(TableName="t", Item={"pk": {"S": f"k{n}"}, "n": {"N": str(n)}})
        db.put_item(
            TableName="levels",
            Item={"pk": {"S": f"SKU#{n}"}, "sk": {"S": "LEVEL"}, "qty": {"N": "5"}},
        )
    return db, streams


def _mixed_writes() -> list[dict[str, Any]]:
    """A new item, an update, a delete and an overwrite in each table."""
    return [
        {"Put": {"TableName": "t", "Item": {"pk": {"S": "new"}}}},
        {
            "Update": {
                "TableName": "t",
                "Key": {"pk": {"S": "k1"}},
                "UpdateExpression": "SET n = n + :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
        {"Delete": {"TableName": "t", "Key": {"pk": {"S": "k2"}}}},
        {"Put": {"TableName": "t", "Item": {"pk": {"S": "k3"}, "n": {"N": "99"}}}},
        {
            "Update": {
                "TableName": "levels",
                "Key": {"pk": {"S": "SKU#1"}, "sk": {"S": "LEVEL"}},
                "UpdateExpression": "SET qty = qty - :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
        {"Put": {"TableName": "levels", "Item": {"pk": {"S": "SKU#1"}, "sk": {"S": "RES#a"}}}},
        {"Put": {"TableName": "levels", "Item": {"pk": {"S": "SKU#99"}, "sk": {"S": "LEVEL"}}}},
        {"Delete": {"TableName": "levels", "Key": {"pk": {"S": "SKU#2"}, "sk": {"S": "LEVEL"}}}},
    ]


def test_a_cancelled_transaction_leaves_every_table_exactly_as_before(
    two_tables: tuple[Any, Any],
) -> None:
    from moto.backends import get_backend
    from moto.core.models import DEFAULT_ACCOUNT_ID

    db, streams = two_tables
    before = _everything(db, streams, ["t", "levels"])
    backend = get_backend("dynamodb")[DEFAULT_ACCOUNT_ID][db.meta.region_name]
    tables_before = {name: backend.tables[name] for name in ("t", "levels")}
    failing = {
        "ConditionCheck": {
            "TableName": "levels",
            "Key": {"pk": {"S": "SKU#5"}, "sk": {"S": "LEVEL"}},
            "ConditionExpression": "qty > :many",
            "ExpressionAttributeValues": {":many": {"N": "100"}},
        }
    }
    for last in (failing, *_mixed_writes()[:1]):  # a failed condition; a key named twice
        with pytest.raises(db.exceptions.ClientError):
            db.transact_write_items(TransactItems=[*_mixed_writes(), last])
        assert _everything(db, streams, ["t", "levels"]) == before
    # The rollback restored in place: no table was copied (the cost is the transaction's).
    assert all(backend.tables[name] is table for name, table in tables_before.items())


def test_a_transaction_that_succeeds_writes_everything_once(two_tables: tuple[Any, Any]) -> None:
    db, streams = two_tables
    before = _everything(db, streams, ["t", "levels"])
    db.transact_write_items(TransactItems=_mixed_writes())
    after = _everything(db, streams, ["t", "levels"])
    assert len(after["t stream"]) == len(before["t stream"]) + 4
    assert len(after["levels stream"]) == len(before["levels stream"]) + 4
    keys = {i["pk"]["S"] for i in after["t"]}
    assert "new" in keys and "k2" not in keys
    level = db.get_item(TableName="levels", Key={"pk": {"S": "SKU#1"}, "sk": {"S": "LEVEL"}})
    assert level["Item"]["qty"] == {"N": "4"}


def test_a_table_backup_is_still_a_full_copy(two_tables: tuple[Any, Any]) -> None:
    db, _ = two_tables
    arn = db.create_backup(TableName="t", BackupName="backup")["BackupDetails"]["BackupArn"]
    db.put_item(TableName="t", Item={"pk": {"S": "after-backup"}})
    db.restore_table_from_backup(TargetTableName="restored", BackupArn=arn)
    keys = {i["pk"]["S"] for i in db.scan(TableName="restored")["Items"]}
    assert "after-backup" not in keys and "k0" in keys


def _query_all(db: Any, **args: Any) -> list[dict[str, Any]]:
    pages = db.get_paginator("query").paginate(TableName="levels", **args)
    return [item for page in pages for item in page["Items"]]


def test_a_query_reads_its_partition_as_dynamodb_does(two_tables: tuple[Any, Any]) -> None:
    query_reads_one_partition()
    db, _ = two_tables
    for n in range(12):
        db.put_item(
            TableName="levels",
            Item={"pk": {"S": "SKU#1"}, "sk": {"S": f"RES#{n:02}"}, "n": {"N": str(n)}},
        )
    everything = db.scan(TableName="levels")["Items"]
    mine = sorted((i for i in everything if i["pk"]["S"] == "SKU#1"), key=lambda i: i["sk"]["S"])
    key = {":pk": {"S": "SKU#1"}}
    assert _query_all(db, KeyConditionExpression="pk = :pk", ExpressionAttributeValues=key) == mine
    paged = _query_all(
        db,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
        ExpressionAttributeValues={**key, ":p": {"S": "RES#"}},
        ScanIndexForward=False,
        PaginationConfig={"PageSize": 5},
    )
    assert paged == [i for i in reversed(mine) if i["sk"]["S"].startswith("RES#")]
    filtered = _query_all(
        db,
        KeyConditionExpression="pk = :pk",
        FilterExpression="n > :five",
        ExpressionAttributeValues={**key, ":five": {"N": "5"}},
    )
    assert [i["sk"]["S"] for i in filtered] == [f"RES#{n:02}" for n in range(6, 12)]
    none = {":pk": {"S": "SKU#nothing"}}
    assert _query_all(db, KeyConditionExpression="pk = :pk", ExpressionAttributeValues=none) == []
    hash_only = db.query(
        TableName="t",
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "k4"}},
    )["Items"]
    assert hash_only == [{"pk": {"S": "k4"}, "n": {"N": "4"}}]


def test_message_delays_are_capped_locally_and_as_sent_when_not() -> None:
    from local_stack.moto_patches import cap_message_delays

    with mock_aws():
        sqs = boto3.client("sqs", region_name="eu-west-1")
        url = sqs.create_queue(QueueName="delays")["QueueUrl"]
        try:
            cap_message_delays(0)
            sqs.send_message(QueueUrl=url, MessageBody="check", DelaySeconds=600)
            sqs.send_message_batch(
                QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "b", "DelaySeconds": 600}]
            )
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
            assert sorted(m["Body"] for m in got) == ["b", "check"]
            cap_message_delays(None)
            sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=600)
            assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        finally:
            cap_message_delays(None)


_CHOOSER = {
    "StartAt": "Which",
    "States": {
        "Which": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Big"}],
            "Default": "Small",
        },
        "Big": {"Type": "Pass", "Result": "big", "ResultPath": "$.size", "End": True},
        "Small": {"Type": "Pass", "Result": "small", "ResultPath": "$.size", "End": True},
    },
}


def _finished(sfn: Any, arn: str) -> dict[str, Any]:
    import time

    for _ in range(200):
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.01)
    raise AssertionError("the execution did not finish")


def test_executions_of_one_parsed_definition_keep_their_own_paths(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The parse tree is kept per definition; each execution still evaluates its own input."""
    import json

    from moto.core.config import default_user_config
    from moto.stepfunctions.parser.asl.parse import asl_parser

    from local_stack.moto_patches import parse_each_definition_once

    monkeypatch.setitem(default_user_config["stepfunctions"], "execute_state_machine", True)
    parses = 0
    lexer = asl_parser.ASLLexer  # type: ignore[attr-defined]

    def counting_lexer(*args: Any) -> Any:
        nonlocal parses
        parses += 1
        return lexer(*args)

    monkeypatch.setattr(asl_parser, "ASLLexer", counting_lexer)
    parse_each_definition_once()
    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name="eu-west-1")
        machine = sfn.create_state_machine(
            name="chooser",
            definition=json.dumps(_CHOOSER),
            roleArn="arn:aws:iam::123456789012:role/sfn",
        )["stateMachineArn"]
        parses_before = parses
        outputs: list[str] = []
        for n in (5, 0, 7):
            arn = sfn.start_execution(
                stateMachineArn=machine, name=f"run-{len(outputs)}", input=json.dumps({"n": n})
            )["executionArn"]
            finished = _finished(sfn, arn)
            assert finished["status"] == "SUCCEEDED"
            outputs.append(json.loads(finished["output"])["size"])
    assert outputs == ["big", "small", "big"]
    assert parses - parses_before <= 1  # three executions, at most one parse


def test_a_definition_that_does_not_parse_is_still_refused() -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import (
        AmazonStateLanguageParser,
        ASLParserException,
    )

    from local_stack.moto_patches import parse_each_definition_once

    parse_each_definition_once()
    with pytest.raises(ASLParserException):
        AmazonStateLanguageParser.parse('{"StartAt": "Nowhere", "States": {"Nowhere": ')


def test_a_receive_reads_the_retention_period_alone_and_still_drops_expired_messages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from moto.sqs.models import Queue, sqs_backends

    from local_stack.moto_patches import retention_check_reads_one_attribute

    retention_check_reads_one_attribute()
    with mock_aws():
        sqs = boto3.client("sqs", region_name="eu-west-1")
        url = sqs.create_queue(QueueName="kept", Attributes={"MessageRetentionPeriod": "60"})[
            "QueueUrl"
        ]
        sqs.send_message(QueueUrl=url, MessageBody="old")
        queue = sqs_backends["123456789012"]["eu-west-1"].queues["kept"]
        old: Any = queue._messages[0]
        old.sent_timestamp -= 61_000  # sent 61 s ago: past its 60 s retention
        fresh = sqs.create_queue(QueueName="fresh")["QueueUrl"]
        sqs.send_message(QueueUrl=fresh, MessageBody="new")
        built = 0
        attributes = Queue.attributes

        def counted(self: Any) -> Any:
            nonlocal built
            built += 1
            return attributes.fget(self)  # type: ignore[attr-defined]

        monkeypatch.setattr(Queue, "attributes", property(counted))
        expired = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        got = sqs.receive_message(QueueUrl=fresh, MaxNumberOfMessages=10)["Messages"]
    assert "Messages" not in expired
    assert [m["Body"] for m in got] == ["new"]
    assert built == 0  # each of its O(messages) counts once per received message, before


def test_action_names_are_listed_once_per_class(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import inspect

    from local_stack.moto_patches import action_names_once_per_class

    action_names_once_per_class()
    listed = 0
    getmembers = inspect.getmembers

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal listed
        listed += 1
        return getmembers(*args, **kwargs)

    monkeypatch.setattr(inspect, "getmembers", counted)
    with mock_aws():
        sqs = boto3.client("sqs", region_name="eu-west-1")
        for n in range(3):
            sqs.create_queue(QueueName=f"q{n}")
        assert len(sqs.list_queues()["QueueUrls"]) == 3
    assert listed <= 1


def test_response_members_are_found_by_names_worked_out_once_and_read_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from moto.core import serialize

    from local_stack.moto_patches import attribute_keys_once_per_shape

    attribute_keys_once_per_shape()
    item = {
        "pk": {"S": "SKU#MUG"},
        "sk": {"S": "LEVEL"},
        "on_hand": {"N": "12"},
        "price": {"N": "9.95"},
        "blob": {"B": b"\x00\x01"},
        "ok": {"BOOL": True},
        "gone": {"NULL": True},
        "tags": {"SS": ["a", "b"]},
        "sizes": {"NS": ["1", "2"]},
        "lines": {"L": [{"M": {"sku": {"S": "MUG"}, "qty": {"N": "2"}}}]},
    }
    asked = 0
    has_alias = serialize.NoAlias.has_alias

    def counted(self: Any, key: str) -> bool:
        nonlocal asked
        asked += 1
        return has_alias(self, key)

    monkeypatch.setattr(serialize.NoAlias, "has_alias", counted)
    with mock_aws():
        db = boto3.client("dynamodb", region_name="eu-west-1")
        _pk_sk_table(db, "t")
        db.put_item(TableName="t", Item=item)
        key = {"pk": item["pk"], "sk": item["sk"]}

        def reads() -> list[dict[str, Any]]:
            return [
                db.get_item(TableName="t", Key=key)["Item"],
                db.batch_get_item(RequestItems={"t": {"Keys": [key]}})["Responses"]["t"][0],
                db.query(
                    TableName="t",
                    KeyConditionExpression="pk = :pk",
                    ExpressionAttributeValues={":pk": item["pk"]},
                )["Items"][0],
            ]

        first = reads()
        asked_once = asked
        again = reads()
    sets = ("tags", "sizes")
    for got in first + again:
        assert {k: v for k, v in got.items() if k not in sets} == {
            k: v for k, v in item.items() if k not in sets
        }
        assert sorted(got["tags"]["SS"]) == ["a", "b"]
        assert sorted(got["sizes"]["NS"]) == ["1", "2"]
    assert asked_once > 0
    assert asked == asked_once  # the same reads again: no candidate name worked out again
