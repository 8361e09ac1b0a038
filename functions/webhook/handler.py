"""Webhook ack path. Imports stay light (stdlib, botocore, Logger; secrets through
shared/secret_cache.py, not Powertools parameters, which imports boto3): Shopify allows 5 s and
the cold start counts. Parsing and validation happen in ingest, not here.

How a channel's deliveries are received (signature, delivery id, topic, account, ping) is that
channel's `WebhookReceiver` in the registry; this handler knows no channel by name. A channel
that signs with its own key pair (`ChannelKeys`) has its public keys fetched and cached here,
and a delivery is verified with the key it names before anything is stored.

Order matters: enqueue first, then mark the delivery seen. A delivery marked seen but never
enqueued would be lost when the channel retried it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from shared.aws import client
from shared.channels.registry import BY_NAME
from shared.channels.spec import (
    BodyDigest,
    ChannelKeys,
    FromBody,
    FromHeader,
    WebhookReceiver,
    load,
)
from shared.domain.accounts import normalize_account
from shared.inbound_outbox import enqueue_then_mark_seen
from shared.metrics import count
from shared.names import env_name_for_secret
from shared.secret_cache import get_json

logger = Logger(service="keel-webhook")

SEEN_TTL_S = 7 * 24 * 3600  # longer than any channel's retry window (Shopify: ~4 h)
MAX_DELIVERY_ID_CHARS = 256  # longer ids are hashed: DynamoDB keys and S3 keys stay bounded


@cache
def _env() -> dict[str, str]:
    """Read once per cold start; a missing variable fails loudly (KeyError) at the first call."""
    return {
        "deliveries_table": os.environ["DELIVERIES_TABLE"],
        "ingest_queue_url": os.environ["INGEST_QUEUE_URL"],
        "raw_bodies_bucket": os.environ["RAW_BODIES_BUCKET"],
        "secret_cache_seconds": os.environ.get("SECRET_CACHE_SECONDS", "300"),
    }


@cache
def _keys_cache() -> dict[str, tuple[float, dict[str, str]]]:
    """channel -> (when fetched, {key id: key}): the keys a channel signs with, per container
    (behind @cache so a local stack's cold start forgets them with the rest)."""
    return {}


# Unknown key ids that may each make a refetch within one refetch interval: a second rotation
# soon after the first is still picked up, while forged ids cannot hammer the key endpoint.
REFETCHES_PER_INTERVAL = 5


@cache
def _refetched_for() -> dict[str, dict[str, float]]:
    """channel -> {unknown key id: when it made a refetch}."""
    return {}


def _secret(channel: str) -> dict[str, Any]:
    secret = get_json(os.environ[env_name_for_secret(channel)], int(_env()["secret_cache_seconds"]))
    return secret if isinstance(secret, dict) else {}


def _fetch_keys(channel: str, keys: ChannelKeys) -> dict[str, str]:
    fetched = dict(load(keys.fetch)(_secret(channel)))
    _keys_cache()[channel] = (time.monotonic(), fetched)
    logger.info("channel signing keys fetched", extra={"channel": channel, "keys": len(fetched)})
    return fetched


def _channel_key(channel: str, keys: ChannelKeys, headers: dict[str, str]) -> str | None:
    """The key the delivery names: from the cache, else after one refetch; None if unknown."""
    key_id = keys.key_id(headers)
    if not key_id:
        return None
    now = time.monotonic()
    cached = _keys_cache().get(channel)
    fresh = cached is None or now - cached[0] > keys.max_age_s
    known = _fetch_keys(channel, keys) if fresh or cached is None else cached[1]
    if key_id not in known and not fresh:
        tried = _refetched_for().setdefault(channel, {})
        for old in [k for k, at in tried.items() if now - at >= keys.refetch_interval_s]:
            del tried[old]
        if key_id not in tried and len(tried) < REFETCHES_PER_INTERVAL:  # rotated: once per id
            tried[key_id] = now
            known = _fetch_keys(channel, keys)
    return known.get(key_id)


def _verified(channel: str, receiver: WebhookReceiver, raw: bytes, headers: dict[str, str]) -> bool:
    signing_secret = _secret_field(channel, receiver.secret_field)  # filled, or a loud 5xx
    if receiver.keys is None:
        return receiver.verify(signing_secret, raw, headers)
    key = _channel_key(channel, receiver.keys, headers)
    return key is not None and receiver.verify(key, raw, headers)


def _secret_field(channel: str, field: str) -> str:
    value = _secret(channel).get(field)
    if not value:
        # An unfilled secret must not turn into "every delivery has a bad signature": fail
        # loudly (5xx, alarm) so the channel retries once the operator has filled it.
        raise RuntimeError(f"secret for {channel} has no {field!r}")
    return str(value)


def _respond(status: int, message: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"message": message}),
    }


def _delivery_id(receiver: WebhookReceiver, headers: dict[str, str], raw: bytes) -> str:
    source = receiver.delivery_id
    if isinstance(source, BodyDigest):
        return "sha256:" + hashlib.sha256(raw).hexdigest()
    value = headers.get(source.header, "").strip()
    if len(value) > MAX_DELIVERY_ID_CHARS:
        return "sha256:" + hashlib.sha256(value.encode()).hexdigest()
    return value


def _topic(receiver: WebhookReceiver, headers: dict[str, str], raw: bytes) -> str:
    source = receiver.topic
    if isinstance(source, FromHeader):
        return headers.get(source.header, "")[:200]
    assert isinstance(source, FromBody)
    try:
        value: Any = json.loads(raw)
        for key in source.path:
            value = value[key]
    except (ValueError, KeyError, TypeError, IndexError, RecursionError):
        return ""  # ingest holds what it cannot read (nested too deep, too)
    return str(value)[:200]


def _same_account(configured: str, claimed: str | None) -> bool:
    return claimed is not None and normalize_account(configured) == normalize_account(claimed)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    channel = (event.get("pathParameters") or {}).get("channel", "")
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()

    spec = BY_NAME.get(channel)
    if spec is None or spec.receiver is None:
        return _respond(404, f"no webhook receiver for channel {channel!r}")
    receiver = spec.receiver
    if receiver.is_ping is not None and receiver.is_ping(headers, raw):
        logger.info("webhook ping acknowledged", extra={"channel": channel})
        return _respond(200, "pong")
    if not _verified(channel, receiver, raw, headers):
        logger.warning("rejected webhook: bad signature", extra={"channel": channel})
        return _respond(401, "invalid signature")
    if receiver.account_header:
        configured = _secret_field(channel, spec.account_field)
        claimed = headers.get(receiver.account_header)
        if not _same_account(configured, claimed):
            # Validly signed (same app, another shop): never reserve against this stock.
            logger.warning(
                "rejected webhook: delivery from another account",
                extra={"channel": channel, "account": (claimed or "")[:200]},
            )
            count("WebhooksFromOtherAccounts", 1, "keel-webhook", channel=channel)
            return _respond(403, "delivery from an account this endpoint does not serve")
    delivery_id = _delivery_id(receiver, headers, raw)
    if not delivery_id:
        return _respond(400, "missing delivery id")
    logger.thread_safe_append_keys(channel=channel, delivery_id=delivery_id)

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
    topic = _topic(receiver, headers, raw)
    enqueue_then_mark_seen(
        channel=channel,
        delivery_id=delivery_id,
        topic=topic,
        headers={h: headers[h][:1024] for h in receiver.kept_headers if h in headers},
        raw=raw,
        text=text,
        encoding=encoding,
        received_at=datetime.now(UTC),
        seen_key=seen_key,
        seen_ttl_s=SEEN_TTL_S,
        env=env,
    )
    logger.info("delivery enqueued", extra={"topic": topic, "bytes": len(raw)})
    return _respond(200, "accepted")
