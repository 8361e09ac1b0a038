from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from shared.domain.inventory import Movement, MovementCause
from shared.domain.orders import Money, Order, OrderLine, OrderStatus
from shared.stores.intake import OrderIntakeStore, Outcome, ReservationRefused
from shared.stores.inventory import InventoryStore
from shared.stores.orders import HeldDelivery, OrderStore

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
EUR = Money(Decimal("9.95"), "EUR")


def stock(inventory: InventoryStore, sku: str, qty: int, safety: int = 0) -> None:
    inventory.receive(
        Movement(sku, MovementCause.RECEIPT, qty, f"po-{sku}", "test", NOW), safety_stock=safety
    )


def an_order(external_id: str, *skus: str) -> Order:
    return Order(
        channel="shopify",
        external_id=external_id,
        name=f"#{external_id}",
        created_at=NOW,
        channel_updated_at=NOW,
        total=EUR,
        presentment_total=Money(Decimal("10.50"), "USD"),
        lines=tuple(OrderLine(str(n), 1, EUR, EUR, sku=s) for n, s in enumerate(skus)),
    )


@pytest.fixture
def intake(orders: OrderStore, inventory: InventoryStore, db: Any) -> OrderIntakeStore:
    return OrderIntakeStore(orders, inventory, db)


def test_receive_keeps_reservable_and_ledger_in_step(inventory: InventoryStore) -> None:
    stock(inventory, "A", 5, safety=1)
    inventory.receive(Movement("A", MovementCause.RECEIPT, 3, "po-2", "test", NOW))
    level = inventory.get("A")
    assert level is not None
    assert (level.on_hand, level.safety_stock, level.reservable) == (8, 1, 7)
    assert sum(m.quantity for m in inventory.ledger("A")) == 8


def test_reservation_is_all_lines_or_none(
    intake: OrderIntakeStore, inventory: InventoryStore, orders: OrderStore
) -> None:
    stock(inventory, "A", 5)
    stock(inventory, "B", 1)
    with pytest.raises(ReservationRefused) as refused:
        intake.reserve(an_order("1", "A", "B"), {"A": 2, "B": 2}, NOW)
    assert refused.value.skus == ["B"]
    assert inventory.get("A").reserved == 0  # type: ignore[union-attr]
    assert orders.get("shopify#1") is None
    assert intake.reserve(an_order("2", "A", "B"), {"A": 2, "B": 1}, NOW) is Outcome.RESERVED
    assert inventory.open_reservations("A") == {"shopify#2": 2}
    assert inventory.get("B").reservable == 0  # type: ignore[union-attr]


def test_a_replayed_order_changes_nothing(
    intake: OrderIntakeStore, inventory: InventoryStore, orders: OrderStore
) -> None:
    stock(inventory, "A", 5)
    assert intake.reserve(an_order("1", "A"), {"A": 1}, NOW) is Outcome.RESERVED
    assert intake.reserve(an_order("1", "A"), {"A": 1}, NOW) is Outcome.DUPLICATE
    assert intake.hold(an_order("1", "A").held("x", NOW)) is Outcome.DUPLICATE
    assert inventory.get("A").reserved == 1  # type: ignore[union-attr]
    assert orders.get("shopify#1").status is OrderStatus.RESERVED  # type: ignore[union-attr]


def test_a_sku_never_stocked_cannot_be_reserved(intake: OrderIntakeStore) -> None:
    with pytest.raises(ReservationRefused):
        intake.reserve(an_order("1", "GHOST"), {"GHOST": 1}, NOW)


def test_orders_round_trip_with_decimal_money(intake: OrderIntakeStore, orders: OrderStore) -> None:
    order = an_order("7", "A").held("insufficient stock: A", NOW)
    assert intake.hold(order) is Outcome.HELD
    stored = orders.get("shopify#7")
    assert stored == order
    assert stored is not None and stored.presentment_total == Money(Decimal("10.50"), "USD")


def test_held_deliveries_are_kept_once(orders: OrderStore) -> None:
    held = HeldDelivery("shopify", "d1", "orders/create", "unparseable", "{oops", "now")
    assert orders.keep_held_delivery(held)
    assert not orders.keep_held_delivery(held)
    assert orders.held_deliveries() == [held]


def test_a_conflicting_concurrent_transaction_is_retried(
    orders: OrderStore, inventory: InventoryStore, db: Any
) -> None:
    """DynamoDB cancels one of two transactions on the same item with TransactionConflict."""
    stock(inventory, "A", 5)
    calls: list[int] = []

    class ConflictOnce:
        exceptions = db.exceptions

        def transact_write_items(self, **kwargs: Any) -> Any:
            calls.append(1)
            if len(calls) == 1:
                raise db.exceptions.TransactionCanceledException(
                    {
                        "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                        "CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict"}],
                    },
                    "TransactWriteItems",
                )
            return db.transact_write_items(**kwargs)

    intake = OrderIntakeStore(orders, inventory, ConflictOnce(), sleep=lambda _: None)
    assert intake.reserve(an_order("1", "A"), {"A": 2}, NOW) is Outcome.RESERVED
    assert len(calls) == 2
    assert inventory.get("A").reserved == 2  # type: ignore[union-attr]
