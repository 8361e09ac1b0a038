"""Webhook ack path (`POST /webhooks/{channel}`): verify, dedupe, enqueue for ingest, answer.
What a delivery needs is decided in shared/services/webhook_receipt.py; parsing happens in
ingest. Imports stay light (stdlib, botocore, Logger; secrets through shared/secret_cache.py,
not the composition root or Powertools parameters): Shopify allows 5 s and the cold start
counts."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from shared.metrics import count
from shared.names import env_name_for_account_secrets, env_name_for_secret
from shared.secret_cache import get_json
from shared.services.delivery_receipt import Door
from shared.services.webhook_receipt import KeyCache, receive_webhook

logger = Logger(service="keel-webhook")


@cache
def _door() -> Door:
    return Door.from_env(os.environ)


@cache
def _keys() -> KeyCache:
    """The keys channels sign with, kept while the container is warm."""
    return KeyCache()


def _secrets(channel: str) -> list[dict[str, Any]]:
    """Each account's secret, the first account's first."""
    more = os.environ.get(env_name_for_account_secrets(channel), "[]")
    found = []
    for secret_name in (os.environ[env_name_for_secret(channel)], *json.loads(more)):
        secret = get_json(secret_name, _door().secret_cache_s)
        found.append(secret if isinstance(secret, dict) else {})
    return found


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    channel = (event.get("pathParameters") or {}).get("channel", "")
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    logger.thread_safe_append_keys(channel=channel)
    keys = _keys()
    answer = receive_webhook(channel, headers, raw, _door(), _secrets, keys, datetime.now(UTC))
    for fetched, n in keys.fetched:
        logger.info("channel signing keys fetched", extra={"channel": fetched, "keys": n})
    keys.fetched.clear()
    getattr(logger, answer.level)(answer.log, extra=answer.extra)
    if answer.metric:
        count(answer.metric, 1, "keel-webhook", channel=channel)
    return {
        "statusCode": answer.status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"message": answer.message}),
    }
