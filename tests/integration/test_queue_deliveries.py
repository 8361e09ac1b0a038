"""Queue deliveries (a channel that sends notifications to an SQS queue, not a webhook): the
consumer dedupes on the business key in the body and hands each message to ingest as the
webhook's envelope. A fake queue-delivering channel stands in (the mechanism is generic)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

import functions.queue_delivery.handler as queue_delivery
from local_stack.resources import Provisioned
from shared.channels import registry
from shared.channels.spec import FromBody, QueueReceiver
from shared.messages import InboundDelivery
from tests.integration.conftest import context, drain
from tests.integration.conftest import sqs_event as any_queue_event

RECEIVER = QueueReceiver(
    senders=("437568002678",),
    delivery_id=FromBody(("NotificationMetadata", "NotificationId")),
    topic=FromBody(("NotificationType",)),
)


@pytest.fixture
def queued_channel(deployed: Provisioned, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    woo = registry.BY_NAME["woocommerce"]
    fake = dataclasses.replace(woo, name="queued", receiver=None, queue_receiver=RECEIVER)
    monkeypatch.setitem(registry.BY_NAME, "queued", fake)
    queue_delivery._door.cache_clear()
    yield "queued"
    queue_delivery._door.cache_clear()


def sqs_event(*bodies: str) -> dict[str, Any]:
    """Records from the fake channel's notification queue (the source ARN names it)."""
    event = any_queue_event(*bodies)
    for record in event["Records"]:
        record["eventSourceARN"] = "arn:aws:sqs:eu-west-1:123456789012:it-notifications-queued"
    return event


def notification(notification_id: str, kind: str = "ORDER_CHANGE") -> str:
    return json.dumps(
        {
            "NotificationType": kind,
            "Payload": {"AmazonOrderId": "902-1"},
            "NotificationMetadata": {"NotificationId": notification_id},
        }
    )


def _ingest_messages(deployed: Provisioned) -> list[InboundDelivery]:
    sqs: Any = boto3.client("sqs")
    return [
        InboundDelivery.model_validate_json(m["Body"])
        for m in drain(sqs, deployed.queue_urls["ingest"])
    ]


def test_each_notification_reaches_ingest_once_as_a_delivery_with_its_body_untouched(
    deployed: Provisioned, queued_channel: str
) -> None:
    first, second = notification("n-1"), notification("n-2", "ANY_OFFER_CHANGED")
    result = queue_delivery.handler(sqs_event(first, second), context("notifications"))
    assert result == {"batchItemFailures": []}
    again = queue_delivery.handler(sqs_event(first), context("notifications"))  # redelivered
    assert again == {"batchItemFailures": []}
    delivered = _ingest_messages(deployed)
    assert [(d.channel, d.delivery_id, d.topic) for d in delivered] == [
        ("queued", "n-1", "ORDER_CHANGE"),
        ("queued", "n-2", "ANY_OFFER_CHANGED"),
    ]
    assert delivered[0].inline_body() == first.encode()


def test_a_body_without_the_business_key_still_reaches_ingest_named_by_its_digest(
    deployed: Provisioned, queued_channel: str
) -> None:
    """Ingest holds what it cannot read, with the reason: nothing vanishes in the consumer."""
    deep = '{"NotificationType": ' + "[" * 3000 + "]" * 3000 + "}"  # issue #19.4: DLQ'd bare
    result = queue_delivery.handler(sqs_event("not json", deep), context("notifications"))
    assert result == {"batchItemFailures": []}
    delivered = _ingest_messages(deployed)
    assert [d.body for d in delivered] == ["not json", deep]
    assert all(d.delivery_id.startswith("sha256:") for d in delivered)


def test_a_message_that_cannot_be_enqueued_comes_back_alone(
    deployed: Provisioned, queued_channel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INGEST_QUEUE_URL", deployed.queue_urls["ingest"] + "-missing")
    queue_delivery._door.cache_clear()
    result = queue_delivery.handler(sqs_event(notification("n-9")), context("notifications"))
    assert result == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    monkeypatch.setenv("INGEST_QUEUE_URL", deployed.queue_urls["ingest"])
    queue_delivery._door.cache_clear()
    # Not marked seen: the retry goes through.
    queue_delivery.handler(sqs_event(notification("n-9")), context("notifications"))
    assert [d.delivery_id for d in _ingest_messages(deployed)] == ["n-9"]


def test_the_channel_is_the_one_the_queue_is_named_for() -> None:
    arn = "arn:aws:sqs:eu-west-1:123456789012:keel-prod-notifications-amazon"
    assert queue_delivery.channel_of(arn) == "amazon"
    with pytest.raises(RuntimeError, match="not a notification queue"):
        queue_delivery.channel_of("arn:aws:sqs:eu-west-1:123456789012:keel-prod-ingest")
