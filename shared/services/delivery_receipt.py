"""Delivery receipt: how a verified delivery enters Keel, whichever door it came through (a
channel's webhook, a channel's notification queue). Named by its delivery id, a repeat is
acknowledged and dropped; a new one is enqueued for ingest (the body inline, or in S3 when too
large) and only then marked seen: a delivery marked seen but never enqueued would be lost when
the channel retried it.

Stdlib and botocore only: the webhook's cold start counts (Shopify allows 5 s).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.aws import client
from shared.channels.spec import QueueReceiver

INLINE_LIMIT_BYTES = 200 * 1024  # larger envelopes leave the body in S3 (SQS takes 1 MiB)
SEEN_TTL_S = 7 * 24 * 3600  # longer than any channel's retry window and the queues' retention
MAX_DELIVERY_ID_CHARS = 256  # longer ids are hashed: DynamoDB keys and S3 keys stay bounded


@dataclass(frozen=True)
class Door:
    """Where received deliveries go: read from the function's variables by its handler."""

    deliveries_table: str
    ingest_queue_url: str
    raw_bodies_bucket: str
    secret_cache_s: int = 300

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Door:
        """A missing variable fails loudly (KeyError) at the first delivery."""
        return cls(
            env["DELIVERIES_TABLE"],
            env["INGEST_QUEUE_URL"],
            env["RAW_BODIES_BUCKET"],
            int(env.get("SECRET_CACHE_SECONDS", "300")),
        )


@dataclass(frozen=True)
class Delivery:
    channel: str
    delivery_id: str
    topic: str
    raw: bytes
    text: str  # `raw` decoded with `encoding`
    encoding: str
    received_at: datetime
    headers: Mapping[str, str]


def receive(door: Door, delivery: Delivery) -> bool:
    """False: a repeat of a delivery already received (acknowledged, nothing enqueued)."""
    seen_key = {"pk": {"S": f"{delivery.channel}#{delivery.delivery_id}"}}
    if "Item" in client("dynamodb").get_item(TableName=door.deliveries_table, Key=seen_key):
        return False
    _enqueue(door, delivery)
    client("dynamodb").put_item(
        TableName=door.deliveries_table,
        Item={**seen_key, "expires_at": {"N": str(int(time.time()) + SEEN_TTL_S)}},
    )
    return True


def _enqueue(door: Door, delivery: Delivery) -> None:
    envelope: dict[str, Any] = {
        "channel": delivery.channel,
        "delivery_id": delivery.delivery_id,
        "topic": delivery.topic,
        "received_at": delivery.received_at.isoformat(),
        "headers": dict(delivery.headers),
        "body": delivery.text,
        "body_encoding": delivery.encoding,
    }
    # ASCII-only JSON: SQS refuses some characters a channel may sign (U+FFFE, U+FFFF, lone
    # surrogates); escaped, every body travels, and ingest gets the exact text back.
    message = json.dumps(envelope)
    if len(message) > INLINE_LIMIT_BYTES:
        # Too large to travel inline: the exact bytes go to S3, the message carries the key.
        digest = hashlib.sha256(delivery.delivery_id.encode()).hexdigest()
        key = f"{delivery.channel}/{delivery.received_at:%Y/%m/%d}/{digest}"
        client("s3").put_object(Bucket=door.raw_bodies_bucket, Key=key, Body=delivery.raw)
        envelope.update(body="", body_encoding="utf-8", body_ref=key)
        message = json.dumps(envelope)
    client("sqs").send_message(
        QueueUrl=door.ingest_queue_url,
        MessageBody=message,
        MessageAttributes={"channel": {"DataType": "String", "StringValue": delivery.channel}},
    )


def bounded_id(value: str) -> str:
    """A delivery id as keys can hold it: a long one by its digest."""
    if len(value) > MAX_DELIVERY_ID_CHARS:
        return "sha256:" + hashlib.sha256(value.encode()).hexdigest()
    return value


def from_body(path: tuple[str, ...], body: Any) -> str:
    """The value at `path` in a parsed JSON body; "" when it is missing or not a scalar."""
    value = body
    try:
        for key in path:
            value = value[key]
    except (KeyError, TypeError, IndexError):
        return ""
    return "" if value is None or isinstance(value, (dict, list)) else str(value)


def queue_delivery(
    channel: str, receiver: QueueReceiver, text: str, received_at: datetime
) -> Delivery:
    """A channel's queue message as a delivery. A body without the business key (not JSON, or
    not the channel's envelope) is named by its digest: it still reaches ingest, which holds it
    with the reason, instead of vanishing here."""
    raw = text.encode("utf-8")  # SQS bodies are Unicode text: encoded back, byte for byte
    try:
        body: Any = json.loads(raw)
    except (ValueError, RecursionError):  # nested too deep is unreadable too: ingest holds it
        body = None
    delivery_id = from_body(receiver.delivery_id.path, body).strip()
    if not delivery_id:
        delivery_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    topic = from_body(receiver.topic.path, body)[:200]
    return Delivery(channel, bounded_id(delivery_id), topic, raw, text, "utf-8", received_at, {})
