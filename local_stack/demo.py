"""`keel demo`: Keel's main job, end to end, on the embedded local stack.

Seeds three SKUs, sends a burst of signed Shopify orders through the gateway (a duplicate
delivery, a replayed order, a bad signature, an unparseable signed body, an unknown product, and
two concurrent orders for the last unit of a SKU), waits for the flow to settle, then checks
what Keel and the WooCommerce sandbox show against expectations computed from the scenario.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from local_stack.sandboxes.shopify import SandboxLine
from local_stack.seed import DEMO_SKUS, DemoSku, seed_demo
from local_stack.stack import LocalStack, stores
from shared.domain.intake import HOLD_INSUFFICIENT, HOLD_UNMATCHED
from shared.domain.inventory import StockLevel
from shared.domain.listings import channel_quantity
from shared.domain.orders import OrderStatus

SKU = {s.sku: s for s in DEMO_SKUS}


@dataclass
class Sent:
    label: str
    status: int
    order_id: int | None = None
    lines: dict[str, int] = field(default_factory=dict)  # sku -> qty


@dataclass
class SkuRow:
    sku: str
    on_hand: int
    reserved: int
    available: int
    woo_derived: int
    woo_shows: int | None
    expected_reserved: int


@dataclass
class DemoReport:
    sent: list[Sent]
    reserved_orders: list[tuple[str, str]]  # (name, lines)
    held_orders: list[tuple[str, str]]  # (name, reason)
    held_deliveries: list[tuple[str, str]]  # (delivery id, reason)
    rejected: list[Sent]
    skus: list[SkuRow]
    problems: list[str]
    dead_letters: dict[str, int]

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "sent": [s.__dict__ for s in self.sent],
            "reserved_orders": self.reserved_orders,
            "held_orders": self.held_orders,
            "held_deliveries": self.held_deliveries,
            "skus": [r.__dict__ for r in self.skus],
            "dead_letters": self.dead_letters,
            "problems": self.problems,
        }


def _line(item: DemoSku, qty: int) -> SandboxLine:
    return SandboxLine(item.shopify_variant_id, item.sku, item.title, qty, item.price)


def _send_order(stack: LocalStack, label: str, lines: list[SandboxLine], **kw: Any) -> Sent:
    payload = stack.shopify.order_payload(lines)
    body = stack.shopify.encode(payload)
    response = stack.shopify.deliver(stack.webhook_url, body, stack.shopify.headers(body, **kw))
    skus = Counter[str]()
    for ln in lines:
        skus[ln.sku or "?"] += ln.quantity
    return Sent(label, response.status_code, payload["id"], dict(skus))


def run_scenario(stack: LocalStack) -> list[Sent]:
    mug, tee, lamp = SKU["KEEL-MUG-BLUE"], SKU["KEEL-TEE-M"], SKU["KEEL-LAMP"]
    shopify = stack.shopify
    sent: list[Sent] = []

    sent.append(_send_order(stack, "two mugs", [_line(mug, 2)]))

    # Shopify retries a delivery with the same webhook id: acknowledged, not enqueued again.
    payload = shopify.order_payload([_line(tee, 1), _line(mug, 1)])
    body = shopify.encode(payload)
    headers = shopify.headers(body)
    for label in ("tee + mug", "tee + mug (duplicate delivery)"):
        status = shopify.deliver(stack.webhook_url, body, headers).status_code
        sent.append(Sent(label, status, payload["id"], {tee.sku: 1, mug.sku: 1}))
    # The same order under a new webhook id (e.g. after the delivery record expired): the
    # business key (channel, order id) makes it harmless.
    status = shopify.deliver(stack.webhook_url, body, shopify.headers(body)).status_code
    sent.append(Sent("tee + mug (replayed order)", status, payload["id"], {tee.sku: 1, mug.sku: 1}))

    sent.append(
        _send_order(stack, "bad signature", [_line(mug, 1)], signature="bm90LXRoZS1zaWduYXR1cmU=")
    )

    garbled = b'{"id": 1234, "line_items": "this is not a list"'
    status = shopify.deliver(stack.webhook_url, garbled, shopify.headers(garbled)).status_code
    sent.append(Sent("unparseable signed body", status))

    ghost = SandboxLine(44999999999, "NOT-IN-CATALOG", "Ghost item", 1, mug.price)
    sent.append(_send_order(stack, "unknown product", [ghost]))

    # Two buyers, one lamp left: both deliveries race through ingest.
    race: list[Sent] = []
    threads = [
        threading.Thread(
            target=lambda n=n: race.append(
                _send_order(stack, f"last lamp, buyer {n}", [_line(lamp, 1)])
            )
        )
        for n in (1, 2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent.extend(sorted(race, key=lambda s: s.label))
    return sent


def build_report(stack: LocalStack, sent: list[Sent]) -> DemoReport:
    catalog, inventory, orders_store = stores(stack)
    orders = orders_store.orders()
    problems: list[str] = []
    by_id = {o.external_id: o for o in orders}

    def expect(label: str, condition: bool) -> None:
        if not condition:
            problems.append(label)

    statuses = {s.label: s.status for s in sent}
    for label, status in statuses.items():
        wanted = 401 if label == "bad signature" else 200
        expect(f"{label}: HTTP {status}, expected {wanted}", status == wanted)

    def order_of(label: str) -> Any:
        sent_item = next(s for s in sent if s.label == label)
        return by_id.get(str(sent_item.order_id))

    for label in ("two mugs", "tee + mug"):
        order = order_of(label)
        expect(
            f"{label}: expected a reserved order",
            bool(order) and order.status == OrderStatus.RESERVED,
        )
    ghost = order_of("unknown product")
    expect(
        "unknown product: expected an order held as unmatched",
        bool(ghost)
        and ghost.status == OrderStatus.HELD
        and HOLD_UNMATCHED in (ghost.hold_reason or ""),
    )
    bad = next(s for s in sent if s.label == "bad signature")
    expect("bad signature: nothing may be stored", str(bad.order_id) not in by_id)
    race = [order_of(s.label) for s in sent if s.label.startswith("last lamp")]
    race_status = sorted(o.status.value if o else "missing" for o in race)
    expect(
        f"last lamp: expected one reserved and one held, got {race_status}",
        race_status == ["held", "reserved"],
    )
    held_race = [o for o in race if o and o.status == OrderStatus.HELD]
    expect(
        "last lamp: the loser is held for insufficient stock",
        all(HOLD_INSUFFICIENT in (o.hold_reason or "") for o in held_race),
    )
    held_deliveries = orders_store.held_deliveries()
    expect(
        f"unparseable body: expected 1 held delivery, got {len(held_deliveries)}",
        len(held_deliveries) == 1,
    )
    expect(f"expected 5 distinct orders stored, got {len(orders)}", len(orders) == 5)

    # Expected stock, from the scenario alone: seeded on hand minus what accepted orders reserve.
    expected_reserved = Counter[str]()
    counted: set[int] = set()
    for s in sent:
        if s.label in ("two mugs", "tee + mug") and s.order_id not in counted:
            expected_reserved.update(s.lines)
            counted.add(s.order_id or 0)
    expected_reserved["KEEL-LAMP"] += 1  # exactly one buyer gets the last lamp

    rows: list[SkuRow] = []
    for item in DEMO_SKUS:
        level = inventory.get(item.sku) or StockLevel(item.sku)
        listing = catalog.listing(item.sku, "woocommerce")
        derived = channel_quantity(level.available, listing.rules) if listing else 0
        woo_id = item.woo_variation_id or item.woo_product_id
        shows = stack.woo.stock_of(woo_id)
        row = SkuRow(
            item.sku,
            level.on_hand,
            level.reserved,
            level.available,
            derived,
            shows,
            expected_reserved[item.sku],
        )
        rows.append(row)
        expect(
            f"{item.sku}: on_hand {level.on_hand}, expected {item.on_hand}",
            level.on_hand == item.on_hand,
        )
        expect(
            f"{item.sku}: reserved {level.reserved}, expected {row.expected_reserved}",
            level.reserved == row.expected_reserved,
        )
        expected_derived = channel_quantity(
            max(0, item.on_hand - row.expected_reserved - item.safety_stock), item.woo_rules
        )
        expect(
            f"{item.sku}: derived for WooCommerce {derived}, expected {expected_derived}",
            derived == expected_derived,
        )
        expect(f"{item.sku}: WooCommerce shows {shows}, Keel derived {derived}", shows == derived)
        reservations = inventory.open_reservations(item.sku)
        expect(
            f"{item.sku}: reserved {level.reserved} != sum of open reservations",
            level.reserved == sum(reservations.values()),
        )
        expect(
            f"{item.sku}: on_hand {level.on_hand} != sum of the ledger",
            level.on_hand == sum(m.quantity for m in inventory.ledger(item.sku)),
        )

    dead = {
        k: v for k, v in stack.queue_depths().items() if k.endswith(("-dlq", "-stream-failures"))
    }
    expect(f"dead-letter queues should be empty: {dead}", not any(dead.values()))
    return DemoReport(
        sent=sent,
        reserved_orders=[
            (o.name, ", ".join(f"{ln.quantity}x {ln.sku}" for ln in o.lines))
            for o in orders
            if o.status == OrderStatus.RESERVED
        ],
        held_orders=[(o.name, o.hold_reason or "") for o in orders if o.status == OrderStatus.HELD],
        held_deliveries=[(h.delivery_id, h.reason[:100]) for h in held_deliveries],
        rejected=[s for s in sent if s.status >= 400],
        skus=rows,
        problems=problems,
        dead_letters=dead,
    )


def run_demo(stack: LocalStack, settle_timeout_s: float = 60.0) -> DemoReport:
    catalog, inventory, _ = stores(stack)
    seed_demo(catalog, inventory, stack.woo)
    settled = stack.wait_idle(settle_timeout_s)
    sent = run_scenario(stack)
    settled = stack.wait_idle(settle_timeout_s) and settled
    report = build_report(stack, sent)
    if not settled:
        report.problems.insert(0, f"the flow did not settle within {settle_timeout_s:.0f} s")
    return report
