"""Queue deliveries: a channel that sends its notifications to an SQS queue in the merchant's
account (Amazon SP-API) instead of calling a webhook. One handler for every such channel; its
channel is the one the queue is named for (`<prefix>-notifications-<channel>`, from the record's
source ARN: the local stack runs every function in one process, so no process-wide variable can
say it), its rules are the channel's QueueReceiver.

Nothing is signed: the queue's resource policy (only the channel's documented principal may
send) is the trust. Each message becomes the same `InboundDelivery` envelope the webhook writes,
on the same ingest queue, so parsing, fetching a named order, the one upsert and held
deliveries are ingest's as for every channel. Deduped on the channel's business key in the body
(SQS delivers at least once; the channel may send twice), in the same deliveries table, with the
webhook's order: enqueue first, then mark seen, so a failure between them repeats, never loses.

Imports stay light (stdlib, botocore, Logger), like the webhook's.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from shared.aws import client
from shared.channels.registry import BY_NAME
from shared.channels.spec import FromBody, QueueReceiver
from shared.inbound_outbox import enqueue_then_mark_seen
from shared.names import notification_queue

logger = Logger(service="keel-queue-delivery")

SEEN_TTL_S = 7 * 24 * 3600  # longer than the queue's retention (4 days) and any redrive
MAX_DELIVERY_ID_CHARS = 256


@cache
def _env() -> dict[str, str]:
    return {
        "deliveries_table": os.environ["DELIVERIES_TABLE"],
        "ingest_queue_url": os.environ["INGEST_QUEUE_URL"],
        "raw_bodies_bucket": os.environ["RAW_BODIES_BUCKET"],
    }


def channel_of(source_arn: str) -> str:
    """`arn:aws:sqs:<region>:<account>:<prefix>-notifications-<channel>` -> the channel."""
    queue_name = source_arn.rpartition(":")[2]
    marker = notification_queue("")
    if marker not in queue_name:
        raise RuntimeError(f"not a notification queue: {queue_name!r}")
    return queue_name.rpartition(marker)[2]


def _receiver(channel: str) -> QueueReceiver:
    spec = BY_NAME.get(channel)
    if spec is None or spec.queue_receiver is None:
        raise RuntimeError(f"channel {channel!r} does not deliver to a queue")
    return spec.queue_receiver


def _from_body(source: FromBody, body: Any) -> str:
    value = body
    try:
        for key in source.path:
            value = value[key]
    except (KeyError, TypeError, IndexError):
        return ""
    return "" if value is None or isinstance(value, (dict, list)) else str(value)


def delivery_key(receiver: QueueReceiver, raw: bytes) -> tuple[str, str]:
    """(delivery id, topic) of a message. A body without the business key (not JSON, or not
    the channel's envelope) is named by its digest: it still reaches ingest, which holds it
    with the reason, instead of vanishing here."""
    try:
        body: Any = json.loads(raw)
    except (ValueError, RecursionError):  # nested too deep is unreadable too: ingest holds it
        body = None
    delivery_id = _from_body(receiver.delivery_id, body).strip()
    if not delivery_id:
        delivery_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    elif len(delivery_id) > MAX_DELIVERY_ID_CHARS:
        delivery_id = "sha256:" + hashlib.sha256(delivery_id.encode()).hexdigest()
    return delivery_id, _from_body(receiver.topic, body)[:200]


def _deliver(channel: str, record: dict[str, Any]) -> str:
    env = _env()
    text: str = record["body"]
    raw = text.encode("utf-8")  # SQS bodies are Unicode text: encoded back, byte for byte
    delivery_id, topic = delivery_key(_receiver(channel), raw)
    seen_key = {"pk": {"S": f"{channel}#{delivery_id}"}}
    db = client("dynamodb")
    if "Item" in db.get_item(TableName=env["deliveries_table"], Key=seen_key):
        logger.info("duplicate delivery acknowledged", extra={"delivery_id": delivery_id})
        return "duplicate"
    enqueue_then_mark_seen(
        channel=channel,
        delivery_id=delivery_id,
        topic=topic,
        headers={},
        raw=raw,
        text=text,
        encoding="utf-8",
        received_at=datetime.now(UTC),
        seen_key=seen_key,
        seen_ttl_s=SEEN_TTL_S,
        env=env,
    )
    logger.info("delivery enqueued", extra={"delivery_id": delivery_id, "topic": topic})
    return "enqueued"


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Partial batch response: a message that failed (throttled table, ingest queue) comes back
    alone; the others are not repeated."""
    failures = []
    for record in event.get("Records", []):
        try:
            channel = channel_of(record["eventSourceARN"])
            logger.thread_safe_append_keys(channel=channel)
            _deliver(channel, record)
        except Exception:
            logger.exception("delivery not enqueued", extra={"message_id": record["messageId"]})
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
