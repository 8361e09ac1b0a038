"""The local stack's mend of moto: a cancelled transaction leaves the stream as DynamoDB would."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_stack.moto_patches import keep_stream_shards_across_rollbacks


@pytest.fixture
def streamed_table() -> Iterator[tuple[Any, Any, str]]:
    keep_stream_shards_across_rollbacks()
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
