"""Webhook ack path. Imports stay light (stdlib, boto3, Logger, Parameters): Shopify allows 5 s
and the cold start counts. Parsing and validation happen in ingest, not here.

Order matters: enqueue first, then mark the delivery seen. A delivery marked seen but never
enqueued would be lost when the channel retried it.
"""

from __future__ import annotations

import base64
import json
import os
import time
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities import parameters

from shared.aws import client
from shared.channels.webhooks import RECEIVERS, WebhookReceiver

logger = Logger(service="keel-webhook")

INLINE_LIMIT_BYTES = 200 * 1024  # larger envelopes leave the body in S3 (SQS takes 1 MiB)
SEEN_TTL_S = 7 * 24 * 3600  # longer than any channel's retry window (Shopify: ~4 h)


@cache
def _env() -> dict[str, str]:
    """Read once per cold start; a missing variable fails loudly (KeyError) at the first call."""
    return {
        "deliveries_table": os.environ["DELIVERIES_TABLE"],
        "ingest_queue_url": os.environ["INGEST_QUEUE_URL"],
        "raw_bodies_bucket": os.environ["RAW_BODIES_BUCKET"],
        "secret_cache_seconds": os.environ.get("SECRET_CACHE_SECONDS", "300"),
    }


def _signing_secret(receiver: WebhookReceiver) -> str:
    secret = parameters.get_secret(
        os.environ[receiver.secret_env],
        transform="json",
        max_age=int(_env()["secret_cache_seconds"]),
    )
    value = secret.get(receiver.secret_field) if isinstance(secret, dict) else None
    if not value:
        # An unfilled secret must not turn into "every delivery has a bad signature": fail
        # loudly (5xx, alarm) so the channel retries once the operator has filled it.
        raise RuntimeError(f"secret for {receiver.channel} has no {receiver.secret_field!r}")
    return str(value)


def _respond(status: int, message: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"message": message}),
    }


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    channel = (event.get("pathParameters") or {}).get("channel", "")
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()

    receiver = RECEIVERS.get(channel)
    if receiver is None:
        return _respond(404, f"no webhook receiver for channel {channel!r}")
    if not receiver.verify(_signing_secret(receiver), raw, headers.get(receiver.signature_header)):
        logger.warning("rejected webhook: bad signature", extra={"channel": channel})
        return _respond(401, "invalid signature")
    delivery_id = headers.get(receiver.delivery_id_header, "").strip()
    if not delivery_id:
        return _respond(400, f"missing {receiver.delivery_id_header}")
    logger.append_keys(channel=channel, delivery_id=delivery_id)

    env = _env()
    seen_key = {"pk": {"S": f"{channel}#{delivery_id}"}}
    db = client("dynamodb")
    if "Item" in db.get_item(TableName=env["deliveries_table"], Key=seen_key):
        logger.info("duplicate delivery acknowledged")
        return _respond(200, "duplicate delivery")

    try:
        text, encoding = raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        # Signed by the channel, so not an attacker's: latin-1 round-trips any bytes, and ingest
        # keeps such a body as a held delivery.
        text, encoding = raw.decode("latin-1"), "latin-1"
    received_at = datetime.now(UTC)
    envelope: dict[str, Any] = {
        "channel": channel,
        "delivery_id": delivery_id,
        "topic": headers.get(receiver.topic_header, ""),
        "received_at": received_at.isoformat(),
        "headers": {h: headers[h] for h in receiver.kept_headers if h in headers},
        "body": text,
        "body_encoding": encoding,
    }
    message = json.dumps(envelope, ensure_ascii=False)
    if len(message.encode()) > INLINE_LIMIT_BYTES:
        # Too large to travel inline: the exact bytes go to S3, the message carries the key.
        key = f"{channel}/{received_at:%Y/%m/%d}/{delivery_id}"
        client("s3").put_object(Bucket=env["raw_bodies_bucket"], Key=key, Body=raw)
        envelope.update(body="", body_encoding="utf-8", body_ref=key)
        message = json.dumps(envelope, ensure_ascii=False)
    client("sqs").send_message(
        QueueUrl=env["ingest_queue_url"],
        MessageBody=message,
        MessageAttributes={"channel": {"DataType": "String", "StringValue": channel}},
    )
    db.put_item(
        TableName=env["deliveries_table"],
        Item={**seen_key, "expires_at": {"N": str(int(time.time()) + SEEN_TTL_S)}},
    )
    logger.info("delivery enqueued", extra={"topic": envelope["topic"], "bytes": len(raw)})
    return _respond(200, "accepted")
