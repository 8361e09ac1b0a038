"""Amazon end to end on one local stack: ORDER_CHANGE notifications on Keel's SQS queue
(sent by the SP-API sandbox), deduped and fetched with getOrder; the poll finding what no
notification announced; listings patched (ACCEPTED, applied later); a shipment confirmed
through the order workflow."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, cast

import httpx
import pytest

from local_stack.sandboxes.amazon import AmazonSandbox
from local_stack.sandboxes.base import SandboxLine
from local_stack.stack import LocalStack, stores
from shared.domain.listings import channel_quantity
from tests.e2e.conftest import Product, make_product, shows
from tests.e2e.test_channels import assert_every_channel_shows_the_derived_quantity
from tests.e2e.test_workflow import finished, hand_over, parcel_of, waiting_for_carrier

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def product(stack: LocalStack) -> Product:
    """One SKU for the module (each test asserts relative to where it finds it): a product
    costs a full round of syncs to every channel."""
    return make_product(stack, on_hand=40)


def reserved(stack: LocalStack, product: Product) -> int:
    _, inventory, _ = stores(stack)
    level = inventory.get(product.sku)
    assert level is not None
    return int(level.reserved)


def amazon(stack: LocalStack) -> AmazonSandbox:
    return cast(AmazonSandbox, stack.sandboxes["amazon"])


def place(stack: LocalStack, product: Product, qty: int, notify: bool = True) -> str:
    body = amazon(stack).order_body(
        [SandboxLine(product.refs["amazon"], product.sku, product.sku, qty, Decimal("10.00"))]
    )
    answer = httpx.post(
        f"{stack.sandbox_url('amazon')}/__sandbox/orders",
        params={} if notify else {"notify": "false"},
        json=body,
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def eventually(condition: Callable[[], Any], what: str, timeout_s: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def amazon_shows_the_derived_quantity(stack: LocalStack, product: Product) -> None:
    """Once Amazon applied the accepted patch (the sandbox applies after a short delay)."""
    catalog, inventory, _ = stores(stack)
    listing = catalog.listing(product.sku, "amazon")
    level = inventory.get(product.sku)
    assert listing is not None and level is not None
    derived = channel_quantity(level.available, listing.rules)
    ref = product.refs["amazon"]["marketplace_sku"]
    eventually(lambda: shows(stack, "amazon", ref) == derived, f"Amazon to show {derived}")


def test_the_notification_queue_reaches_the_sandbox_through_the_stacks_configuration(
    stack: LocalStack,
) -> None:
    queue = stack.endpoints()["notification_queues"]["amazon"]
    assert amazon(stack).queue_url == queue and queue.endswith("-notifications-amazon")


def test_an_order_announced_by_a_notification_reserves_and_every_channel_follows(
    stack: LocalStack, product: Product
) -> None:
    before = reserved(stack, product)
    order_id = place(stack, product, 3)
    assert stack.wait_idle(30)
    _, _, orders = stores(stack)
    order = orders.get(stack.order_key("amazon", order_id))
    assert order is not None and order.status.value == "reserved", order
    assert [(line.sku, line.quantity) for line in order.lines] == [(product.sku, 3)]
    assert reserved(stack, product) == before + 3
    assert_every_channel_shows_the_derived_quantity(stack, product)
    amazon_shows_the_derived_quantity(stack, product)
    # The patch was ACCEPTED (pending); the sync queue's delayed check reads the listing back
    # and only then records it as what Amazon shows.
    catalog, inventory, _ = stores(stack)
    level = inventory.get(product.sku)
    assert level is not None
    eventually(
        lambda: catalog.shown(product.sku, "amazon") == level.available,
        "the applied patch to be confirmed",
    )


def test_duplicate_and_reordered_notifications_change_nothing(
    stack: LocalStack, product: Product
) -> None:
    """Amazon's notifications come at least once and in no promised order: the order placed and
    cancelled before Keel heard of it, then the cancellation's notification again (deduped on
    its NotificationId: Amazon is not even asked), then the placement's, late (read from
    Amazon as it is now: still cancelled)."""
    sandbox = amazon(stack)
    before = reserved(stack, product)
    order_id = place(stack, product, 2, notify=False)
    httpx.post(f"{stack.sandbox_url('amazon')}/__sandbox/orders/{order_id}/cancel", timeout=10)
    assert stack.wait_idle(30)
    key = stack.order_key("amazon", order_id)
    _, _, orders = stores(stack)
    cancelled = orders.get(key)
    assert cancelled is not None and cancelled.status.value == "cancelled", cancelled
    history = len(cancelled.history)

    def reads() -> int:
        return sum(1 for op, path, _ in sandbox.requests if op == "getOrder" and order_id in path)

    read = reads()
    sandbox.send_raw(sandbox.notifications[-1].body)  # the same notification again
    assert stack.wait_idle(30)
    assert reads() == read
    late = sandbox.notification_body(sandbox.order(order_id), "OrderStatusChange", "Order placed")
    late["Payload"]["OrderChangeNotification"]["Summary"]["OrderStatus"] = "Unshipped"
    sandbox.send_raw(json.dumps(late))
    assert stack.wait_idle(30)
    assert reads() == read + 1
    after = orders.get(key)
    assert after is not None and after.status.value == "cancelled"
    assert len(after.history) == history
    assert reserved(stack, product) == before


def test_an_order_no_notification_announced_is_found_by_the_poll(
    stack: LocalStack, product: Product
) -> None:
    order_id = place(stack, product, 1, notify=False)
    assert stack.wait_idle(30)
    _, _, orders = stores(stack)
    key = stack.order_key("amazon", order_id)
    assert orders.get(key) is None
    report = stack.fire_schedule("poll-amazon")
    assert key in report["missed_by_webhooks"], report
    assert stack.wait_idle(30)
    order = orders.get(key)
    assert order is not None and order.status.value == "reserved"
    amazon_shows_the_derived_quantity(stack, product)


def test_a_notification_for_another_seller_is_held_with_the_reason(
    stack: LocalStack, product: Product
) -> None:
    sandbox = amazon(stack)
    order_id = place(stack, product, 1, notify=False)
    body = sandbox.notification_body(sandbox.order(order_id), "OrderStatusChange", "Order placed")
    body["Payload"]["OrderChangeNotification"]["SellerId"] = "A3OTHERSELLER"
    body["NotificationMetadata"]["NotificationId"] = "other-seller"
    sandbox.send_raw(json.dumps(body))
    assert stack.wait_idle(30)
    _, _, orders = stores(stack)
    held = [d for d in orders.held_deliveries() if d.delivery_id == "other-seller"]
    # The seller it names has no secret in Keel (#27: one queue may serve several sellers).
    assert held and "no amazon account 'A3OTHERSELLER'" in held[0].reason


def test_an_order_ships_through_the_workflow_and_its_confirmation_is_on_amazon(
    stack: LocalStack, product: Product
) -> None:
    _, inventory, _ = stores(stack)
    level = inventory.get(product.sku)
    assert level is not None
    on_hand = level.on_hand
    order_id = place(stack, product, 2)
    key = stack.order_key("amazon", order_id)
    parcel = parcel_of(stack, key)
    waiting_for_carrier(stack, key)
    hand_over(stack, parcel["parcel_id"])
    run = finished(stack, key)
    assert run.status == "SUCCEEDED", run
    assert stack.wait_idle(30)
    told = httpx.get(f"{stack.sandbox_url('amazon')}/__sandbox/shipments", timeout=10).json()
    assert {
        "order_id": order_id,
        "tracking_number": parcel["tracking_number"],
        "carrier": "postnl",
    } in told
    assert amazon(stack).order(order_id)["fulfillment"]["fulfillmentStatus"] == "SHIPPED"
    _, inventory, orders = stores(stack)
    order = orders.get(key)
    assert order is not None and order.status.value == "shipped"
    shipped = inventory.get(product.sku)
    assert shipped is not None and shipped.on_hand == on_hand - 2
    assert [(m.cause.value, m.quantity) for m in inventory.ledger(product.sku)][-1] == (
        "shipment",
        -2,
    )
    amazon_shows_the_derived_quantity(stack, product)
