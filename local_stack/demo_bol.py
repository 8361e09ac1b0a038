"""bol.com's part of `keel demo`: a buyer orders on bol.com (the sandbox keeps the order and
sends its signed thin push; Keel verifies it with bol's published key, fetches the order in
ingest and reserves), and another buyer asks bol.com to cancel (Keel releases the stock and
accepts the request on bol.com). The shared report then checks that every channel shows the
derived quantity; here it is checked that bol's is Keel's *confirmed* one (the process status
said SUCCESS), that the cancellation was accepted on bol, and shipping (shared) confirms the
bol order with its tracking on bol.com."""

from __future__ import annotations

from typing import Any

import httpx

from local_stack.demo_scenario import DemoPart, Scenario, Sent, place_in_sandbox
from local_stack.stack import stores
from shared.domain.orders import OrderStatus
from shared.services.stock import derived_quantity

BOL = "bol"
BOL_ORDER = "a mug bought on bol.com"
BOL_CANCELLED = "a mug whose bol.com buyer asks to cancel"
ACCEPTED_ON_BOL = (BOL_ORDER,)
ORDERS_ON_BOL = 2


def bol_orders(sc: Scenario) -> list[Sent]:
    if BOL not in sc.stack.sandboxes:
        return []
    sent = [place_in_sandbox(sc, BOL, BOL_ORDER, {"KEEL-MUG-BLUE": 1})]
    asked = place_in_sandbox(sc, BOL, BOL_CANCELLED, {"KEEL-MUG-BLUE": 1})
    sent.append(asked)
    sc.stack.wait_idle(30)
    cancel = httpx.post(
        f"{sc.stack.sandbox_url(BOL)}/__sandbox/orders/{asked.order_id}/cancel", timeout=10.0
    )
    sent.append(Sent(f"cancel request: {BOL_CANCELLED}", cancel.status_code, asked.order_id,
                     {}, BOL))  # fmt: skip
    return sent


def check_bol(sc: Scenario, sent: list[Sent]) -> list[str]:
    """What the shared report does not know to check for bol.com."""
    if BOL not in sc.stack.sandboxes:
        return []
    problems: list[str] = []
    catalog, inventory, orders = stores(sc.stack)
    asked = next(s for s in sent if s.label == BOL_CANCELLED)
    order = orders.get(sc.stack.order_key(BOL, str(asked.order_id)))
    if order is None or order.status is not OrderStatus.CANCELLED:
        problems.append(f"{BOL_CANCELLED}: expected the order cancelled, its stock released")
    sandbox: Any = sc.stack.sandboxes[BOL]
    items = sandbox.orders.get(str(asked.order_id), {}).get("orderItems", [])
    if not items or any(i["quantityCancelled"] != i["quantity"] for i in items):
        problems.append(f"{BOL_CANCELLED}: the cancellation was not accepted on bol.com")
    for sku in sc.refs:
        listing = catalog.listing(sku, BOL)
        level = inventory.get(sku)
        if listing is None or level is None:
            continue
        derived = derived_quantity(listing, level.available)
        confirmed = catalog.shown(sku, BOL)
        if confirmed != derived:
            problems.append(
                f"{sku}: bol.com's confirmed quantity is {confirmed}, Keel derived {derived}"
            )
    return problems


PART = DemoPart(BOL, bol_orders, accepted=ACCEPTED_ON_BOL, orders=ORDERS_ON_BOL, check=check_bol)
