"""Calls from the stack's own process reach moto without the loopback hop, with the same
answers (errors included) and still one at a time through the server's app."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from local_stack.moto_server import MotoServer


class CountingServer:
    """How many connections the HTTP side of the server accepted."""

    def __init__(self, server: MotoServer) -> None:
        self.accepted = 0
        http = server._server
        accept = http.process_request

        def counted(request: Any, address: Any) -> None:
            self.accepted += 1
            accept(request, address)

        http.process_request = counted  # type: ignore[method-assign,assignment]


@pytest.fixture
def server() -> Iterator[MotoServer]:
    moto = MotoServer()
    moto.start()
    try:
        yield moto
    finally:
        moto.stop()


def _client(server: MotoServer, service: str) -> Any:
    return botocore.session.get_session().create_client(
        service,
        endpoint_url=server.endpoint,
        region_name="eu-west-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def test_in_process_calls_skip_http_and_answer_as_moto_does(server: MotoServer) -> None:
    http = CountingServer(server)
    dynamodb = _client(server, "dynamodb")
    dynamodb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName="t", Item={"pk": {"S": "a"}, "n": {"N": "1.50"}})
    with pytest.raises(ClientError) as refused:
        dynamodb.put_item(
            TableName="t",
            Item={"pk": {"S": "a"}},
            ConditionExpression="attribute_not_exists(pk)",
        )
    assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert dynamodb.get_item(TableName="t", Key={"pk": {"S": "a"}})["Item"]["n"] == {"N": "1.50"}

    sqs = _client(server, "sqs")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    sqs.send_message(
        QueueUrl=url,
        MessageBody="ü body",
        MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}},
    )
    received = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    assert received[0]["Body"] == "ü body"
    assert received[0]["MessageAttributes"]["k"]["StringValue"] == "v"

    assert http.accepted == 0
    # Serialized and counted like an HTTP request.
    assert server.app.calls["DynamoDB_20120810.PutItem"] == 2
    assert server.app.calls["AmazonSQS.ReceiveMessage"] == 1


def test_other_processes_still_reach_the_same_app_over_http(server: MotoServer) -> None:
    http = CountingServer(server)
    _client(server, "sqs").create_queue(QueueName="shared")
    request = urllib.request.Request(
        server.endpoint,
        data=json.dumps({"QueueNamePrefix": "sh"}).encode(),
        headers={
            "X-Amz-Target": "AmazonSQS.ListQueues",
            "Content-Type": "application/x-amz-json-1.0",
            "Authorization": "AWS4-HMAC-SHA256 Credential=test/20261128/eu-west-1/sqs/aws4_request",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        urls = json.loads(answer.read())["QueueUrls"]
    assert [u.rsplit("/", 1)[-1] for u in urls] == ["shared"]
    assert http.accepted == 1


def test_a_stopped_server_is_not_answered_in_process() -> None:
    moto = MotoServer()
    moto.start()
    sqs = _client(moto, "sqs")
    sqs.create_queue(QueueName="q")
    moto.stop()
    with pytest.raises(EndpointConnectionError):
        sqs.list_queues()


def test_the_endpoint_by_the_name_moto_gives_it_is_served_in_process_too(
    server: MotoServer,
) -> None:
    """moto's Step Functions engine calls Lambda at localhost:<MOTO_PORT>."""
    http = CountingServer(server)
    port = server.endpoint.rsplit(":", 1)[1]
    sqs = botocore.session.get_session().create_client(
        "sqs",
        endpoint_url=f"http://localhost:{port}",
        region_name="eu-west-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    url = sqs.create_queue(QueueName="by-name")["QueueUrl"]
    assert url in sqs.list_queues()["QueueUrls"]
    assert http.accepted == 0
