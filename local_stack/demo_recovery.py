"""The demo's last part: two things a merchant feared and Keel now recovers from (issue #19),
after everything else has shipped.

- The last lamp sold twice in Shopify itself: the shop decrements on its own and shows -1;
  Keel holds the second order, sets the shop back to 0 (Shopify refuses a negative), and when a
  lamp arrives, to Keel's number.
- A mug order edited after its parcel was labelled (3 -> 1): the parcel is cancelled, the order
  announced again as it is now, and one mug ships.

Each returns what it showed, as (what, detail) rows, and appends what failed to `problems`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

import httpx

from local_stack.sandboxes.base import SandboxLine
from local_stack.sandboxes.shopify import ShopifySandbox
from local_stack.stack import LocalStack, stores
from shared.domain.orders import OrderStatus
from shared.services import stock
from shared.services.stock import derived_quantity

LAMP, MUG = "KEEL-LAMP", "KEEL-MUG-BLUE"
Refs = dict[str, dict[str, dict[str, str]]]  # sku -> channel -> listing refs


def _wait(condition: Callable[[], Any], timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.2)
    return None


def _shopify(stack: LocalStack) -> ShopifySandbox:
    return cast(ShopifySandbox, stack.sandboxes["shopify"])


def _shows(stack: LocalStack, refs: Refs, sku: str) -> int | None:
    listing_id = refs[sku]["shopify"]["variant_id"]
    return next(
        (r["quantity"] for r in _shopify(stack).shown() if r["listing_id"] == listing_id), None
    )


def _place(stack: LocalStack, refs: Refs, sku: str, qty: int) -> str:
    body = _shopify(stack).order_body(
        [SandboxLine(refs[sku]["shopify"], sku, sku, qty, Decimal("10.00"))]
    )
    answer = httpx.post(f"{stack.sandbox_url('shopify')}/__sandbox/orders", json=body, timeout=10)
    answer.raise_for_status()
    return str(answer.json()["id"])


def _derived(stack: LocalStack, sku: str) -> int:
    catalog, inventory, _ = stores(stack)
    level, listing = inventory.get(sku), catalog.listing(sku, "shopify")
    assert listing is not None
    return derived_quantity(listing, level.available if level else 0)


def last_unit_twice_in_shopify(
    stack: LocalStack, refs: Refs, problems: list[str]
) -> list[tuple[str, str]]:
    _, inventory, orders = stores(stack)
    level = inventory.get(LAMP)
    now = datetime.now(UTC)
    if level is not None and level.available != 1:  # one lamp on the shelf for sale
        stock.adjust(inventory, LAMP, 1 - level.available, "demo:one-lamp", "keel-demo", now)
    stack.wait_idle(60)
    before = _shows(stack, refs, LAMP)
    first, second = _place(stack, refs, LAMP, 1), _place(stack, refs, LAMP, 1)
    lowest = _shows(stack, refs, LAMP)  # the shop's own two decrements, before Keel's sync
    stack.wait_idle(60)
    after_sale = _shows(stack, refs, LAMP)
    dead = stack.queue_depths().get("sync-shopify-dlq", 0)
    held = orders.get(stack.order_key("shopify", second)) or orders.get(
        stack.order_key("shopify", first)
    )
    stock.receive(inventory, LAMP, 2, "demo:PO-LAMP-2", "keel-demo", datetime.now(UTC))
    stack.wait_idle(60)
    restocked, derived = _shows(stack, refs, LAMP), _derived(stack, LAMP)
    if after_sale != 0:
        problems.append(f"last lamp in Shopify: the shop shows {after_sale}, expected 0")
    if dead:
        problems.append(f"last lamp in Shopify: {dead} stock write(s) dead-lettered")
    if restocked != derived:
        problems.append(f"last lamp in Shopify: shows {restocked} after a receipt, Keel {derived}")
    return [
        ("two Shopify buyers, one lamp", f"the shop showed {before}, then {lowest} by itself"),
        ("Keel's answer", f"one order held ({held.hold_reason if held else '?'}); the shop set "
         f"to {after_sale}, no stock write dead-lettered"),
        ("2 lamps received", f"the held order reserved; Shopify shows {restocked} = Keel's "
         f"{derived}"),
    ]  # fmt: skip


def edit_after_the_label(
    stack: LocalStack, refs: Refs, problems: list[str]
) -> list[tuple[str, str]]:
    _, inventory, orders = stores(stack)
    level = inventory.get(MUG)
    if level is None or level.available < 3:
        stock.receive(inventory, MUG, 3, "demo:PO-MUG-EDIT", "keel-demo", datetime.now(UTC))
    on_hand_before = inventory.get(MUG).on_hand
    order_id = _place(stack, refs, MUG, 3)
    key = stack.order_key("shopify", order_id)
    control = f"{stack.sandbox_url('sendcloud')}/__sandbox/parcels"

    def parcel(reference: str) -> dict[str, Any] | None:
        rows = httpx.get(control, timeout=10).json()
        return next((p for p in rows if p["external_reference_id"] == reference), None)

    first = _wait(lambda: parcel(key))
    shop = _shopify(stack)
    edited = shop.order(order_id)
    edited["line_items"][0]["current_quantity"] = 1
    edited["updated_at"] = datetime.now(UTC).isoformat()
    shop.remember(edited)
    body = shop.encode(edited)
    shop.deliver(stack.webhook_url_for("shopify"), body, shop.headers(body, "orders/updated"))
    second = _wait(lambda: parcel(f"{key}#2"))
    if first is None or second is None:
        problems.append(f"edit after the label: parcels {first} then {second}")
        return [("edit after the label", "no second parcel was announced")]
    cancelled = (parcel(key) or {}).get("status_id")
    httpx.post(f"{control}/{second['parcel_id']}/status", json={"status_id": 3}, timeout=10)
    shipped = _wait(lambda: (o := orders.get(key)) is not None and o.status is OrderStatus.SHIPPED)
    stack.wait_idle(60)
    left = on_hand_before - inventory.get(MUG).on_hand
    if cancelled != 2000 or not shipped or left != 1:
        problems.append(
            f"edit after the label: first parcel status {cancelled}, shipped {bool(shipped)}, "
            f"{left} mug(s) left the shelf (expected 2000, True, 1)"
        )
    return [
        ("3 mugs labelled, then edited to 1", f"parcel {first['parcel_id']} cancelled "
         f"(status {cancelled}), parcel {second['parcel_id']} announced for 1"),
        ("handed to the carrier", f"{left} mug left the shelf; the order is shipped"),
    ]  # fmt: skip
