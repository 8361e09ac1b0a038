"""Retrying a read that failed for a reason that passes (429, 5xx, a timeout) within one run:
a poll that gave up on the first 503 would leave its whole window to the next schedule."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from shared.channels.errors import RetryableError

T = TypeVar("T")


def backoff_s(
    attempt: int, base_s: float, cap_s: float = float("inf"), floor_s: float = 0.0
) -> float:
    """Exponential backoff with full jitter: a wait drawn from [floor, min(cap, base x 2^attempt)].
    The one backoff every adapter draws from (with_retries, Amazon's throttling, bol.com's 429
    without a Retry-After), where each had its own."""
    ceiling = min(cap_s, base_s * 2**attempt)
    return random.uniform(min(floor_s, ceiling), ceiling)


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
            backoff = backoff_s(attempt, base_s)
            sleep(min(max_wait_s, max(backoff, exc.retry_after_s or 0.0)))
    raise AssertionError("unreachable")  # pragma: no cover
