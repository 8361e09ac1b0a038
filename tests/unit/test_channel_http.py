"""The one HTTP call every adapter makes: what a failure to send means, and Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from shared.channels.errors import PermanentError, RetryableError
from shared.channels.http import request, retry_after_s


def test_retry_after_is_read_as_seconds_or_as_an_http_date() -> None:
    now = datetime(2026, 12, 5, 12, 0, 0, tzinfo=UTC)
    assert retry_after_s("7", now) == 7.0
    assert retry_after_s("1.5", now) == 1.5
    assert retry_after_s("Sat, 05 Dec 2026 12:00:30 GMT", now) == 30.0
    assert retry_after_s("Sat, 05 Dec 2026 11:00:00 GMT", now) == 0.0  # already past
    assert retry_after_s("-3", now) == 0.0
    for unreadable in (None, "", "  ", "soon"):
        assert retry_after_s(unreadable, now) is None


def test_a_call_never_answered_is_retryable_and_one_that_cannot_be_sent_is_permanent() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    refusing = httpx.Client(transport=httpx.MockTransport(refuse))
    with pytest.raises(RetryableError, match="token: ConnectError: refused") as retry:
        request(refusing, "GET", "https://api.example/x", channel="bol", what="token")
    assert retry.value.channel == "bol"
    answering = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(503)))
    assert request(answering, "GET", "https://api.example/x", channel="bol").status_code == 503
    # #19.4: an id no URL can carry was InvalidURL, neither permanent nor retryable: it was
    # retried five times and dead-lettered without a reason
    with pytest.raises(PermanentError, match="cannot be sent"):
        request(answering, "GET", "https://api.example/orders/1\x00x", channel="bol")
