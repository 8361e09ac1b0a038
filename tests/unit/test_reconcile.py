"""Reconciliation as a service, against every channel's sandbox in process and the in-memory
stores: a silent hand edit found by a dry run (nothing changes) and repaired by a run (the
channel's shown value recorded as the publish's base, a trigger on its sync queue); a stale
report's candidate read again before anything is repaired; a write in flight not compared; a
disabled subscription re-armed and the poll run; drift that survives two runs counted; the
books check reporting a corrupted level without fixing it."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from local_stack.http import Request
from local_stack.sandboxes.amazon import AmazonSandbox
from local_stack.sandboxes.bol import BolSandbox
from local_stack.sandboxes.listing_controls import ListingControls
from local_stack.sandboxes.shopify import ShopifySandbox
from local_stack.sandboxes.woocommerce import WooCommerceSandbox
from shared.channels.registry import BY_NAME
from shared.domain.books import ENDED_HOLDS_STOCK, RESERVED_SUM, check_order
from shared.domain.inventory import Movement, MovementCause, StockLevel
from shared.domain.listings import Listing
from shared.domain.orders import Money, Order, OrderLine, OrderStatus
from shared.domain.pricing import PriceDecision
from shared.services.books import check_books
from shared.services.onboarding import ChannelAccess, connect_channel
from shared.services.reconcile import Reconciler, reconcile_channel
from tests.fakes.prices import MemoryPriceBook
from tests.fakes.stores import MemoryStores
from tests.unit.test_onboarding_adapters import control, manager, reader

D = Decimal
NOW = datetime(2026, 12, 6, 9, tzinfo=UTC)


class Triggers:
    """The sync queue, as reconciliation's repairs see it."""

    def __init__(self) -> None:
        self.stock: list[tuple[str, str]] = []
        self.prices: list[tuple[str, str]] = []
        self.waiting: list[tuple[str, str, str]] = []

    def stock_trigger(self, listing: Listing) -> None:
        self.waiting.append(("stock", listing.sku, listing.slot))

    def price_trigger(self, listing: Listing) -> None:
        self.waiting.append(("price", listing.sku, listing.key))

    def flush(self) -> list[str]:
        for kind, sku, where in self.waiting:
            (self.stock if kind == "stock" else self.prices).append((sku, where))
        self.waiting = []
        return []


class Repairs:
    def __init__(self, triggers: Triggers) -> None:
        self.stock, self.price, self.flush = (
            triggers.stock_trigger,
            triggers.price_trigger,
            triggers.flush,
        )


def make(channel: str) -> Any:
    if channel == "shopify":
        return ShopifySandbox()
    if channel == "woocommerce":
        return WooCommerceSandbox()
    if channel == "bol":
        sandbox = BolSandbox()
        sandbox.process_delay_s = 0
        return sandbox
    amazon = AmazonSandbox()
    amazon.report_delay_s = 0
    return amazon


class World:
    """Keel (stores, price book) and one channel's sandbox with MUG listed on both."""

    def __init__(self, channel: str, quantity: int = 7, price: str = "12.50") -> None:
        self.channel, self.sandbox = channel, make(channel)
        self.stores, self.book, self.triggers = MemoryStores(), MemoryPriceBook(), Triggers()
        marketplace = self.sandbox.marketplace_id if channel == "amazon" else ""
        refs = self.sandbox.add_listing(
            "MUG", "Mug", D(price), quantity, marketplace=marketplace, gtin="4006381333931"
        )
        self.listing = Listing("MUG", channel, refs, marketplace=marketplace)
        self.stores.catalog.put_listing(self.listing, BY_NAME[channel].lookup_refs)
        receipt = Movement("MUG", MovementCause.RECEIPT, quantity, "po-1", "ops", NOW)
        self.stores.inventory.receive(receipt)
        self.book.publish(
            PriceDecision("d1", "MUG", self.listing.key, channel, None, D(price), None, "EUR",
                          None, None, "fixed", "seed", "published", "ops", NOW)
        )  # fmt: skip
        self.polled: list[str] = []
        self.now = NOW

    @property
    def listing_id(self) -> str:
        spec = BY_NAME[self.channel]
        return self.listing.refs.get(spec.line_item_ref or "", "") or self.listing.refs.get(
            "listing_id", ""
        )

    def access(self) -> ChannelAccess:
        places = (("", self.listing.marketplace),)
        return ChannelAccess(
            BY_NAME[self.channel],
            places,
            lambda _: reader(self.channel, self.sandbox),
            lambda _: manager(self.channel, self.sandbox),
        )

    def reconciler(self, address: str | None = None) -> Reconciler:
        def poll(account: str) -> list[str]:
            self.polled.append(account)
            return []

        return Reconciler(
            self.access(),
            self.stores.catalog,
            self.stores.catalog,
            self.stores.inventory,
            self.book,
            self.stores.catalog,
            Repairs(self.triggers),
            lambda: self.now,
            address=address,
            poll=poll,
        )

    def run(self, dry_run: bool = False, address: str | None = None) -> dict[str, Any]:
        return reconcile_channel(self.reconciler(address), dry_run).as_dict()

    def edit(self, **change: Any) -> None:
        control(self.sandbox, "PATCH", f"/listings/{self.listing_id}", {**change, "notify": False})


CHANNELS = ["shopify", "woocommerce", "bol", "amazon"]


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_silent_hand_edit_is_found_by_a_dry_run_and_repaired_by_a_run(channel: str) -> None:
    world = World(channel)
    assert world.run()["drift"] == []  # in step: nothing to do
    assert world.triggers.stock == world.triggers.prices == []
    assert world.polled == [""]  # orders first: a sale Keel missed is not drift
    world.polled = []
    world.edit(quantity=2, price="9.99")

    dry = world.run(dry_run=True)
    assert {(d["field"], d["keel"], d["channel"]) for d in dry["drift"]} == {
        ("quantity", "7", "2"),
        ("price", "12.50", "9.99"),
    }
    assert dry["repaired"] == 0 and dry["confirming_reads"] == 1
    assert world.triggers.stock == world.triggers.prices == []
    assert world.stores.world.shown == {} and world.book.shown == {}
    assert world.stores.catalog.open_drift(channel) == {}  # a dry run records nothing
    assert world.polled == []

    done = world.run()
    assert len(done["drift"]) == 2 and done["repaired"] == 2
    assert done["drift"][0]["listing_id"] == world.listing_id
    assert world.triggers.stock == [("MUG", channel)]
    assert world.triggers.prices == [("MUG", world.listing.key)]
    # The publish's base is what the channel was seen to show (Shopify's compare-and-set).
    assert world.stores.world.shown[("MUG", channel)][0] == 2
    assert world.book.shown[("MUG", world.listing.key)] == (D("9.99"), None)
    assert world.polled == [""]


def test_a_stale_report_is_only_a_candidate_the_item_read_decides() -> None:
    world = World("amazon")
    world.sandbox.report_delay_s = 0
    listing = world.sandbox._listings[(world.sandbox.marketplace_id, "MUG")]
    reports = world.sandbox._listings_tsv

    def stale(marketplace: str) -> bytes:  # the report still says 3; the listing shows 7
        listing.quantity = 3
        try:
            return bytes(reports(marketplace))
        finally:
            listing.quantity = 7

    world.sandbox._listings_tsv = stale
    found = world.run()
    assert found["candidates"] == 1 and found["confirming_reads"] == 1
    assert found["drift"] == [] and found["repaired"] == 0
    assert world.triggers.stock == []


def test_a_stock_write_in_flight_is_not_compared() -> None:
    world = World("bol")
    world.stores.catalog.record_pending("MUG", "bol", 5, "process-1", NOW - timedelta(minutes=1))
    world.edit(quantity=2)
    found = world.run()
    assert found["in_flight"] == 1 and found["drift"] == []


def test_drift_that_survives_two_runs_is_counted_and_its_age_kept() -> None:
    world = World("woocommerce")
    world.edit(quantity=1)
    first = world.run()
    assert first["persisting"] == 0 and first["oldest_drift_s"] == 0
    world.now = NOW + timedelta(minutes=15)  # the repair never reached the channel
    second = world.run()
    assert second["persisting"] == 1 and second["oldest_drift_s"] == 900
    world.edit(quantity=7)
    world.now = NOW + timedelta(minutes=30)
    third = world.run()
    assert third["drift"] == [] and third["persisting"] == 0
    assert world.stores.catalog.open_drift("woocommerce") == {}


def test_a_listing_keel_has_that_the_channel_does_not_is_reported_missing() -> None:
    world = World("woocommerce")
    gone = Listing("LAMP", "woocommerce", {"product_id": "999", "item_id": "999", "sku": "LAMP"})
    world.stores.catalog.put_listing(gone)
    found = world.run()
    assert found["missing_on_channel"] == [
        {"listing_id": "999", "sku": "LAMP", "listing": "woocommerce"}
    ]


def test_a_disabled_subscription_is_re_armed_then_the_poll_runs() -> None:
    world = World("woocommerce")
    address = "http://keel.test/webhooks/woocommerce"
    connect_channel(world.access(), address)
    victim = next(iter(world.sandbox.subscriptions.items))
    control(world.sandbox, "POST", f"/subscriptions/{victim}/disable")
    dry = world.run(dry_run=True, address=address)
    assert dry["subscriptions_rearmed"] == 0
    assert [s["action"] for s in dry["subscriptions"]] == ["would fix"]
    assert not world.sandbox.subscriptions.items[victim].active
    done = world.run(address=address)
    assert done["subscriptions_rearmed"] == 1
    assert [s["action"] for s in done["subscriptions"]] == ["re-enabled"]
    assert world.sandbox.subscriptions.items[victim].active
    assert world.polled == [""]
    assert world.run(address=address)["subscriptions_rearmed"] == 0


def test_reads_stay_within_the_channels_budget() -> None:
    """Forty listings, two edited: one bulk read, two confirming reads."""
    world = World("shopify")
    for n in range(39):
        refs = world.sandbox.add_listing(f"SKU{n}", "x", D("5.00"), 3)
        world.stores.catalog.put_listing(Listing(f"SKU{n}", "shopify", refs))
        world.stores.inventory.receive(
            Movement(f"SKU{n}", MovementCause.RECEIPT, 3, f"po-{n}", "ops", NOW)
        )
    before = len(world.sandbox.graphql_calls)
    world.edit(quantity=1)
    refs = world.stores.catalog.listings_for("SKU5")[0].refs
    control(world.sandbox, "PATCH", f"/listings/{refs['variant_id']}", {"quantity": 0})
    found = world.run()
    assert found["checked"] == 40 and len(found["drift"]) == 2
    calls = world.sandbox.graphql_calls[before:]
    reads = [c.variables for c in calls if c.variables]  # the primary location's has none
    assert len(calls) == 1 + 1 + 2, reads  # the location, one page of 100, two point reads
    assert [("first" in v, "id" in v) for v in reads] == [
        (True, False),
        (False, True),
        (False, True),
    ]


def test_the_books_check_reports_a_corrupted_level_and_fixes_nothing() -> None:
    stores = MemoryStores()
    stores.inventory.receive(Movement("MUG", MovementCause.RECEIPT, 5, "po-1", "ops", NOW))
    order = Order(
        "shopify",
        "shop.example",
        "1001",
        "#1001",
        NOW,
        NOW,
        Money(D("25.00"), "EUR"),
        Money(D("25.00"), "EUR"),
        (OrderLine("l1", 2, Money(D("12.50"), "EUR"), Money(D("12.50"), "EUR"), sku="MUG"),),
    )
    stores.intake.reserve(order, {"MUG": 2}, NOW)
    assert check_books(stores.inventory, stores.orders).ok
    stores.world.levels["MUG"] = replace(stores.world.levels["MUG"], reserved=3)  # corrupted
    report = check_books(stores.inventory, stores.orders)
    assert [p.kind for p in report.problems] == [RESERVED_SUM]
    assert report.as_dict()["mismatches"][0]["sku"] == "MUG"
    assert stores.world.levels["MUG"].reserved == 3  # reported, never "fixed"


def test_an_ended_order_that_still_holds_stock_is_a_mismatch() -> None:
    order = Order(
        "woocommerce",
        "shop.example",
        "7",
        "#7",
        NOW,
        NOW,
        Money(D("5"), "EUR"),
        Money(D("5"), "EUR"),
        (OrderLine("l1", 1, Money(D("5"), "EUR"), Money(D("5"), "EUR"), sku="TEE"),),
        status=OrderStatus.CANCELLED,
    )
    assert [p.kind for p in check_order(order, {"TEE": 1})] == [ENDED_HOLDS_STOCK]
    assert check_order(order, {}) == []
    assert StockLevel("TEE").reserved == 0


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"quantity": -1}, 400),
        ({"quantity": True}, 400),
        ({"price": "abc"}, 400),
        ({"price": "0"}, 400),
        ({"notify": "no", "quantity": 1}, 400),
        ({"colour": "red"}, 400),
        ({}, 400),
        ({"quantity": 3}, 200),
    ],
)
def test_a_hand_edit_is_refused_with_a_reason_when_it_is_not_one(
    body: dict[str, Any], status: int
) -> None:
    sandbox = WooCommerceSandbox()
    refs = sandbox.add_listing("MUG", "Mug", D("12.50"), 5)
    raw = json.dumps(body).encode()
    path = f"/__sandbox/listings/{refs['item_id']}"
    answer = ListingControls(sandbox, sandbox)(Request("PATCH", path, {}, {}, raw))
    assert answer.status == status, answer.body
    missing = Request("PATCH", "/__sandbox/listings/999", {}, {}, b'{"quantity": 1}')
    assert ListingControls(sandbox, sandbox)(missing).status == 404


def test_a_notified_hand_edit_sends_the_channels_own_change_notification() -> None:
    shopify = ShopifySandbox()
    refs = shopify.add_listing("MUG", "Mug", D("12.50"), 5)
    shopify.edit_listing(refs["variant_id"], 2, D("9.99"), notify=True)
    assert [d.topic for d in shopify.deliveries] == ["inventory_levels/update", "products/update"]
    woo = WooCommerceSandbox()
    item = woo.add_listing("MUG", "Mug", D("12.50"), 5)["item_id"]
    woo.edit_listing(item, 2, None, notify=False)
    woo.edit_listing(item, 3, None, notify=True)
    assert [d.topic for d in woo.deliveries] == ["product.updated"]
