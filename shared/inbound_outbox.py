"""How a verified delivery enters Keel, whichever door it came through (a webhook, a channel's
notification queue): enqueue it for ingest (the body inline, or in S3 when too large), and only
then mark it seen. A delivery marked seen but never enqueued would be lost when the channel
retried it. Stdlib and botocore only: the webhook's cold start counts."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime
from typing import Any

from shared.aws import client

INLINE_LIMIT_BYTES = 200 * 1024  # larger envelopes leave the body in S3 (SQS takes 1 MiB)


def enqueue_then_mark_seen(
    *,
    channel: str,
    delivery_id: str,
    topic: str,
    headers: dict[str, str],
    raw: bytes,
    text: str,
    encoding: str,
    received_at: datetime,
    seen_key: dict[str, Any],
    seen_ttl_s: int,
    env: dict[str, str],
) -> None:
    """`env`: deliveries_table, ingest_queue_url, raw_bodies_bucket."""
    envelope: dict[str, Any] = {
        "channel": channel,
        "delivery_id": delivery_id,
        "topic": topic,
        "received_at": received_at.isoformat(),
        "headers": headers,
        "body": text,
        "body_encoding": encoding,
    }
    # ASCII-only JSON: SQS refuses some characters a channel may sign (U+FFFE, U+FFFF, lone
    # surrogates); escaped, every body travels, and ingest gets the exact text back.
    message = json.dumps(envelope)
    if len(message) > INLINE_LIMIT_BYTES:
        # Too large to travel inline: the exact bytes go to S3, the message carries the key.
        digest = hashlib.sha256(delivery_id.encode()).hexdigest()
        key = f"{channel}/{received_at:%Y/%m/%d}/{digest}"
        client("s3").put_object(Bucket=env["raw_bodies_bucket"], Key=key, Body=raw)
        envelope.update(body="", body_encoding="utf-8", body_ref=key)
        message = json.dumps(envelope)
    client("sqs").send_message(
        QueueUrl=env["ingest_queue_url"],
        MessageBody=message,
        MessageAttributes={"channel": {"DataType": "String", "StringValue": channel}},
    )
    client("dynamodb").put_item(
        TableName=env["deliveries_table"],
        Item={**seen_key, "expires_at": {"N": str(int(time.time()) + seen_ttl_s)}},
    )
