"""Order intake (shared/services/intake.py) against the in-memory stores: no moto, so the rules
of taking versions in can run hundreds of generated histories in seconds. The fakes are held
equal to DynamoDB by tests/integration/test_inventory_differential.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.channels.registry import BY_NAME
from shared.domain.inventory import Movement, MovementCause, StockLevel
from shared.domain.orders import Money, Order, OrderLine, OrderStatus
from shared.services.intake import retry_held, sku_lookup, take_order
from shared.stores.intake import Outcome
from tests.fakes.stores import MemoryStores

NOW = datetime(2026, 12, 5, tzinfo=UTC)
EUR = Money(Decimal("5.00"), "EUR")
SHOPIFY = BY_NAME["shopify"]


def order(order_id: str, *lines: tuple[str, int], minutes: int = 0) -> Order:
    return Order(
        channel="shopify",
        account="shop.example",
        external_id=order_id,
        name=f"#{order_id}",
        created_at=NOW,
        channel_updated_at=NOW + timedelta(minutes=minutes),
        total=EUR,
        presentment_total=EUR,
        lines=tuple(
            OrderLine(str(n), qty, EUR, EUR, channel_variant_id=f"v-{sku}")
            for n, (sku, qty) in enumerate(lines)
        ),
    )


def stores_with(**stock: int) -> MemoryStores:
    stores = MemoryStores()
    for sku, qty in stock.items():
        if qty:
            stores.inventory.receive(Movement(sku, MovementCause.RECEIPT, qty, "po-1", "t", NOW))
        stores.catalog.map("shopify", SHOPIFY.line_item_ref or "variant_id", f"v-{sku}", sku)
    return stores


def take(stores: MemoryStores, version: Order) -> Outcome:
    outcome, _ = take_order(
        version,
        sku_lookup(stores.catalog, SHOPIFY),
        stores.intake,
        stores.orders,
        NOW,
        catalog=stores.catalog,
    )
    return outcome


def reserved(stores: MemoryStores, sku: str) -> int:
    level = stores.inventory.get(sku)
    return level.reserved if level else 0


def test_an_order_with_stock_is_reserved_once() -> None:
    stores = stores_with(MUG=3)
    assert take(stores, order("1", ("MUG", 2))) is Outcome.RESERVED
    assert take(stores, order("1", ("MUG", 2))) is Outcome.DUPLICATE
    assert reserved(stores, "MUG") == 2
    assert stores.inventory.open_reservations("MUG") == {"shopify#shop.example#1": 2}


def test_a_short_order_waits_for_stock_and_is_reserved_when_it_arrives() -> None:
    stores = stores_with(MUG=1)
    assert take(stores, order("1", ("MUG", 2))) is Outcome.HELD
    assert stores.inventory.waiting_orders("MUG") == ["shopify#shop.example#1"]
    assert reserved(stores, "MUG") == 0
    stores.inventory.receive(Movement("MUG", MovementCause.RECEIPT, 4, "po-2", "test", NOW))
    outcome = retry_held(
        "shopify#shop.example#1",
        "MUG",
        partial(sku_lookup, stores.catalog, SHOPIFY),
        stores.intake,
        stores.orders,
        stores.inventory,
        NOW,
        catalog=stores.catalog,
    )
    assert outcome is Outcome.RESERVED
    assert reserved(stores, "MUG") == 2
    assert stores.inventory.waiting_orders("MUG") == []


def test_a_cancelled_version_releases_what_its_order_held() -> None:
    stores = stores_with(MUG=3)
    take(stores, order("1", ("MUG", 2)))
    cancelled = replace(order("1", ("MUG", 2), minutes=5), cancelled_at=NOW)
    assert take(stores, cancelled) is Outcome.CANCELLED
    assert reserved(stores, "MUG") == 0
    stored = stores.orders.get("shopify#shop.example#1")
    assert stored is not None and stored.status is OrderStatus.CANCELLED


def test_a_line_no_listing_names_waits_for_its_listing() -> None:
    stores = stores_with(MUG=3)
    assert take(stores, order("1", ("LAMP", 1))) is Outcome.HELD
    assert list(stores.world.waiting_for_listing) == [
        ("shopify", SHOPIFY.line_item_ref, "v-LAMP", "shopify#shop.example#1")
    ]


Version = tuple[str, tuple[tuple[str, int], ...], bool]  # (order id, lines, cancelled)
versions = st.lists(
    st.tuples(
        st.sampled_from(["1", "2", "3"]),
        st.lists(
            st.tuples(st.sampled_from(["A", "B"]), st.integers(1, 4)), min_size=1, max_size=3
        ).map(tuple),
        st.booleans(),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(history=versions, stock=st.tuples(st.integers(0, 8), st.integers(0, 8)))
def test_whatever_versions_arrive_stock_reserved_is_what_stored_orders_hold(
    history: list[Version], stock: tuple[int, int]
) -> None:
    """Versions in any order, edits, cancellations, replays: the level's reserved count is the
    sum of what the stored orders hold, never more than is on hand, and a cancelled order holds
    nothing."""
    stores = stores_with(A=stock[0], B=stock[1])
    for n, (order_id, lines, cancelled) in enumerate(history):
        version = order(order_id, *lines, minutes=n)
        take(stores, replace(version, cancelled_at=NOW) if cancelled else version)
        for sku in ("A", "B"):
            held: dict[str, int] = {}
            for stored in stores.orders.orders():
                found = stores.orders.get_with_reservations(stored.key)
                assert found is not None
                if found[1].get(sku):
                    held[stored.key] = found[1][sku]
                if stored.status is OrderStatus.CANCELLED:
                    assert not found[1], stored.key
            level = stores.inventory.get(sku) or StockLevel(sku)
            assert level.reserved == sum(held.values()) <= level.on_hand
            assert stores.inventory.open_reservations(sku) == held
