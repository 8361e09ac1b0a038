"""Retrying a read that failed for a reason that passes (429, 5xx, a timeout) within one run:
a poll that gave up on the first 503 would leave its whole window to the next schedule."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from shared.channels.errors import RetryableError

T = TypeVar("T")


def with_retries(
    call: Callable[[], T],
    *,
    attempts: int = 4,
    base_s: float = 0.5,
    max_wait_s: float = 20.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`call()`, again after a RetryableError: exponential backoff with full jitter, never
    sooner than the channel's Retry-After, never longer than `max_wait_s` per wait. The last
    error is raised (the caller's run fails and its schedule tries again)."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except RetryableError as exc:
            if attempt == attempts:
                raise
            backoff = random.uniform(0, base_s * 2**attempt)
            sleep(min(max_wait_s, max(backoff, exc.retry_after_s or 0.0)))
    raise AssertionError("unreachable")  # pragma: no cover
