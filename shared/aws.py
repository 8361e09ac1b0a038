"""boto3 clients, created once per process and reused across invocations (warm starts)."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3


@cache
def client(service: str) -> Any:
    """boto3 honours AWS_ENDPOINT_URL, which is how the local stack points functions at moto."""
    return boto3.client(service)


def reset_clients() -> None:
    """Tests start and stop moto; clients made before a mock started would miss it."""
    client.cache_clear()
