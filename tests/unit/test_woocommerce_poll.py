"""The WooCommerce poll adapter against the sandbox (in-process): paging, the window, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs

import httpx
import pytest

from local_stack.http import Request
from local_stack.sandboxes.base import SandboxLine
from local_stack.sandboxes.woocommerce import WooCommerceSandbox
from shared.channels.errors import AuthError, RetryableError
from shared.channels.woocommerce.poll import WooOrdersPoll
from shared.channels.woocommerce.secret import WooSecret

BASE = "http://127.0.0.1:9"


def wired(sandbox: WooCommerceSandbox) -> httpx.Client:
    def forward(request: httpx.Request) -> httpx.Response:
        answer = sandbox(
            Request(
                request.method,
                request.url.path,
                parse_qs(request.url.query.decode()),
                dict(request.headers),
                request.content,
            )
        )
        return httpx.Response(answer.status, content=answer.body, headers=answer.headers)

    return httpx.Client(transport=httpx.MockTransport(forward))


def poller(sandbox: WooCommerceSandbox, waits: list[float] | None = None) -> WooOrdersPoll:
    secret = WooSecret.model_validate(sandbox.keel_secret(BASE))
    return WooOrdersPoll(secret, wired(sandbox), sleep=(waits if waits is not None else []).append)


def test_every_changed_order_is_found_across_pages_oldest_first() -> None:
    sandbox = WooCommerceSandbox()
    refs = sandbox.add_listing("MUG", "Mug", Decimal("5.00"), 500)
    line = SandboxLine(refs, "MUG", "Mug", 1, Decimal("5.00"))
    ids = [sandbox.place_order(sandbox.order_body([line]), notify=False) for _ in range(130)]
    found = list(poller(sandbox).fetch_orders(datetime.now(UTC) - timedelta(hours=1)))
    assert sorted(int(o.external_id) for o in found) == sorted(ids)  # 2 pages of 100
    stamps = [o.channel_updated_at for o in found]
    assert stamps == sorted(stamps)
    assert list(poller(sandbox).fetch_orders(datetime.now(UTC) + timedelta(minutes=1))) == []


@pytest.mark.parametrize(
    ("status", "error"), [(503, RetryableError), (429, RetryableError), (401, AuthError)]
)
def test_a_page_that_keeps_failing_raises_its_class(status: int, error: type[Exception]) -> None:
    sandbox = WooCommerceSandbox()
    sandbox.fail_next(10, status)
    waits: list[float] = []
    with pytest.raises(error):
        list(poller(sandbox, waits).fetch_orders(datetime.now(UTC) - timedelta(hours=1)))
    assert len(waits) == (3 if error is RetryableError else 0)  # auth is not retried


@pytest.mark.parametrize("status", [429, 503])
def test_a_page_that_fails_for_a_while_is_read_on_a_later_attempt(status: int) -> None:
    sandbox = WooCommerceSandbox()
    refs = sandbox.add_listing("MUG", "Mug", Decimal("5.00"), 500)
    line = SandboxLine(refs, "MUG", "Mug", 1, Decimal("5.00"))
    placed = sandbox.place_order(sandbox.order_body([line]), notify=False)
    sandbox.fail_next(2, status)
    waits: list[float] = []
    found = list(poller(sandbox, waits).fetch_orders(datetime.now(UTC) - timedelta(hours=1)))
    assert [int(o.external_id) for o in found] == [placed]
    assert len(waits) == 2 and all(0 <= w <= 20 for w in waits)
