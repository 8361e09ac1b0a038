"""Issue #19's repros on the embedded stack: each failed on the code before its fix."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from local_stack.sandboxes.base import SandboxLine
from local_stack.stack import LocalStack, stores
from shared.domain.inventory import Movement, MovementCause
from tests.e2e.conftest import Product, make_product, shows, woo

pytestmark = pytest.mark.e2e


def place(stack: LocalStack, channel: str, product: Product, qty: int) -> str:
    body = stack.sandboxes[channel].order_body(
        [SandboxLine(product.refs[channel], product.sku, product.sku, qty, Decimal("10.00"))]
    )
    answer = httpx.post(f"{stack.sandbox_url(channel)}/__sandbox/orders", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def test_a_shop_taken_below_zero_by_its_own_sales_comes_back_to_keels_number(
    stack: LocalStack,
) -> None:
    """Two Shopify orders for the last unit take the shop to -1. The sync used to send -1
    (refused, permanent) and dead-letter every later trigger of the SKU."""
    lamp = make_product(stack, on_hand=1)
    variant = lamp.variant_id
    place(stack, "shopify", lamp, 1)
    place(stack, "shopify", lamp, 1)
    assert stack.wait_idle(60)
    assert shows(stack, "shopify", variant) == 0
    assert stack.queue_depths()["sync-shopify-dlq"] == 0
    _, inventory, _ = stores(stack)
    receipt = Movement(lamp.sku, MovementCause.RECEIPT, 5, "po-lamp", "e2e", datetime.now(UTC))
    inventory.receive(receipt)
    assert stack.wait_idle(60)
    level = inventory.get(lamp.sku)
    assert level is not None and level.available == 4  # 6 on hand, both orders reserved
    assert shows(stack, "shopify", variant) == 4
    assert stack.queue_depths()["sync-shopify-dlq"] == 0


@pytest.mark.parametrize("force", [False, True], ids=["trashed", "deleted-for-good"])
def test_a_woocommerce_order_trashed_or_deleted_releases_its_reservation(
    stack: LocalStack, force: bool
) -> None:
    """#19.8: `order.deleted` (only `{"id"}`) was not acted on: the reservation stayed."""
    mug = make_product(stack, on_hand=5)
    order_id = place(stack, "woocommerce", mug, 2)
    assert stack.wait_idle(60)
    _, inventory, orders = stores(stack)
    assert inventory.get(mug.sku).reserved == 2
    answer = woo(stack).delete_order(int(order_id), force=force)
    assert answer.status == 200
    assert stack.wait_idle(60)
    order = orders.get(stack.order_key("woocommerce", order_id))
    assert order is not None and order.status.value == "cancelled"
    assert inventory.get(mug.sku).reserved == 0
