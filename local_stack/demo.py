"""`keel demo`: Keel's main job, end to end, on the embedded local stack.

Starts from a merchant who already sells (`--seed merchant`, local_stack/demo_onboarding.py):
imports the catalog file, discovers, links and connects all four channels. Then sends a burst
of orders: signed Shopify webhooks sent
straight to the gateway (a duplicate delivery, a replayed order, a bad signature, an
unparseable signed body, an unknown product, two concurrent orders for the last unit of a SKU),
WooCommerce's activation ping, and orders placed in the WooCommerce and Shopify sandboxes
through their `/__sandbox/orders` control surface (each sandbox lowers what it shows and
notifies Keel as the real channel does; bol.com's part is local_stack/demo_bol.py). Then the
order lifecycle: a Shopify order edited to
more units, a WooCommerce order cancelled and another refunded in full (their stock returns to
every channel), an order whose webhook never arrives found by the next poll, and a held buyer
released by a stock receipt. Once the flow settles it checks what Keel and *every* channel show
against expectations computed from the scenario; then an operator lowers a listing's cap and
the channels are checked again.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from local_stack.demo_amazon import wait_for_accepted_writes
from local_stack.demo_onboarding import OnboardingReport, onboard
from local_stack.demo_parts import parts_for
from local_stack.demo_prices import PricingReport, price_everything
from local_stack.demo_reconcile import ReconcileReport, hand_edits_and_a_dead_webhook
from local_stack.demo_recovery import edit_after_the_label, last_unit_twice_in_shopify
from local_stack.demo_scenario import SKU, Scenario, Sent, place_in_sandbox
from local_stack.sandboxes.shopify import SandboxLine
from local_stack.seed import DEMO_SKUS, DemoSku
from local_stack.stack import LocalStack, stores
from shared.channels.registry import BY_NAME
from shared.domain.intake import HOLD_INSUFFICIENT, HOLD_UNMATCHED
from shared.domain.inventory import StockLevel
from shared.domain.listings import Listing, ListingRules, one_quantity, stock_slot
from shared.domain.orders import OrderStatus
from shared.services import stock
from shared.services.stock import derived_quantity

# The webhook's own story, told with Shopify (duplicates, a forgery, a garbled body, an edit,
# a race for the last unit); every other channel adds its part (local_stack/demo_parts.py).
ACCEPTED = ("two mugs", "tee + mug", "one mug in Shopify")
EDITED = "edit: two mugs become three"  # its `lines` are what the edit adds
# The accepted three, the unknown product and both lamp buyers; then each part's.
CORE_ORDERS = 6
RESTOCK = "PO-LAMP-1"
RECEIVED = {"KEEL-LAMP": 1}  # what the scenario receives after seeding
CAP_CHANGE = ("KEEL-MUG-BLUE", "woocommerce", 5)  # sku, channel, new cap
PARCEL_CANCELLED = 2000  # Sendcloud's status of a cancelled parcel


@dataclass
class ChannelView:
    derived: int
    shows: int | None


@dataclass
class SkuRow:
    sku: str
    on_hand: int
    reserved: int
    available: int
    expected_reserved: int
    channels: dict[str, ChannelView]


@dataclass
class DemoReport:
    sent: list[Sent]
    reserved_orders: list[tuple[str, str]]  # (channel order, lines)
    held_orders: list[tuple[str, str]]  # (channel order, reason)
    held_deliveries: list[tuple[str, str]]  # (delivery id, reason)
    cancelled_orders: list[tuple[str, str]]  # (channel order, last change's cause)
    refunded_orders: list[tuple[str, str]]  # (channel order, last change's cause)
    rejected: list[Sent]
    skus: list[SkuRow]
    skus_after_cap_change: list[SkuRow]
    problems: list[str]
    dead_letters: dict[str, int]
    # (channel order, carrier, tracking number, what the channel's sandbox was told)
    shipped: list[tuple[str, str, str, str]] = field(default_factory=list)
    skus_after_shipping: list[SkuRow] = field(default_factory=list)
    # (what happened, what Keel did): the recoveries of local_stack/demo_recovery.py
    recovered: list[tuple[str, str]] = field(default_factory=list)
    pricing: PricingReport = field(default_factory=PricingReport)
    onboarding: OnboardingReport = field(default_factory=OnboardingReport)
    reconciliation: ReconcileReport = field(default_factory=ReconcileReport)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        def rows(skus: list[SkuRow]) -> list[dict[str, Any]]:
            return [
                {**r.__dict__, "channels": {c: v.__dict__ for c, v in r.channels.items()}}
                for r in skus
            ]

        return {
            "ok": self.ok,
            "sent": [s.__dict__ for s in self.sent],
            "reserved_orders": self.reserved_orders,
            "held_orders": self.held_orders,
            "held_deliveries": self.held_deliveries,
            "cancelled_orders": self.cancelled_orders,
            "refunded_orders": self.refunded_orders,
            "skus": rows(self.skus),
            "cap_change": {"sku": CAP_CHANGE[0], "channel": CAP_CHANGE[1], "cap": CAP_CHANGE[2]},
            "skus_after_cap_change": rows(self.skus_after_cap_change),
            "shipped": self.shipped,
            "skus_after_shipping": rows(self.skus_after_shipping),
            "recovered": self.recovered,
            "prices": [r.__dict__ for r in self.pricing.rows],
            "repriced": self.pricing.repriced,
            "onboarding": self.onboarding.as_dict(),
            "reconciliation": self.reconciliation.as_dict(),
            "dead_letters": self.dead_letters,
            "problems": self.problems,
        }


def _line(sc: Scenario, item: DemoSku, qty: int) -> SandboxLine:
    variant_id = int(sc.refs[item.sku]["shopify"]["variant_id"])
    return SandboxLine(variant_id, item.sku, item.title, qty, item.price)


def _send_order(sc: Scenario, label: str, lines: list[SandboxLine], **kw: Any) -> Sent:
    payload = sc.shopify.order_payload(lines)
    sc.shopify.remember(payload)  # the shop has the order its webhook speaks of
    body = sc.shopify.encode(payload)
    url = sc.stack.webhook_url_for("shopify")
    response = sc.shopify.deliver(url, body, sc.shopify.headers(body, **kw))
    skus = Counter[str]()
    for ln in lines:
        skus[ln.sku or "?"] += ln.quantity
    return Sent(label, response.status_code, payload["id"], dict(skus))


def _edit(sc: Scenario, payload: dict[str, Any], now: dict[str, int], label: str) -> Sent:
    """The shop edits an order (the buyer wants more): orders/updated with the current lines."""
    edited: dict[str, Any] = json.loads(json.dumps(payload))
    edited["updated_at"] = datetime.now(UTC).isoformat()
    added = Counter[str]()
    for line in edited["line_items"]:
        if line["sku"] in now:
            added[line["sku"]] += now[line["sku"]] - line["quantity"]
            line["current_quantity"] = now[line["sku"]]
    total = sum(
        Decimal(ln["price"]) * ln.get("current_quantity", ln["quantity"])
        for ln in edited["line_items"]
    )
    edited["current_total_price_set"] = {
        side: {**edited["total_price_set"][side], "amount": f"{total:.2f}"}
        for side in ("shop_money", "presentment_money")
    }
    sc.shopify.remember(edited)
    body = sc.shopify.encode(edited)
    response = sc.shopify.deliver(
        sc.stack.webhook_url_for("shopify"), body, sc.shopify.headers(body, "orders/updated")
    )
    return Sent(label, response.status_code, payload["id"], dict(added))


def _named(order: Any) -> str:
    """An order as the report names it: its channel, its shop when not the first, its name."""
    return f"{BY_NAME[order.channel].listing_label(order.listing_account)} {order.name}"


def accepted_labels(sc: Scenario) -> tuple[str, ...]:
    """The orders that end reserved: the core's and every part's."""
    return (*ACCEPTED, *(label for p in parts_for(sc.stack.sandboxes) for label in p.accepted))


def run_scenario(sc: Scenario) -> list[Sent]:
    mug, tee, lamp = SKU["KEEL-MUG-BLUE"], SKU["KEEL-TEE-M"], SKU["KEEL-LAMP"]
    shopify = sc.shopify
    url = sc.stack.webhook_url_for("shopify")
    sent: list[Sent] = []

    two_mugs = shopify.order_payload([_line(sc, mug, 2)])
    shopify.remember(two_mugs)
    body = shopify.encode(two_mugs)
    answer = shopify.deliver(url, body, shopify.headers(body))
    sent.append(Sent("two mugs", answer.status_code, two_mugs["id"], {mug.sku: 2}))

    # Shopify retries a delivery with the same webhook id: acknowledged, not enqueued again.
    payload = shopify.order_payload([_line(sc, tee, 1), _line(sc, mug, 1)])
    shopify.remember(payload)
    body = shopify.encode(payload)
    headers = shopify.headers(body)
    for label in ("tee + mug", "tee + mug (duplicate delivery)"):
        status = shopify.deliver(url, body, headers).status_code
        sent.append(Sent(label, status, payload["id"], {tee.sku: 1, mug.sku: 1}))
    # The same order under a new webhook id (e.g. after the delivery record expired): the
    # business key (channel, order id) makes it harmless.
    status = shopify.deliver(url, body, shopify.headers(body)).status_code
    sent.append(Sent("tee + mug (replayed order)", status, payload["id"], {tee.sku: 1, mug.sku: 1}))

    sent.append(
        _send_order(sc, "bad signature", [_line(sc, mug, 1)], signature="bm90LXRoZS1zaWduYXR1cmU=")
    )

    garbled = b'{"id": 1234, "line_items": "this is not a list"'
    status = shopify.deliver(url, garbled, shopify.headers(garbled)).status_code
    sent.append(Sent("unparseable signed body", status))

    ghost = SandboxLine(44999999999, "NOT-IN-CATALOG", "Ghost item", 1, mug.price)
    sent.append(_send_order(sc, "unknown product", [ghost]))

    # A buyer in the shop itself: the sandbox keeps the order, lowers what it shows and sends
    # its signed webhook, as the real shop does.
    sent.append(place_in_sandbox(sc, "shopify", "one mug in Shopify", {mug.sku: 1}))

    # Two buyers, one lamp left: both deliveries race through ingest.
    race: list[Sent] = []
    threads = [
        threading.Thread(
            target=lambda n=n: race.append(
                _send_order(sc, f"last lamp, buyer {n}", [_line(sc, lamp, 1)])
            )
        )
        for n in (1, 2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent.extend(sorted(race, key=lambda s: s.label))

    # Every other channel's buyers and shop, through its sandbox (its DemoPart).
    for part in parts_for(sc.stack.sandboxes):
        sent.extend(part.buyers(sc))

    # The buyer of two mugs asks for a third: the shop edits the order and sends
    # orders/updated; the reservation follows the order's current lines.
    sent.append(_edit(sc, two_mugs, {mug.sku: 3}, EDITED))

    # The buyer who lost the race for the last lamp waits, held for stock. A lamp arrives
    # (`keel stock receive KEEL-LAMP 1 --reference PO-LAMP-1`): the held order is reserved.
    sc.stack.wait_idle(30)
    _, inventory, _ = stores(sc.stack)
    restocked = stock.receive(inventory, lamp.sku, 1, RESTOCK, "keel-demo", datetime.now(UTC))
    sent.append(Sent(f"receipt {RESTOCK}: 1 lamp", 200 if restocked else 409, None, {}, "keel"))
    return sent


def _shown(stack: LocalStack) -> dict[str, dict[str, int | None]]:
    """Stock slot (channel[@account]) -> listing id -> quantity, read through each account's
    sandbox's control surface."""
    shown: dict[str, dict[str, int | None]] = {}
    for channel, targets in stack.listing_targets().items():
        for target in targets:
            answer = httpx.get(f"{target.url}/__sandbox/listings", timeout=10.0)
            answer.raise_for_status()
            rows = {str(row["listing_id"]): row["quantity"] for row in answer.json()}
            shown[stock_slot(channel, target.account)] = rows
    return shown


def _listing_id(refs: dict[str, str]) -> str:
    """The id a sandbox lists an item under: the one its refs name as `listing_id` (bol.com's
    offer), else Shopify's variant, WooCommerce's item."""
    return (
        refs.get("listing_id")
        or refs.get("variant_id")
        or refs.get("item_id")
        or refs.get("product_id", "?")
    )


def stock_rows(
    sc: Scenario,
    expected_reserved: Counter[str],
    rules_override: dict[tuple[str, str], ListingRules],
    problems: list[str],
    when: str,
) -> list[SkuRow]:
    """Every listing of every SKU (each account, each marketplace): what Keel derived for it,
    what its channel shows, and what the scenario alone says it should be. Listings that share
    a slot (Amazon's marketplaces) share one quantity, derived with their strictest rules.
    `rules_override`: (sku, listing key) -> rules an operator set since seeding."""
    catalog, inventory, _ = stores(sc.stack)
    wait_for_accepted_writes(sc.stack)
    shown = _shown(sc.stack)
    rows: list[SkuRow] = []
    for item in DEMO_SKUS:
        level = inventory.get(item.sku) or StockLevel(item.sku)
        on_hand = item.on_hand + RECEIVED.get(item.sku, 0)
        expected_available = max(0, on_hand - expected_reserved[item.sku] - item.safety_stock)
        listings = sorted(catalog.listings_for(item.sku), key=lambda x: x.key)
        by_slot: dict[str, list[Listing]] = {}
        for listing in listings:
            by_slot.setdefault(listing.slot, []).append(listing)
        views: dict[str, ChannelView] = {}
        for listing in listings:
            label = BY_NAME[listing.channel].listing_label(listing.account, listing.marketplace)
            derived = derived_quantity(one_quantity(by_slot[listing.slot]), level.available)
            shows = shown.get(listing.slot, {}).get(_listing_id(listing.refs))
            views[label] = ChannelView(derived, shows)
            planned = [
                replace(x, rules=rules_override.get((item.sku, x.key), item.rules_on(x.channel)))
                for x in by_slot[listing.slot]
            ]
            wanted = derived_quantity(one_quantity(planned), expected_available)
            if derived != wanted:
                problems.append(
                    f"{when}: {item.sku} derived for {label} {derived}, expected {wanted}"
                )
            if shows != derived:
                problems.append(
                    f"{when}: {item.sku}: {label} shows {shows}, Keel derived {derived}"
                )
        rows.append(
            SkuRow(
                item.sku,
                level.on_hand,
                level.reserved,
                level.available,
                expected_reserved[item.sku],
                views,
            )
        )
    return rows


def build_report(sc: Scenario, sent: list[Sent]) -> tuple[DemoReport, Counter[str]]:
    stack = sc.stack
    _, inventory, orders_store = stores(stack)
    orders = orders_store.orders()
    problems: list[str] = []
    by_id = {(o.channel, o.external_id): o for o in orders}

    def expect(label: str, condition: bool) -> None:
        if not condition:
            problems.append(label)

    for s in sent:
        wanted = 401 if s.label == "bad signature" else 200
        expect(f"{s.label}: HTTP {s.status}, expected {wanted}", s.status == wanted)

    def order_of(label: str) -> Any:
        sent_item = next(s for s in sent if s.label == label)
        return by_id.get((sent_item.channel, str(sent_item.order_id)))

    accepted = accepted_labels(sc)
    for label in accepted:
        order = order_of(label)
        expect(
            f"{label}: expected a reserved order",
            bool(order) and order.status == OrderStatus.RESERVED,
        )
    edited = order_of("two mugs")
    expect(
        "edit: expected the two-mug order to reserve three after its edit",
        bool(edited) and [ln.quantity for ln in edited.lines] == [3],
    )
    ghost = order_of("unknown product")
    expect(
        "unknown product: expected an order held as unmatched",
        bool(ghost)
        and ghost.status == OrderStatus.HELD
        and HOLD_UNMATCHED in (ghost.hold_reason or ""),
    )
    bad = next(s for s in sent if s.label == "bad signature")
    expect("bad signature: nothing may be stored", ("shopify", str(bad.order_id)) not in by_id)
    race = [order_of(s.label) for s in sent if s.label.startswith("last lamp")]
    race_status = sorted(o.status.value if o else "missing" for o in race)
    expect(
        f"last lamp: expected both reserved once a lamp arrived, got {race_status}",
        race_status == ["reserved", "reserved"],
    )
    waited = [o for o in race if o and [h[1] for h in o.history] == ["held", "reserved"]]
    expect(
        "last lamp: the loser was held for insufficient stock, then released by the receipt",
        len(waited) == 1 and HOLD_INSUFFICIENT in waited[0].history[0][2],
    )
    held_deliveries = orders_store.held_deliveries()
    expect(
        f"unparseable body: expected 1 held delivery, got {len(held_deliveries)}",
        len(held_deliveries) == 1,
    )
    expected_orders = CORE_ORDERS + sum(p.orders for p in parts_for(stack.sandboxes))
    expect(
        f"expected {expected_orders} distinct orders stored, got {len(orders)}",
        len(orders) == expected_orders,
    )

    # Expected stock, from the scenario alone: seeded on hand minus what accepted orders reserve.
    expected_reserved = Counter[str]()
    for s in sent:
        if s.label in (*accepted, EDITED):
            expected_reserved.update(s.lines)
    expected_reserved["KEEL-LAMP"] += 2  # one buyer gets the last lamp, the other the new one

    rows = stock_rows(sc, expected_reserved, {}, problems, "after the orders")
    for row, item in zip(rows, DEMO_SKUS, strict=True):
        on_hand = item.on_hand + RECEIVED.get(item.sku, 0)
        expect(f"{item.sku}: on_hand {row.on_hand}, expected {on_hand}", row.on_hand == on_hand)
        expect(
            f"{item.sku}: reserved {row.reserved}, expected {row.expected_reserved}",
            row.reserved == row.expected_reserved,
        )
        reservations = inventory.open_reservations(item.sku)
        expect(
            f"{item.sku}: reserved {row.reserved} != sum of open reservations",
            row.reserved == sum(reservations.values()),
        )
        expect(
            f"{item.sku}: on_hand {row.on_hand} != sum of the ledger",
            row.on_hand == sum(m.quantity for m in inventory.ledger(item.sku)),
        )

    report = DemoReport(
        sent=sent,
        reserved_orders=[
            (_named(o), ", ".join(f"{ln.quantity}x {ln.sku}" for ln in o.lines))
            for o in orders
            if o.status == OrderStatus.RESERVED
        ],
        held_orders=[
            (_named(o), o.hold_reason or "") for o in orders if o.status == OrderStatus.HELD
        ],
        held_deliveries=[(h.delivery_id, h.reason[:100]) for h in held_deliveries],
        cancelled_orders=[
            (_named(o), o.history[-1][2] if o.history else "")
            for o in orders
            if o.status == OrderStatus.CANCELLED
        ],
        refunded_orders=[
            (_named(o), o.history[-1][2] if o.history else "")
            for o in orders
            if o.status == OrderStatus.REFUNDED
        ],
        rejected=[s for s in sent if s.status >= 400],
        skus=rows,
        skus_after_cap_change=[],
        problems=problems,
        dead_letters={},
    )
    return report, expected_reserved


def change_cap(sc: Scenario, expected_reserved: Counter[str], report: DemoReport) -> None:
    """An operator lowers a listing's cap (as `keel listings set` does): no stock moves, yet
    the channel must show less; the catalog's stream carries the change."""
    sku, channel, cap = CAP_CHANGE
    catalog, _, _ = stores(sc.stack)
    listing = catalog.listing(sku, channel)
    assert listing is not None
    rules = ListingRules(listing.rules.share, listing.rules.buffer, cap)
    catalog.change_rules(sku, channel, rules, "keel-demo", "demo: cap lowered", datetime.now(UTC))
    settled = sc.stack.wait_idle(60)
    if not settled:
        report.problems.append("after the cap change: the flow did not settle within 60 s")
    report.skus_after_cap_change = stock_rows(
        sc, expected_reserved, {(sku, channel): rules}, report.problems, "after the cap change"
    )


def ship_everything(sc: Scenario, expected_reserved: Counter[str], report: DemoReport) -> None:
    """The warehouse hands every accepted order's parcel to the carrier: Sendcloud's sandbox
    moves it to "En route to sorting center" and sends its signed webhook; each order's
    workflow then confirms on its channel (carrier, tracking) and commits the stock."""
    _, inventory, orders_store = stores(sc.stack)
    accepted = {o.key: o for o in orders_store.orders() if o.accepted}
    control = f"{sc.stack.sandbox_url('sendcloud')}/__sandbox"
    parcels: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 60
    while set(parcels) != set(accepted) and time.monotonic() < deadline:
        rows = httpx.get(f"{control}/parcels", timeout=10.0).json()
        parcels = {}
        for p in rows:  # an order re-planned after an edit: its live parcel is `<key>#<n>`
            key = p["external_reference_id"]
            key = key if key in accepted else key.rpartition("#")[0]
            if key in accepted and p["status_id"] != PARCEL_CANCELLED:
                parcels[key] = p
        time.sleep(0.2)
    for key in sorted(set(accepted) - set(parcels)):
        report.problems.append(f"shipping: no parcel was announced for {key}")
    for parcel in parcels.values():
        httpx.post(
            f"{control}/parcels/{parcel['parcel_id']}/status",
            json={"status_id": 3, "message": "En route to sorting center"},
            timeout=10.0,
        )
    shipped: dict[str, Any] = {}
    deadline = time.monotonic() + 90
    while len(shipped) < len(accepted) and time.monotonic() < deadline:
        now = {o.key: o for o in orders_store.orders()}
        shipped = {k: now[k] for k in accepted if now[k].status == OrderStatus.SHIPPED}
        time.sleep(0.3)
    sc.stack.wait_idle(60)
    told = {  # per account: a second shop's shipments are told to that shop
        stock_slot(channel, target.account): httpx.get(
            f"{target.url}/__sandbox/shipments", timeout=10.0
        ).json()
        for channel, targets in sc.stack.listing_targets().items()
        for target in targets
    }
    moved = Counter[str]()
    for key, order in sorted(accepted.items(), key=lambda kv: kv[1].name):
        announced = parcels.get(key)
        tracking = announced["tracking_number"] if announced else "-"
        seen = [t for t in told[order.slot] if t["order_id"] == order.external_id]
        if key not in shipped:
            report.problems.append(f"shipping: {order.channel} {order.name} did not ship")
        elif [t["tracking_number"] for t in seen] != [tracking]:
            report.problems.append(f"shipping: {order.channel} {order.name}: channel told {seen}")
        for line in order.lines:
            if line.sku and line.stock:
                moved[line.sku] += line.quantity
        report.shipped.append(
            (_named(order), "postnl", tracking,
             ", ".join(t["tracking_number"] for t in seen) or "nothing")
        )  # fmt: skip
    catalog, _, _ = stores(sc.stack)
    capped = catalog.listing(CAP_CHANGE[0], CAP_CHANGE[1])  # the first account's: its key
    assert capped is not None
    rows = stock_rows(sc, expected_reserved, {CAP_CHANGE[:2]: capped.rules}, report.problems,
                      "after shipping")  # fmt: skip
    for row, item in zip(rows, DEMO_SKUS, strict=True):
        on_hand = item.on_hand + RECEIVED.get(item.sku, 0) - moved[item.sku]
        if (row.on_hand, row.reserved) != (on_hand, 0):
            report.problems.append(
                f"after shipping: {item.sku} on_hand/reserved {row.on_hand}/{row.reserved}, "
                f"expected {on_hand}/0"
            )
        ledger = sum(m.quantity for m in inventory.ledger(item.sku))
        if ledger != row.on_hand:
            report.problems.append(f"after shipping: {item.sku} ledger {ledger} != on_hand")
    report.skus_after_shipping = rows


def run_demo(
    stack: LocalStack,
    settle_timeout_s: float = 60.0,
    progress: Callable[[str], None] = lambda step: None,
) -> DemoReport:
    """`progress` hears each step of the scenario as it starts."""
    progress("onboarding the merchant: import the catalog, discover, link and connect channels")
    problems: list[str] = []
    onboarding, refs = onboard(stack, problems)
    settled = stack.wait_idle(settle_timeout_s)
    scenario = Scenario(stack, refs)
    progress("sending orders, duplicates, forgeries and edits through every channel")
    sent = run_scenario(scenario)
    settled = stack.wait_idle(settle_timeout_s) and settled
    progress("checking what Keel made of them, and what every channel shows")
    report, expected_reserved = build_report(scenario, sent)
    report.onboarding = onboarding
    report.problems[:0] = problems
    for part in parts_for(stack.sandboxes):
        report.problems.extend(part.check(scenario, sent))
    if not settled:
        report.problems.insert(0, f"the flow did not settle within {settle_timeout_s:.0f} s")
    progress("lowering a listing's cap")
    change_cap(scenario, expected_reserved, report)
    progress("handing every parcel to the carrier")
    ship_everything(scenario, expected_reserved, report)
    progress("two Shopify buyers for the last lamp: the shop goes below zero")
    recovered = last_unit_twice_in_shopify(stack, refs, report.problems)
    progress("an order edited after its parcel was labelled")
    report.recovered = [*recovered, *edit_after_the_label(stack, refs, report.problems)]
    progress("pricing every listing from one price per SKU; competitors undercut on Amazon")
    report.pricing = price_everything(stack, report.problems)
    progress("hand edits in WooCommerce and bol, a dead webhook: reconciliation puts it right")
    report.reconciliation = hand_edits_and_a_dead_webhook(stack, refs, report.problems)
    dead = {
        k: v for k, v in stack.queue_depths().items() if k.endswith(("-dlq", "-stream-failures"))
    }
    report.dead_letters = dead
    if any(dead.values()):
        report.problems.append(f"dead-letter queues should be empty: {dead}")
    return report
