"""The one way a channel or carrier adapter sends an HTTP request and reads what a failure means.

Every adapter used to catch `httpx.TransportError` itself (11 sites in 8 files) and parse
`Retry-After` its own way (three parsers). Here once: a transport failure (timeout, refused
connection, reset) is retryable; a request that cannot be sent at all (a URL with control
characters, an id 100,000 characters long) is permanent, never retried until it lands in a DLQ
without a reason; `Retry-After` is read as seconds or as an HTTP date. What the answer's status
means stays `errors.classify_status`; the error's detail is the adapter's (each vendor words its
bodies differently)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from shared.channels.errors import PermanentError, RetryableError


def request(
    http: httpx.Client, method: str, url: str, *, channel: str, what: str = "", **kwargs: Any
) -> httpx.Response:
    """One call; the answer whatever its status. `what` prefixes a failure's message."""
    prefix = f"{what}: " if what else ""
    try:
        return http.request(method, url, **kwargs)
    except httpx.TransportError as exc:  # timeouts, refused connections, resets
        raise RetryableError(f"{prefix}{type(exc).__name__}: {exc}", channel=channel) from exc
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise PermanentError(f"{prefix}cannot be sent: {exc}", channel=channel) from exc


def retry_after_s(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds to wait: delta-seconds or an HTTP date (RFC 9110); None when
    absent or unreadable."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
