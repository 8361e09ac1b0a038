"""WooCommerce's part of `keel demo`: the shop checks its new webhook with an unsigned ping
(answered, nothing stored); buyers order in the shop (each order signed and sent as Woo does);
the shop cancels one order (its stock returns to every channel), refunds another in full and
restocks it; and one order's webhook never arrives (Woo does not retry): the next scheduled
poll, fired now, finds it, takes it once and reports it as missed."""

from __future__ import annotations

from typing import Any

import httpx

from local_stack.demo_scenario import SKU, DemoPart, Scenario, Sent, place_in_sandbox
from local_stack.stack import stores
from shared.domain.orders import OrderStatus

WOO = "woocommerce"
TWO_TEES = "two tees in WooCommerce"
CANCELLED = "three mugs in WooCommerce"
REFUNDED = "a tee refunded in WooCommerce"
LOST_WEBHOOK = "a tee whose webhook was lost"


def woocommerce_buyers(sc: Scenario) -> list[Sent]:
    mug, tee = SKU["KEEL-MUG-BLUE"], SKU["KEEL-TEE-M"]
    ping = httpx.post(
        sc.stack.webhook_url_for(WOO),
        content=b"webhook_id=27",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10.0,
    )
    sent = [Sent("woocommerce activation ping", ping.status_code, channel=WOO)]
    sent.append(place_in_sandbox(sc, WOO, TWO_TEES, {tee.sku: 2}))

    # Three mugs are reserved (every channel shows three fewer), then the shop cancels the
    # order: the stock returns to every channel.
    placed = place_in_sandbox(sc, WOO, CANCELLED, {mug.sku: 3})
    sent.append(placed)
    sc.stack.wait_idle(30)
    cancel = httpx.post(
        f"{sc.stack.sandbox_url(WOO)}/__sandbox/orders/{placed.order_id}/cancel", timeout=10.0
    )
    sent.append(Sent(f"cancel: {CANCELLED}", cancel.status_code, placed.order_id, {}, WOO))

    # A tee is bought and then refunded in full (restocked): the order ends as refunded.
    bought = place_in_sandbox(sc, WOO, REFUNDED, {tee.sku: 1})
    sent.append(bought)
    sc.stack.wait_idle(30)
    sent.append(_refund_in_full(sc, bought))

    lost = place_in_sandbox(sc, WOO, LOST_WEBHOOK, {tee.sku: 1}, notify=False)
    sent.append(lost)
    sc.stack.wait_idle(30)
    polled = sc.stack.fire_schedule(f"poll-{WOO}")
    found = sc.stack.order_key(WOO, str(lost.order_id)) in polled["missed_by_webhooks"]
    sent.append(Sent(f"poll: {WOO}", 200 if found else 404, lost.order_id, {}, "keel"))
    return sent


def _refund_in_full(sc: Scenario, placed: Sent) -> Sent:
    """The shop refunds what is left of the order and restocks its lines."""
    base = f"{sc.stack.sandbox_url(WOO)}/__sandbox/orders/{placed.order_id}"
    sandbox: Any = sc.stack.sandboxes[WOO]
    order = sandbox.order(int(str(placed.order_id)))
    response = httpx.post(
        f"{base}/refund",
        json={
            "amount": order["total"],
            "reason": "changed their mind",
            "restock": True,
            "lines": [
                {"line_id": str(li["id"]), "quantity": li["quantity"]} for li in order["line_items"]
            ],
        },
        timeout=10.0,
    )
    return Sent(f"refund: {placed.label}", response.status_code, placed.order_id, {}, WOO)


def check_woocommerce(sc: Scenario, sent: list[Sent]) -> list[str]:
    _, _, orders = stores(sc.stack)

    def order_of(label: str) -> Any:
        placed = next(s for s in sent if s.label == label)
        return orders.get(sc.stack.order_key(WOO, str(placed.order_id)))

    problems = []
    refunded, lost, cancelled = order_of(REFUNDED), order_of(LOST_WEBHOOK), order_of(CANCELLED)
    if not refunded or refunded.status is not OrderStatus.REFUNDED:
        problems.append(f"{REFUNDED}: expected the order refunded, its stock released")
    if not lost or [h[2] for h in lost.history] != ["stock reserved (poll)"]:
        problems.append(f"{LOST_WEBHOOK}: expected the poll to take it in, once")
    if not cancelled or cancelled.status is not OrderStatus.CANCELLED:
        problems.append(f"{CANCELLED}: expected the order cancelled, its stock released")
    return problems


PART = DemoPart(
    WOO,
    woocommerce_buyers,
    accepted=(TWO_TEES, LOST_WEBHOOK),
    orders=4,  # two tees, the cancelled, the refunded, the one the poll found
    check=check_woocommerce,
)
