"""JSON secrets from Secrets Manager, cached per container for a maximum age.

Every function's channel and carrier secrets. Powertools' `parameters.get_secret(name,
transform="json", max_age=..., force_fetch=...)` does the same but imports boto3 and s3transfer
(and every parameter provider) into each cold start for this one call. Same contract: the
parsed JSON, read again once older than `max_age_s` or when asked `fresh`; errors propagate
(the invocation fails and its trigger retries).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from shared.aws import client

_CACHE: dict[str, tuple[float, Any]] = {}  # secret name -> (when read, value)


def get_json(
    name: str, max_age_s: float, fresh: bool = False, aws: Callable[[str], Any] = client
) -> Any:
    """`fresh`: read it now whatever its age (the channel refused the cached credentials);
    `aws`: where clients come from (the operator's session, for `keel`)."""
    now = time.monotonic()
    cached = _CACHE.get(name)
    if cached is not None and now - cached[0] < max_age_s and not fresh:
        return cached[1]
    value = json.loads(aws("secretsmanager").get_secret_value(SecretId=name)["SecretString"])
    _CACHE[name] = (now, value)
    return value


def clear() -> None:
    """Forget every cached secret (a rotated secret in a test, a new local stack)."""
    _CACHE.clear()
