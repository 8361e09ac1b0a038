"""The Shopify orders poll against the Shopify sandbox, in-process: a polled order equals the
webhook parser's order for the same order; cursor pages; the cost bucket; orders that cannot be
read; and the poll service's watermark over all of it."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs

import httpx
import pytest

from local_stack.http import Request
from local_stack.sandboxes.shopify import SandboxLine, ShopifySandbox
from shared.channels.errors import AuthError, RetryableError
from shared.channels.port import FetchesOrders
from shared.channels.registry import BY_NAME
from shared.channels.shopify import graphql as documents
from shared.channels.shopify.orders import ShopifyOrder, to_order
from shared.channels.shopify.poll import LINES_PER_ORDER, PAGE, ShopifyOrdersPoll, Unreadable
from shared.channels.shopify.secret import ShopifySecret
from shared.channels.spec import load
from shared.domain.orders import Order
from shared.services.poll import poll_orders
from shared.stores.intake import Outcome
from shared.stores.orders import OrderStore

BASE = "http://127.0.0.1:8766"
ACCOUNT = "keel-demo.myshopify.com"
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def shop() -> ShopifySandbox:
    """A sandbox whose bucket never runs dry: the tests that are not about it never wait (the
    page test checks the cost against Shopify's real 1000-point limit itself)."""
    sandbox = ShopifySandbox(clock=Clock())
    sandbox.set_throttle(capacity=100_000)
    return sandbox


def wired(sandbox: ShopifySandbox, fail: Callable[[int], int | None] | None = None) -> httpx.Client:
    """The sandbox as an httpx transport; `fail(n)` may answer the n-th API call with a status."""
    seen = iter(range(1, 1_000_000))

    def forward(request: httpx.Request) -> httpx.Response:
        status = fail(next(seen)) if fail else None
        if status is not None:
            return httpx.Response(status, json={"errors": "failed by the test"})
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


def poller(
    sandbox: ShopifySandbox,
    waits: list[float] | None = None,
    fail: Callable[[int], int | None] | None = None,
    clock: Clock | None = None,
) -> ShopifyOrdersPoll:
    secret = ShopifySecret.model_validate(sandbox.keel_secret(BASE))
    slept = waits if waits is not None else []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if clock is not None:
            clock.now += seconds

    return ShopifyOrdersPoll(secret, wired(sandbox, fail), sleep=sleep)


def place(sandbox: ShopifySandbox, body: dict[str, Any]) -> str:
    """`POST /__sandbox/orders?notify=false`, as a test would over HTTP."""
    answer = sandbox(
        Request("POST", "/__sandbox/orders", {"notify": ["false"]}, {}, json.dumps(body).encode())
    )
    assert answer.status == 200, answer.body
    return str(json.loads(answer.body)["id"])


def webhook_order(body: dict[str, Any]) -> Order:
    return to_order(ShopifyOrder.model_validate(body), ACCOUNT)


def sample(specs: Path) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(
        (specs / "shopify/webhooks/orders_cancelled.sample.json").read_bytes()
    )
    return body


def _bag(amount: str, currency: str, presentment: str | None = None) -> dict[str, Any]:
    return {
        "shop_money": {"amount": amount, "currency_code": currency},
        "presentment_money": {"amount": amount, "currency_code": presentment or currency},
    }


def everything(specs: Path) -> dict[str, Any]:
    """The spec sample with what a real order may also carry: edits, a gift card, a tip line
    without variant or SKU, a line with a variant, tips, duties, fees, a presentment currency
    of its own, partial refunds (from the REST refund fixture) and no cancellation."""
    body = sample(specs)
    body.update(cancelled_at=None, cancel_reason=None, presentment_currency="CAD")
    body["financial_status"] = "partially_refunded"
    body["updated_at"] = "2022-01-03T08:30:00-05:00"
    lines = body["line_items"]
    lines[0]["current_quantity"] = 0  # removed by an edit
    lines[1].update(quantity=3, current_quantity=2, variant_id=39072856)
    lines[1]["price_set"] = _bag("19.99", "USD", "CAD")
    lines[2]["gift_card"] = True
    lines[3].update(sku="", variant_id=None, title="Tip")
    body["total_tip_received"] = "5.00"
    body["original_total_duties_set"] = _bag("3.10", "USD")
    body["current_total_duties_set"] = _bag("2.10", "USD")
    body["original_total_additional_fees_set"] = _bag("1.00", "USD")
    refund = json.loads((specs / "shopify/rest-fixtures/refund.json").read_bytes())["refund"]
    refund["refund_line_items"][0].update(line_item_id=lines[1]["id"], restock_type="return")
    refund["refund_line_items"][1].update(line_item_id=lines[4]["id"])  # restock: the flag
    second = copy.deepcopy(refund)
    second.update(id=509562970, restock=False, note=None)
    second["refund_line_items"] = [
        {"id": 1, "line_item_id": lines[4]["id"], "quantity": 1, "restock_type": "no_restock"}
    ]
    second["transactions"][0].update(status="failure", currency=None)
    body["refunds"] = [refund, second]
    return body


def fetch(sandbox: ShopifySandbox, since: datetime = LONG_AGO, **kwargs: Any) -> list[Order]:
    return list(poller(sandbox, **kwargs).fetch_orders(since))


# --- what a polled order is ---
@pytest.mark.parametrize("case", ["spec sample", "edits, tips, duties, refunds", "sandbox order"])
def test_a_polled_order_equals_the_webhook_parse_of_the_same_order(specs: Path, case: str) -> None:
    sandbox = shop()
    if case == "spec sample":
        body = sample(specs)
    elif case == "edits, tips, duties, refunds":
        body = everything(specs)
    else:
        refs = sandbox.add_listing("MUG", "Mug", Decimal("7.50"), 10)
        body = sandbox.order_payload(
            [
                SandboxLine(int(refs["variant_id"]), "MUG", "Mug", 2, Decimal("7.50")),
                SandboxLine(None, None, "Engraving", 1, Decimal("3.00")),
            ]
        )
    order_id = place(sandbox, copy.deepcopy(body))
    [polled] = fetch(sandbox)
    assert polled == webhook_order(sandbox.order(order_id))
    assert polled.key == f"shopify#{ACCOUNT}#{order_id}"
    if case == "edits, tips, duties, refunds":  # the case exercises what it says
        assert polled.refunds[0].lines[0].restock and not polled.refunds[1].lines[0].restock
        assert [ln.stock for ln in polled.lines] == [True, False, False, True]
        assert polled.charges is not None and polled.charges.fees == Decimal("8.10")


def test_a_cancellation_moves_the_order_past_the_watermark_and_is_polled(specs: Path) -> None:
    sandbox = shop()
    order_id = place(sandbox, sample(specs) | {"cancelled_at": None})
    [before] = fetch(sandbox)
    cancel = Request("POST", f"/__sandbox/orders/{order_id}/cancel", {"notify": ["false"]}, {}, b"")
    assert sandbox(cancel).status == 200
    assert sandbox.deliveries == []  # notify=false: no webhook for either change
    [after] = fetch(sandbox, before.channel_updated_at + timedelta(seconds=1))
    assert after.cancelled_at is not None and after.channel_updated_at > before.channel_updated_at


def test_the_registry_polls_shopify_with_this_adapter() -> None:
    channel = BY_NAME["shopify"]
    assert channel.poll_orders is not None
    secret = ShopifySecret.model_validate(ShopifySandbox("s").keel_secret(BASE))
    fetcher = load(channel.poll_orders)(secret, httpx.Client())
    assert isinstance(fetcher, FetchesOrders) and fetcher.account == ACCOUNT


# --- paging and cost ---
def test_every_changed_order_is_found_across_pages_oldest_change_first(specs: Path) -> None:
    sandbox = shop()
    refs = sandbox.add_listing("MUG", "Mug", Decimal("5.00"), 500)
    line = SandboxLine(int(refs["variant_id"]), "MUG", "Mug", 1, Decimal("5.00"))
    ids = []
    for n in range(2 * PAGE + 3):
        body = sandbox.order_payload([line] * (LINES_PER_ORDER + 13 if n == 4 else 1))
        stamp = datetime(2026, 11, 28, 9, 0, tzinfo=UTC) - timedelta(minutes=n)  # newest first
        body.update(updated_at=stamp.isoformat(), created_at=stamp.isoformat())
        ids.append(place(sandbox, body))
    found = fetch(sandbox)
    assert sorted(o.external_id for o in found) == sorted(ids)
    assert [o.external_id for o in found] == ids[::-1]  # oldest change first
    assert len(next(o for o in found if o.external_id == ids[4]).lines) == LINES_PER_ORDER + 13
    pages = [c for c in sandbox.graphql_calls if "first" in c.variables and "query" in c.variables]
    assert len(pages) == 3 and [p.variables["after"] is None for p in pages] == [1, 0, 0]
    cost = pages[0].body["extensions"]["cost"]["requestedQueryCost"]
    assert 500 < cost <= 1000  # a full page fits Shopify's single-query limit, not much less
    window = datetime(2026, 11, 28, 8, 58, tzinfo=UTC)  # >= : the order changed at 8:58 is in
    assert [o.external_id for o in fetch(sandbox, window)] == [ids[2], ids[1], ids[0]]


def test_throttled_calls_wait_for_the_bucket_and_then_succeed(specs: Path) -> None:
    clock = Clock()
    sandbox = ShopifySandbox(clock=clock)
    place(sandbox, sample(specs))
    sandbox.set_throttle(capacity=1000, restore_rate=50, available=0)
    waits: list[float] = []
    assert len(fetch(sandbox, waits=waits, clock=clock)) == 1
    throttled = [c for c in sandbox.graphql_calls if "errors" in c.body]
    assert throttled and all(
        e["extensions"]["code"] == "THROTTLED" for c in throttled for e in c.body["errors"]
    )
    assert waits and waits[0] >= throttled[0].body["extensions"]["cost"]["requestedQueryCost"] / 50


@pytest.mark.parametrize(("status", "error"), [(503, RetryableError), (429, RetryableError)])
def test_a_call_that_fails_for_a_while_is_read_on_a_later_attempt(
    specs: Path, status: int, error: type[Exception]
) -> None:
    sandbox = shop()
    order_id = place(sandbox, sample(specs))
    sandbox.fail_next(2, status)
    waits: list[float] = []
    assert [o.external_id for o in fetch(sandbox, waits=waits)] == [order_id]
    assert len(waits) == 2 and (status != 429 or min(waits) >= 1.0)  # Retry-After honoured


@pytest.mark.parametrize(("status", "error"), [(503, RetryableError), (401, AuthError)])
def test_a_call_that_keeps_failing_raises_its_class(
    specs: Path, status: int, error: type[Exception]
) -> None:
    sandbox = shop()
    place(sandbox, sample(specs))
    sandbox.fail_next(10, status)
    waits: list[float] = []
    with pytest.raises(error):
        fetch(sandbox, waits=waits)
    assert len(waits) == (3 if error is RetryableError else 0)  # auth is not retried


# --- orders that cannot be read, and the watermark ---
class Orders:
    """The poll's view of the order store, in memory."""

    def __init__(self) -> None:
        self.mark: datetime | None = None
        self.taken: dict[str, Order] = {}

    def watermark(self, channel: str, account: str) -> datetime | None:
        return self.mark

    def advance_watermark(self, channel: str, account: str, until: datetime) -> None:
        self.mark = max(self.mark or until, until)

    def get(self, key: str) -> Order | None:
        return self.taken.get(key)

    def take(self, order: Order) -> Outcome:
        self.taken[order.key] = order
        return Outcome.RESERVED


def poll_once(sandbox: ShopifySandbox, store: Orders, **kwargs: Any) -> list[str]:
    report = poll_orders(
        poller(sandbox, **kwargs),
        cast(OrderStore, store),
        store.take,
        timedelta(minutes=15),
        datetime(2026, 11, 28, 12, 0, tzinfo=UTC),
    )
    return report.missed_by_webhooks


def stamped(sandbox: ShopifySandbox, minute: int, **changes: Any) -> dict[str, Any]:
    refs = sandbox.add_listing(f"SKU-{minute}", "Mug", Decimal("5.00"), 50)
    body = sandbox.order_payload(
        [SandboxLine(int(refs["variant_id"]), refs["sku"], "Mug", 1, Decimal("5.00"))]
    )
    stamp = datetime(2026, 11, 28, 10, minute, tzinfo=UTC).isoformat()
    return body | {"updated_at": stamp, "created_at": stamp} | changes


def test_an_order_that_does_not_parse_stops_the_poll_before_it(specs: Path) -> None:
    sandbox = shop()
    store = Orders()
    first = place(sandbox, stamped(sandbox, 1))
    broken = stamped(sandbox, 2)
    broken["line_items"][0]["price_set"]["shop_money"]["amount"] = "1E+9"  # not a plain amount
    place(sandbox, broken)
    place(sandbox, stamped(sandbox, 3))
    with pytest.raises(Unreadable, match="not a plain decimal amount"):
        poll_once(sandbox, store)
    assert [o.external_id for o in store.taken.values()] == [first]
    assert store.mark == datetime(2026, 11, 28, 10, 1, tzinfo=UTC)  # before the broken order
    with pytest.raises(Unreadable):  # and it stays there: nothing after it is skipped past
        poll_once(sandbox, store)
    assert store.mark == datetime(2026, 11, 28, 10, 1, tzinfo=UTC)


def test_an_order_with_more_refunds_than_one_read_takes_is_not_taken_half(specs: Path) -> None:
    sandbox = shop()
    body = everything(specs)
    body["refunds"] = [dict(body["refunds"][1], id=600 + n) for n in range(20)]
    place(sandbox, body)
    with pytest.raises(Unreadable, match="more refunds"):
        fetch(sandbox)


def test_a_poll_that_fails_part_way_never_moves_the_watermark_past_an_order(
    specs: Path,
) -> None:
    """The second page keeps failing: the run raises with the watermark at the last order it
    took; the next run starts there and takes every order after it."""
    sandbox = shop()
    store = Orders()
    ids = [place(sandbox, stamped(sandbox, minute)) for minute in range(PAGE + 5)]
    with pytest.raises(RetryableError):
        poll_once(sandbox, store, fail=lambda n: 503 if n > 1 else None)
    assert len(store.taken) == PAGE
    assert store.mark == datetime(2026, 11, 28, 10, PAGE - 1, tzinfo=UTC)
    missed = poll_once(sandbox, store)
    assert sorted(o.external_id for o in store.taken.values()) == sorted(ids)
    assert len(missed) == 5  # the overlap re-reads the first page; only the rest is new
    assert store.mark == datetime(2026, 11, 28, 10, PAGE + 4, tzinfo=UTC)


def test_the_orders_query_is_the_one_the_schema_test_validates() -> None:
    assert documents.DOCUMENTS["orders_changed"] is documents.ORDERS_QUERY
    assert "sortKey: UPDATED_AT" in documents.ORDERS_QUERY
