from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from shared.domain.inventory import Movement, MovementCause
from shared.domain.orders import Money, Order, OrderLine, OrderStatus
from shared.stores.intake import OrderIntakeStore, Outcome, ReservationRefused
from shared.stores.inventory import InventoryStore
from shared.stores.orders import (
    HeldDelivery,
    OrderStore,
    OrderTooLarge,
    held_expiry,
    order_to_doc,
)

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
EUR = Money(Decimal("9.95"), "EUR")


def stock(inventory: InventoryStore, sku: str, qty: int, safety: int = 0) -> None:
    inventory.receive(
        Movement(sku, MovementCause.RECEIPT, qty, f"po-{sku}", "test", NOW), safety_stock=safety
    )


def an_order(external_id: str, *skus: str) -> Order:
    return Order(
        channel="shopify",
        account="shop.example",
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


def test_a_replayed_receipt_is_recorded_once(inventory: InventoryStore) -> None:
    """The ledger is keyed on (cause, reference): the same receipt later changes nothing."""
    first = Movement("A", MovementCause.RECEIPT, 4, "po-9", "test", NOW)
    assert inventory.receive(first, safety_stock=1) is True
    later = Movement("A", MovementCause.RECEIPT, 4, "po-9", "other", NOW + timedelta(hours=3))
    assert inventory.receive(later) is False
    assert inventory.receive(first, safety_stock=1) is False  # a replayed seed, too
    level = inventory.get("A")
    assert level is not None and (level.on_hand, level.reservable, level.version) == (4, 3, 1)
    assert inventory.ledger("A") == [first]
    # The same reference under another cause is another movement.
    fix = Movement("A", MovementCause.ADJUSTMENT, 1, "po-9", "test", NOW + timedelta(hours=1))
    assert inventory.receive(fix) is True
    assert inventory.ledger("A") == [first, fix]
    assert inventory.get("A").on_hand == 5  # type: ignore[union-attr]


def test_a_second_safety_stock_set_on_a_known_sku_still_fails(inventory: InventoryStore) -> None:
    """Only a replayed movement is swallowed; the new-SKU guard keeps raising."""
    stock(inventory, "A", 2, safety=1)
    with pytest.raises(inventory._t.client.exceptions.TransactionCanceledException):
        inventory.receive(
            Movement("A", MovementCause.RECEIPT, 1, "po-new", "test", NOW), safety_stock=0
        )
    assert inventory.get("A").on_hand == 2  # type: ignore[union-attr]


def test_reservation_is_all_lines_or_none(
    intake: OrderIntakeStore, inventory: InventoryStore, orders: OrderStore
) -> None:
    stock(inventory, "A", 5)
    stock(inventory, "B", 1)
    with pytest.raises(ReservationRefused) as refused:
        intake.reserve(an_order("1", "A", "B"), {"A": 2, "B": 2}, NOW)
    assert refused.value.skus == ["B"]
    assert inventory.get("A").reserved == 0  # type: ignore[union-attr]
    assert orders.get("shopify#shop.example#1") is None
    assert intake.reserve(an_order("2", "A", "B"), {"A": 2, "B": 1}, NOW) is Outcome.RESERVED
    assert inventory.open_reservations("A") == {"shopify#shop.example#2": 2}
    assert inventory.get("B").reservable == 0  # type: ignore[union-attr]


def test_a_replayed_order_changes_nothing(
    intake: OrderIntakeStore, inventory: InventoryStore, orders: OrderStore
) -> None:
    stock(inventory, "A", 5)
    assert intake.reserve(an_order("1", "A"), {"A": 1}, NOW) is Outcome.RESERVED
    assert intake.reserve(an_order("1", "A"), {"A": 1}, NOW) is Outcome.DUPLICATE
    assert intake.hold(an_order("1", "A").held("x", NOW)) is Outcome.DUPLICATE
    assert inventory.get("A").reserved == 1  # type: ignore[union-attr]
    assert orders.get("shopify#shop.example#1").status is OrderStatus.RESERVED  # type: ignore[union-attr]


def test_a_sku_never_stocked_cannot_be_reserved(intake: OrderIntakeStore) -> None:
    with pytest.raises(ReservationRefused):
        intake.reserve(an_order("1", "GHOST"), {"GHOST": 1}, NOW)


def test_orders_round_trip_with_decimal_money(intake: OrderIntakeStore, orders: OrderStore) -> None:
    order = an_order("7", "A").held("insufficient stock: A", NOW)
    assert intake.hold(order) is Outcome.HELD
    stored = orders.get("shopify#shop.example#7")
    assert stored == order
    assert stored is not None and stored.presentment_total == Money(Decimal("10.50"), "USD")


def test_held_deliveries_are_kept_once(orders: OrderStore) -> None:
    received = NOW.isoformat()
    expires = held_expiry(received, 14)
    held = HeldDelivery(
        "shopify", "d1", "orders/create", "unparseable", "{oops", received, expires_at=expires
    )
    assert orders.keep_held_delivery(held)
    assert not orders.keep_held_delivery(held)
    assert orders.held_deliveries(now=NOW) == [held]


def test_held_deliveries_expire(orders: OrderStore) -> None:
    """Raw bodies are never kept without end; an expired one is gone for readers before
    DynamoDB's TTL (which takes up to days) deletes it."""
    received = NOW.isoformat()
    assert held_expiry(received, 14) == int(NOW.timestamp()) + 14 * 86400
    assert held_expiry("2026-11-27T12:00:00", 1) == int(NOW.timestamp()) + 86400  # naive: UTC
    unbounded = HeldDelivery("shopify", "d0", "orders/create", "unparseable", "{", received)
    with pytest.raises(ValueError, match="expires_at"):
        orders.keep_held_delivery(unbounded)
    held = replace(unbounded, delivery_id="d2", expires_at=held_expiry(received, 14))
    assert orders.keep_held_delivery(held)
    assert orders.held_deliveries(now=NOW + timedelta(days=14, seconds=-1)) == [held]
    assert orders.held_deliveries(now=NOW + timedelta(days=14)) == []


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


def a_large_order(external_id: str, lines: int, alphabet: str) -> Order:
    """Distinct 255-character titles drawn at random: text that compresses like real titles
    (latin letters) or hardly at all (CJK, escaped to six bytes each in JSON)."""
    rng = random.Random(external_id)
    order = an_order(external_id)
    return replace(
        order,
        lines=tuple(
            OrderLine(
                f"gid-{n:012d}",
                1 + n % 7,
                EUR,
                EUR,
                title=f"{n:04d} " + "".join(rng.choices(alphabet, k=250)),
                channel_sku=f"SKU-{n:05d}",
                channel_variant_id=str(44_000_000_000 + n),
                sku=f"SKU-{n:05d}",
            )
            for n in range(lines)
        ),
    )


LATIN = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789"
CJK = "".join(chr(c) for c in range(0x4E00, 0x4E00 + 2000))


def test_an_800_line_order_is_kept_compressed_and_reads_back(
    intake: OrderIntakeStore, inventory: InventoryStore, orders: OrderStore, db: Any
) -> None:
    order = a_large_order("big", 800, LATIN)
    assert len(json.dumps(order_to_doc(order)).encode()) > 400_000  # DynamoDB's item limit
    stock(inventory, "SKU-00000", 5)
    assert intake.reserve(order, {"SKU-00000": 1}, NOW) is Outcome.RESERVED  # in a transaction
    assert orders.get(order.key) == order
    held = a_large_order("big-held", 800, LATIN).held("unmatched line", NOW)
    assert intake.hold(held) is Outcome.HELD  # a plain put
    assert orders.get(held.key) == held
    assert {o.key for o in orders.orders()} == {order.key, held.key}
    raw = db.get_item(
        TableName=orders.table,
        Key={"pk": {"S": "ORDER#shopify#shop.example#big"}, "sk": {"S": "ORDER"}},
    )["Item"]
    assert "doc_z" in raw and "doc" not in raw


def test_a_small_order_stays_plain_json(
    intake: OrderIntakeStore, orders: OrderStore, db: Any
) -> None:
    assert intake.hold(an_order("small", "A").held("x", NOW)) is Outcome.HELD
    raw = db.get_item(
        TableName=orders.table,
        Key={"pk": {"S": "ORDER#shopify#shop.example#small"}, "sk": {"S": "ORDER"}},
    )["Item"]
    assert "doc" in raw and "doc_z" not in raw


def test_an_order_too_large_even_compressed_is_refused_clearly(orders: OrderStore) -> None:
    order = a_large_order("huge", 1000, CJK)
    with pytest.raises(OrderTooLarge) as refused:
        orders.put_new_op(order)
    assert refused.value.order_key == "shopify#shop.example#huge"
    assert refused.value.size > refused.value.limit
    assert str(refused.value).startswith("shopify#shop.example#huge is ")
