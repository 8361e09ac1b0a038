"""Raw channel bodies (customers' names, addresses, e-mails) are kept for the environment's
retention, not without end: the configured days reach the held delivery's TTL attribute."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from functions.ingest.handler import handler as ingest
from functions.webhook.handler import handler as webhook
from infra.config import CONFIGS
from local_stack.resources import LOCAL_RAW_BODY_RETENTION_DAYS, Provisioned
from shared.runtime import Runtime
from shared.runtime import reset as reset_runtime
from shared.settings import IngestSettings
from shared.wiring import RAW_BODY_RETENTION_ENV, WIRING
from tests.integration.conftest import context, drain, sqs_event
from tests.integration.test_handlers import api_event, shopify

GARBLED = b'{"id": 77, "email": "held@example.com", "line_items": "not a list"}'


@pytest.fixture
def prod_retention(deployed: Provisioned, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """Ingest told the prod retention, as infra.compute tells it (tests/infra checks that)."""
    days = CONFIGS["prod"].raw_body_retention_days
    assert days != LOCAL_RAW_BODY_RETENTION_DAYS  # else this test could not tell them apart
    monkeypatch.setenv(RAW_BODY_RETENTION_ENV, str(days))
    reset_runtime()
    yield days
    reset_runtime()


def test_the_settings_field_is_the_variable_the_stack_sets(
    monkeypatch: pytest.MonkeyPatch, deployed: Provisioned
) -> None:
    monkeypatch.setenv(RAW_BODY_RETENTION_ENV, "21")
    assert Runtime().settings(IngestSettings).raw_body_retention_days == 21


def test_a_held_delivery_expires_its_retention_after_receipt(
    deployed: Provisioned, sqs: Any, db: Any, prod_retention: int
) -> None:
    body = GARBLED
    assert webhook(api_event(body, shopify.headers(body)), context("webhook"))["statusCode"] == 200
    (message,) = drain(sqs, deployed.queue_urls["ingest"])
    received_at = datetime.fromisoformat(json.loads(message["Body"])["received_at"])
    assert ingest(sqs_event(message["Body"]), context("ingest")) == {"batchItemFailures": []}

    (item,) = db.scan(TableName=deployed.tables["orders"])["Items"]
    assert item["sk"] == {"S": "HELD_DELIVERY"}
    expected = int((received_at + timedelta(days=prod_retention)).timestamp())
    assert item["expires_at"] == {"N": str(expected)}  # a Number: DynamoDB's TTL ignores others
    assert "held@example.com" not in item["reason"]["S"]  # the body keeps it; the reason not


def test_the_local_stack_declares_the_ttls_and_the_expiry_as_aws_does(
    deployed: Provisioned, db: Any
) -> None:
    for table in WIRING.tables:
        ttl = db.describe_time_to_live(TableName=deployed.tables[table.name])
        description = ttl["TimeToLiveDescription"]
        if table.ttl_attribute:
            assert description == {
                "TimeToLiveStatus": "ENABLED",
                "AttributeName": table.ttl_attribute,
            }, table.name
        else:
            assert description["TimeToLiveStatus"] == "DISABLED", table.name
    import boto3

    s3 = boto3.client("s3")
    for bucket in WIRING.buckets:
        assert bucket.holds_raw_bodies
        (rule,) = s3.get_bucket_lifecycle_configuration(Bucket=deployed.buckets[bucket.name])[
            "Rules"
        ]
        assert rule["Status"] == "Enabled"
        assert rule["Expiration"] == {"Days": LOCAL_RAW_BODY_RETENTION_DAYS}
