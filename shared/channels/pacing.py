"""Pacing: how an adapter keeps inside a channel's rate limits, and the one rule for a wait.

Channels say how much budget is left three ways, each modelled here once:
- a token bucket Keel keeps itself from the channel's published usage plan (Amazon SP-API:
  `TokenBucket`);
- budget headers on every answer (bol.com's `X-RateLimit-Limit/Remaining/Reset`:
  `HeaderBudget`);
- a cost bucket reported in the answer's body (Shopify GraphQL `throttleStatus`:
  `cost_wait_s`).

Whatever the model, the wait it asks for goes through `pace`: a wait of at most
`IN_PROCESS_WAIT_S` is slept in the invocation (cheaper than a round trip through the queue);
a longer one raises `BudgetSpent` (retryable, carrying the wait as Retry-After) without calling
the channel, so the record goes back to its queue and comes back when the budget has refilled.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.channels.errors import RetryableError

IN_PROCESS_WAIT_S = 10.0  # longer waits are the queue's: the invocation does not sleep them


class BudgetSpent(RetryableError):
    """Keel's own view of the channel's budget says the next call must wait longer than an
    invocation sleeps: nothing was sent."""


def pace(
    wait_s: float,
    sleep: Callable[[float], None],
    *,
    channel: str,
    what: str,
    polite_s: float = 0.0,
) -> None:
    """Sleep a short wait; raise BudgetSpent for a long one (the queue's retry waits it).
    `polite_s`: a wait the channel would rather see (keeping a reserve in its bucket): slept
    up to the bound, never a reason to defer."""
    if wait_s > IN_PROCESS_WAIT_S:
        raise BudgetSpent(
            f"{what}: the rate budget is spent for {wait_s:.0f} s",
            channel=channel,
            retry_after_s=wait_s,
        )
    total = max(wait_s, min(polite_s, IN_PROCESS_WAIT_S))
    if total > 0:
        sleep(total)


@dataclass(frozen=True)
class Rate:
    """A usage plan: requests per second, and the burst the bucket holds."""

    per_second: float
    burst: int


class TokenBucket:
    """`burst` tokens, refilled at `per_second`. Per process (a Lambda environment); the
    channel's own bucket is per seller and app, so its 429 can still come."""

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._tokens = float(rate.burst)
        self._at = clock()
        self._lock = threading.Lock()

    def take(self) -> float:
        """Take a token: 0.0 when one was there, else the seconds until one is (not taken)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(
                float(self.rate.burst), self._tokens + (now - self._at) * self.rate.per_second
            )
            self._at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / self.rate.per_second


@dataclass
class RateLimit:
    limit: int
    remaining: int
    reset_at: float  # monotonic time the window resets


class HeaderBudget:
    """What the channel's budget headers last said, per bucket (an endpoint): shared by the
    adapters of a warm container, so the next batch waits instead of earning a 429."""

    def __init__(self) -> None:
        self.limits: dict[str, RateLimit] = {}

    def wait_s(self, bucket: str, now: float) -> float:
        """Seconds from `now` (monotonic) until `bucket` has budget again (0.0: it has, or
        nothing is known)."""
        known = self.limits.get(bucket)
        if known is None or known.remaining > 0:
            return 0.0
        return max(0.0, known.reset_at - now)

    def remember(self, bucket: str, headers: Mapping[str, str], now: float) -> None:
        """`X-RateLimit-Limit`, `-Remaining`, `-Reset` (seconds, or an epoch time)."""
        try:
            limit, remaining = (
                int(headers["x-ratelimit-limit"]),
                int(headers["x-ratelimit-remaining"]),
            )
            reset = float(headers.get("x-ratelimit-reset", "1"))
        except (KeyError, ValueError):
            return
        seconds = reset - time.time() if reset > 1_000_000_000 else reset
        self.limits[bucket] = RateLimit(limit, remaining, now + max(0.0, seconds))


def cost_waits(cost: Mapping[str, Any], low_water_fraction: float) -> tuple[float, float]:
    """A cost bucket (`{"requestedQueryCost", "throttleStatus": {"maximumAvailable",
    "currentlyAvailable", "restoreRate"}}`): (needed, polite) seconds until it holds the last
    call's cost again (what the next call of its kind needs), and until it also holds
    `low_water_fraction` of its size (the reserve the channel would rather keep)."""
    status = cost.get("throttleStatus") or {}
    try:
        maximum = float(status["maximumAvailable"])
        available = float(status["currentlyAvailable"])
        rate = float(status["restoreRate"])
        requested = float(cost.get("requestedQueryCost") or 0)
    except (KeyError, TypeError, ValueError):
        return 0.0, 0.0
    if rate <= 0:
        return 0.0, 0.0
    floor = max(maximum * low_water_fraction, requested)
    return max(0.0, requested - available) / rate, max(0.0, floor - available) / rate
