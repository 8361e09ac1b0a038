"""bol.com end to end on one local stack: orders pushed from its sandbox (signed thin pushes
verified with the sandbox's published key, fetched in ingest), a push that never arrives found
by the poll, a buyer's cancellation request accepted, and stock confirmed through process
statuses (a FAILURE published again) on every channel."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from local_stack.sandboxes.base import SandboxLine
from local_stack.stack import LocalStack, stores
from shared.domain.listings import channel_quantity
from shared.domain.orders import OrderStatus
from tests.e2e.conftest import Product, make_product, shows

pytestmark = pytest.mark.e2e
BOL = "bol"


def place(stack: LocalStack, product: Product, qty: int, notify: bool = True) -> str:
    body = stack.sandboxes[BOL].order_body(
        [SandboxLine(product.refs[BOL], product.sku, product.sku, qty, Decimal("10.00"))]
    )
    answer = httpx.post(
        f"{stack.sandbox_url(BOL)}/__sandbox/orders",
        params={"notify": str(notify).lower()},
        json=body,
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def listing_id(product: Product, channel: str) -> str:
    refs = product.refs[channel]
    return refs.get("listing_id") or refs.get("variant_id") or refs["item_id"]


def assert_every_channel_shows_the_derived_quantity(stack: LocalStack, product: Product) -> None:
    catalog, inventory, _ = stores(stack)
    level = inventory.get(product.sku)
    assert level is not None
    for channel in stack.sandboxes:
        listing = catalog.listing(product.sku, channel)
        assert listing is not None
        derived = channel_quantity(level.available, listing.rules)
        assert shows(stack, channel, listing_id(product, channel)) == derived, channel
    # bol's is the quantity Keel confirmed through the process status, not just one it sent
    assert catalog.shown(product.sku, BOL) == shows(stack, BOL, listing_id(product, BOL))


def test_an_order_pushed_from_bol_is_reserved_and_every_channel_follows(
    stack: LocalStack,
) -> None:
    product = make_product(stack, on_hand=10)
    order_id = place(stack, product, 3)
    assert stack.wait_idle(30)
    _, inventory, orders = stores(stack)
    order = orders.get(stack.order_key(BOL, order_id))
    assert order is not None and order.status is OrderStatus.RESERVED
    assert [ln.sku for ln in order.lines] == [product.sku]
    level = inventory.get(product.sku)
    assert level is not None and (level.reserved, level.available) == (3, 7)
    assert_every_channel_shows_the_derived_quantity(stack, product)


def test_a_push_that_never_arrives_is_found_by_the_poll(stack: LocalStack) -> None:
    product = make_product(stack, on_hand=5)
    order_id = place(stack, product, 2, notify=False)
    result = stack.fire_schedule(f"poll-{BOL}")
    assert stack.order_key(BOL, order_id) in result["missed_by_webhooks"]
    assert stack.wait_idle(30)
    _, _, orders = stores(stack)
    order = orders.get(stack.order_key(BOL, order_id))
    assert order is not None and order.status is OrderStatus.RESERVED
    assert_every_channel_shows_the_derived_quantity(stack, product)


def test_a_cancellation_request_releases_the_stock_and_is_accepted_on_bol(
    stack: LocalStack,
) -> None:
    product = make_product(stack, on_hand=4)
    order_id = place(stack, product, 1)
    assert stack.wait_idle(30)
    answer = httpx.post(f"{stack.sandbox_url(BOL)}/__sandbox/orders/{order_id}/cancel", timeout=10)
    assert answer.status_code == 200
    assert stack.wait_idle(30)
    _, inventory, orders = stores(stack)
    order = orders.get(stack.order_key(BOL, order_id))
    assert order is not None and order.status is OrderStatus.CANCELLED
    level = inventory.get(product.sku)
    assert level is not None and level.reserved == 0
    sandbox = stack.sandboxes[BOL]
    sandbox.shown()  # processes that are due end now
    (item,) = sandbox.orders[order_id]["orderItems"]  # type: ignore[attr-defined]
    assert item["quantityCancelled"] == item["quantity"] == 1
    assert_every_channel_shows_the_derived_quantity(stack, product)


def test_a_failed_stock_process_is_published_again_until_bol_shows_it(stack: LocalStack) -> None:
    product = make_product(stack, on_hand=6)
    control = f"{stack.sandbox_url(BOL)}/__sandbox"
    told = httpx.post(
        f"{control}/process-failures",
        json={"requests": 1, "status": "FAILURE", "error": "Offer is temporarily locked"},
        timeout=10,
    )
    assert told.status_code == 200
    place(stack, product, 1)
    assert stack.wait_idle(60)
    assert_every_channel_shows_the_derived_quantity(stack, product)
    assert stack.queue_depths()[f"sync-{BOL}-dlq"] == 0
    processes = stack.sandboxes[BOL].processes.values()  # type: ignore[attr-defined]
    assert [p.error for p in processes if p.status == "FAILURE"] == ["Offer is temporarily locked"]
