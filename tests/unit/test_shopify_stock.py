"""The Shopify stock adapter against the Shopify sandbox, called in-process (no sockets).

The sandbox validates every document against the real 2026-10 schema and behaves like Shopify
where the adapter depends on it: compare-and-set, userErrors by field path, the cost bucket.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from local_stack.http import Request
from local_stack.sandboxes.shopify import ShopifySandbox
from shared.channels.errors import PermanentError, RetryableError
from shared.channels.pacing import BudgetSpent
from shared.channels.port import SetsStock, StockUpdate
from shared.channels.shopify import CHANNEL
from shared.channels.shopify.secret import ShopifySecret
from shared.channels.shopify.stock import ShopifyStockPublisher
from shared.channels.spec import load
from shared.domain.listings import Listing

BASE = "http://127.0.0.1:8766"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sandbox(specs: Path) -> ShopifySandbox:
    return ShopifySandbox(clock=Clock())


def forward(
    sandbox: ShopifySandbox, before: Callable[[dict[str, Any]], None] | None = None
) -> httpx.Client:
    """An httpx client whose transport is the sandbox app; `before` sees each GraphQL body."""

    def handle(request: httpx.Request) -> httpx.Response:
        if before is not None:
            before(json.loads(request.content))
        answer = sandbox(
            Request(request.method, request.url.path, {}, dict(request.headers), request.content)
        )
        return httpx.Response(answer.status, content=answer.body, headers=answer.headers)

    return httpx.Client(transport=httpx.MockTransport(handle))


def publisher(
    sandbox: ShopifySandbox,
    before: Callable[[dict[str, Any]], None] | None = None,
    sleep: Callable[[float], None] | None = None,
    **secret: Any,
) -> ShopifyStockPublisher:
    creds = ShopifySecret.model_validate({**sandbox.keel_secret(BASE), **secret})
    return ShopifyStockPublisher(creds, forward(sandbox, before), sleep=sleep or no_sleep)


def no_sleep(seconds: float) -> None:
    raise AssertionError(f"unexpected sleep of {seconds}s")


def update(refs: dict[str, str], quantity: int, known: int | None) -> StockUpdate:
    return StockUpdate(Listing(refs["sku"], "shopify", refs), quantity, known)


def calls(sandbox: ShopifySandbox, operation: str) -> list[dict[str, Any]]:
    return [c.variables for c in sandbox.graphql_calls if c.operation == operation]


def sent_rows(sandbox: ShopifySandbox) -> list[list[dict[str, Any]]]:
    return [v["input"]["quantities"] for v in calls(sandbox, "mutation")]


def test_the_registry_factory_gives_a_stock_setter(sandbox: ShopifySandbox) -> None:
    assert CHANNEL.outbound_stock is not None
    secret = ShopifySecret.model_validate(sandbox.keel_secret(BASE))
    made = load(CHANNEL.outbound_stock)(secret, forward(sandbox))
    assert isinstance(made, SetsStock) and made.channel == "shopify"


def test_many_rows_are_set_in_one_call_with_compare_and_set(sandbox: ShopifySandbox) -> None:
    mug = sandbox.add_listing("MUG", "Mug", Decimal("12.50"), 5)
    tee = sandbox.add_listing("TEE", "Tee", Decimal("20"), 2)
    results = publisher(sandbox).set_stock([update(mug, 7, 5), update(tee, 0, 2)])
    assert [(r.error, r.shown) for r in results] == [(None, 7), (None, 0)]
    assert (sandbox.level(mug["inventory_item_id"]), sandbox.level(tee["inventory_item_id"])) == (
        7,
        0,
    )
    [rows] = sent_rows(sandbox)
    assert rows[0] == {
        "inventoryItemId": f"gid://shopify/InventoryItem/{mug['inventory_item_id']}",
        "locationId": f"gid://shopify/Location/{mug['location_id']}",
        "quantity": 7,
        "changeFromQuantity": 5,
    }
    assert calls(sandbox, "query") == []
    assert {row["quantity"] for row in sandbox.shown()} == {7, 0}


def test_gid_refs_are_accepted_as_they_are(sandbox: ShopifySandbox) -> None:
    mug = sandbox.add_listing("MUG", "Mug", Decimal("1"), 5)
    refs = {
        **mug,
        "inventory_item_id": f"gid://shopify/InventoryItem/{mug['inventory_item_id']}",
        "location_id": f"gid://shopify/Location/{mug['location_id']}",
    }
    [result] = publisher(sandbox).set_stock([update(refs, 3, 5)])
    assert result.error is None and sandbox.level(mug["inventory_item_id"]) == 3


def test_unknown_levels_are_read_live_first_in_one_query(sandbox: ShopifySandbox) -> None:
    mug = sandbox.add_listing("MUG", "Mug", Decimal("1"), 5)
    tee = sandbox.add_listing("TEE", "Tee", Decimal("1"), 9)
    results = publisher(sandbox).set_stock([update(mug, 4, None), update(tee, 8, None)])
    assert [r.error for r in results] == [None, None]
    assert len(calls(sandbox, "query")) == 1
    [rows] = sent_rows(sandbox)
    assert [r["changeFromQuantity"] for r in rows] == [5, 9]
    assert sandbox.level(mug["inventory_item_id"]) == 4


def test_null_is_sent_only_where_no_level_exists_yet(sandbox: ShopifySandbox) -> None:
    mug = sandbox.add_listing("MUG", "Mug", Decimal("1"), 5)
    shop2 = sandbox.add_location("Second warehouse")
    elsewhere = {**mug, "location_id": shop2}
    [result] = publisher(sandbox).set_stock([update(elsewhere, 6, None)])
    assert result.error is None and result.shown == 6
    [rows] = sent_rows(sandbox)
    assert "changeFromQuantity" in rows[0] and rows[0]["changeFromQuantity"] is None
    assert sandbox.level(mug["inventory_item_id"], shop2) == 6


def test_more_than_250_rows_are_split_into_calls_of_at_most_250(sandbox: ShopifySandbox) -> None:
    listings = [sandbox.add_listing(f"S{i}", "x", Decimal("1"), 1) for i in range(260)]
    results = publisher(sandbox).set_stock([update(r, 2, 1) for r in listings])
    assert all(r.error is None for r in results)
    assert [len(rows) for rows in sent_rows(sandbox)] == [250, 10]
    keys = [v["key"] for v in calls(sandbox, "mutation")]
    assert len(set(keys)) == 2  # a new idempotency key per request


def test_a_level_that_moved_is_read_again_once_and_set(sandbox: ShopifySandbox) -> None:
    mug = sandbox.add_listing("MUG", "Mug", Decimal("1"), 5)
    tee = sandbox.add_listing("TEE", "Tee", Decimal("1"), 2)
    sandbox.set_level(mug["inventory_item_id"], 7)  # raised by hand in Shopify's admin
    results = publisher(sandbox).set_stock([update(mug, 10, 5), update(tee, 1, 2)])
    assert [(r.error, r.shown) for r in results] == [(None, 10), (None, 1)]
    first, second = sent_rows(sandbox)
    assert [r["changeFromQuantity"] for r in first] == [5, 2]
    assert [r["changeFromQuantity"] for r in second] == [7, 2]
    assert len(calls(sandbox, "query")) == 1
    assert sandbox.level(mug["inventory_item_id"]) == 10
    assert sandbox.level(tee["inventory_item_id"]) == 1


def test_a_level_that_dropped_is_never_raised_back_on_the_retry(sandbox: ShopifySandbox) -> None:
    """Shopify sold 2 since Keel last looked, and the order has not reached Keel yet: writing
    Keel's 10 would offer those units again. The retry sets at most the live level; the order's
    own trigger publishes the derived quantity once Keel has taken it in."""
    mug = sandbox.add_listing("MUG", "Mug", Decimal("1"), 5)
    sandbox.set_level(mug["inventory_item_id"], 3)
    [result] = publisher(sandbox).set_stock([update(mug, 10, 5)])
    assert (result.error, result.shown) == (None, 3)
    assert sandbox.level(mug["inventory_item_id"]) == 3


def test_a_level_below_zero_is_brought_back_to_zero_never_sent_negative(
    sandbox: ShopifySandbox,
) -> None:
    """Two Shopify orders took the last unit: the shop shows -1 (Shopify decrements on its own).
    Sending min(derived, live) = -1 was refused as INVALID_QUANTITY_NEGATIVE, a permanent
    error, and every later trigger for the SKU was dead-lettered (issue #19.1)."""
    mug = sandbox.add_listing("MUG", "Mug", Decimal("1"), 1)
    sandbox.set_level(mug["inventory_item_id"], -1)
    for derived in (0, 4):
        [result] = publisher(sandbox).set_stock([update(mug, derived, 1)])
        assert (result.error, result.shown) == (None, 0)
        assert sandbox.level(mug["inventory_item_id"]) == 0
        sandbox.set_level(mug["inventory_item_id"], -1)
    assert all(r["quantity"] >= 0 for rows in sent_rows(sandbox) for r in rows)
    # Once Keel has seen the 0 it wrote, its own number goes out.
    sandbox.set_level(mug["inventory_item_id"], 0)
    [result] = publisher(sandbox).set_stock([update(mug, 4, 0)])
    assert (result.error, result.shown) == (None, 4)


def test_a_level_that_keeps_moving_is_left_to_a_later_retry(sandbox: ShopifySandbox) -> None:
    mug = sandbox.add_listing("MUG", "Mug", Decimal("1"), 5)
    item = mug["inventory_item_id"]

    def shoppers(body: dict[str, Any]) -> None:
        if "mutation" in body["query"]:
            sandbox.set_level(item, (sandbox.level(item) or 0) - 1)

    [result] = publisher(sandbox, before=shoppers).set_stock([update(mug, 10, 5)])
    assert isinstance(result.error, RetryableError)
    assert len(calls(sandbox, "mutation")) == 2  # no loop
    assert sandbox.level(item) == 3  # Shopify's sales stand; Keel never overwrote them


def test_throttled_with_http_200_is_retryable_with_the_wait_it_needs(specs: Path) -> None:
    sandbox = ShopifySandbox(clock=Clock())  # no time passes: the bucket holds exactly 5
    mug = sandbox.add_listing("MUG", "Mug", Decimal("1"), 5)
    sandbox.set_throttle(capacity=1000, restore_rate=50, available=5)
    [result] = publisher(sandbox).set_stock([update(mug, 1, 5)])
    assert isinstance(result.error, RetryableError)
    assert result.error.retry_after_s == pytest.approx((11 - 5) / 50)
    assert sandbox.level(mug["inventory_item_id"]) == 5


def test_a_nearly_empty_bucket_paces_the_next_call_boundedly(specs: Path) -> None:
    clock = Clock()
    sandbox = ShopifySandbox(clock=clock)
    mug = sandbox.add_listing("MUG", "Mug", Decimal("1"), 5)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    sandbox.set_throttle(capacity=1000, restore_rate=50, available=105)
    pub = publisher(sandbox, sleep=sleep)
    pub.set_stock([update(mug, 4, 5)])  # leaves 94 of 1000: under the low-water mark
    assert slept == []
    [paced] = pub.set_stock([update(mug, 3, 4)])
    assert slept == [pytest.approx((100 - 94) / 50)] and paced.error is None
    sandbox.set_throttle(restore_rate=1, available=11)
    pub.set_stock([update(mug, 2, 3)])  # empties the bucket; it refills at 1 point a second
    sleeps = len(slept)
    [late] = pub.set_stock([update(mug, 1, 2)])
    assert len(slept) == sleeps  # longer than an invocation sleeps (pacing.IN_PROCESS_WAIT_S):
    assert isinstance(late.error, BudgetSpent)  # not sent; the queue waits it out
    # the call's cost (~11 points) at 1 a second
    assert late.error.retry_after_s is not None and 10 < late.error.retry_after_s < 12
    assert sandbox.level(mug["inventory_item_id"]) == 2


def test_an_unknown_inventory_item_fails_that_row_only(sandbox: ShopifySandbox) -> None:
    mug = sandbox.add_listing("MUG", "Mug", Decimal("1"), 5)
    ghost = {**mug, "sku": "GHOST", "inventory_item_id": "999"}
    results = publisher(sandbox).set_stock([update(ghost, 1, 0), update(mug, 2, 5)])
    assert isinstance(results[0].error, PermanentError)
    assert "INVALID_INVENTORY_ITEM" in str(results[0].error)
    assert (results[1].error, results[1].shown) == (None, 2)
    assert sandbox.level(mug["inventory_item_id"]) == 2


def test_an_unknown_item_found_while_reading_is_not_sent(sandbox: ShopifySandbox) -> None:
    mug = sandbox.add_listing("MUG", "Mug", Decimal("1"), 5)
    ghost = {**mug, "sku": "GHOST", "inventory_item_id": "999"}
    results = publisher(sandbox).set_stock([update(ghost, 1, None), update(mug, 2, None)])
    assert isinstance(results[0].error, PermanentError) and results[1].error is None
    [rows] = sent_rows(sandbox)
    assert len(rows) == 1


def test_an_unknown_location_fails_that_row_only(sandbox: ShopifySandbox) -> None:
    mug = sandbox.add_listing("MUG", "Mug", Decimal("1"), 5)
    tee = sandbox.add_listing("TEE", "Tee", Decimal("1"), 5)
    nowhere = {**tee, "location_id": "12345"}
    results = publisher(sandbox).set_stock([update(mug, 1, 5), update(nowhere, 1, None)])
    assert results[0].error is None
    assert isinstance(results[1].error, PermanentError)
    assert "INVALID_LOCATION" in str(results[1].error)


def test_listings_without_inventory_ids_fail_without_a_call(sandbox: ShopifySandbox) -> None:
    refs = {"sku": "X", "variant_id": "1"}
    [result] = publisher(sandbox).set_stock([update(refs, 1, 0)])
    assert isinstance(result.error, PermanentError)
    assert sandbox.graphql_calls == []


def test_a_wrong_access_token_is_permanent(sandbox: ShopifySandbox) -> None:
    mug = sandbox.add_listing("MUG", "Mug", Decimal("1"), 5)
    tee = sandbox.add_listing("TEE", "Tee", Decimal("1"), 5)
    pub = publisher(sandbox, access_token="shpat_wrong")
    results = pub.set_stock([update(mug, 1, 5), update(tee, 1, 5)])
    assert all(isinstance(r.error, PermanentError) and r.error.status == 401 for r in results)


@pytest.mark.parametrize(("status", "retry_after"), [(503, None), (500, None), (429, 1.0)])
def test_outages_are_retryable(
    sandbox: ShopifySandbox, status: int, retry_after: float | None
) -> None:
    mug = sandbox.add_listing("MUG", "Mug", Decimal("1"), 5)
    sandbox.fail_next(1, status)
    pub = publisher(sandbox)
    [result] = pub.set_stock([update(mug, 1, 5)])
    assert isinstance(result.error, RetryableError)
    assert (result.error.status, result.error.retry_after_s) == (status, retry_after)
    [again] = pub.set_stock([update(mug, 1, 5)])
    assert again.error is None and sandbox.level(mug["inventory_item_id"]) == 1


def test_timeouts_are_retryable() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    creds = ShopifySecret(
        webhook_secret="w", shop_domain="a.myshopify.com", access_token="t", currency="EUR"
    )
    pub = ShopifyStockPublisher(creds, httpx.Client(transport=httpx.MockTransport(hang)))
    refs = {"sku": "A", "inventory_item_id": "1", "location_id": "2"}
    [result] = pub.set_stock([update(refs, 1, 0)])
    assert isinstance(result.error, RetryableError)


def test_the_same_level_twice_goes_in_separate_calls_in_order(sandbox: ShopifySandbox) -> None:
    mug = sandbox.add_listing("MUG", "Mug", Decimal("1"), 5)
    results = publisher(sandbox).set_stock([update(mug, 4, 5), update(mug, 3, 5)])
    assert [(r.error, r.shown) for r in results] == [(None, 4), (None, 3)]
    assert [len(rows) for rows in sent_rows(sandbox)] == [1, 1, 1]  # the second re-read once
    assert sandbox.level(mug["inventory_item_id"]) == 3


def canned(payload: dict[str, Any]) -> ShopifyStockPublisher:
    """A publisher talking to a fixed answer, for shapes the sandbox never produces."""
    creds = ShopifySecret(
        webhook_secret="w", shop_domain="a.myshopify.com", access_token="t", currency="EUR"
    )
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=payload))
    return ShopifyStockPublisher(creds, httpx.Client(transport=transport))


def answer_with(*user_errors: dict[str, Any]) -> dict[str, Any]:
    payload = {"inventoryAdjustmentGroup": None, "userErrors": list(user_errors)}
    return {"data": {"inventorySetQuantities": payload}}


def test_user_errors_naming_no_row_fail_every_row_of_the_call_by_their_code() -> None:
    rows = [
        update({"sku": s, "inventory_item_id": str(n), "location_id": "9"}, 1, 0)
        for n, s in ((1, "A"), (2, "B"))
    ]
    reason = {"field": ["input", "reason"], "message": "bad", "code": "INVALID_REASON"}
    refused = canned(answer_with(reason)).set_stock(rows)
    assert all(isinstance(r.error, PermanentError) for r in refused)
    busy = {"field": None, "message": "in progress", "code": "IDEMPOTENCY_CONCURRENT_REQUEST"}
    later = canned(answer_with(busy)).set_stock(rows)
    assert all(isinstance(r.error, RetryableError) for r in later)


def test_a_graphql_error_without_a_code_is_permanent() -> None:
    refs = {"sku": "A", "inventory_item_id": "1", "location_id": "2"}
    broken = {"errors": [{"message": "Field 'x' doesn't exist on type 'Mutation'"}]}
    [result] = canned(broken).set_stock([update(refs, 1, 0)])
    assert isinstance(result.error, PermanentError)
