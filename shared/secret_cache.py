"""JSON secrets from Secrets Manager, cached per container for a maximum age.

For the webhook's path (Shopify times its answer, cold start included): Powertools'
`parameters.get_secret(name, transform="json", max_age=...)` does the same but imports boto3
and s3transfer for this one call. Same contract: the parsed JSON, read again once older than
`max_age_s`; errors propagate (the caller answers 5xx and the channel retries).
"""

from __future__ import annotations

import json
import time
from typing import Any

from shared.aws import client

_CACHE: dict[str, tuple[float, Any]] = {}  # secret name -> (when read, value)


def get_json(name: str, max_age_s: float) -> Any:
    now = time.monotonic()
    cached = _CACHE.get(name)
    if cached is not None and now - cached[0] < max_age_s:
        return cached[1]
    value = json.loads(client("secretsmanager").get_secret_value(SecretId=name)["SecretString"])
    _CACHE[name] = (now, value)
    return value


def clear() -> None:
    """Forget every cached secret (a rotated secret in a test, a new local stack)."""
    _CACHE.clear()
