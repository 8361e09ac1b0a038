from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from shared.domain.inventory import InsufficientStock, StockLevel, aggregate_by_sku


def test_available_never_negative_and_reservable_can_be() -> None:
    level = StockLevel("A", on_hand=3, reserved=2, safety_stock=2)
    assert level.reservable == -1
    assert level.available == 0


def test_reserve_refuses_more_than_reservable() -> None:
    level = StockLevel("A", on_hand=5, safety_stock=1)
    assert level.reserve(4).reserved == 4
    with pytest.raises(InsufficientStock) as refused:
        level.reserve(5)
    assert refused.value.reservable == 4


def test_commit_takes_stock_out_of_on_hand_and_reserved() -> None:
    level = StockLevel("A", on_hand=5).reserve(2).commit(2)
    assert (level.on_hand, level.reserved, level.version) == (3, 0, 2)


def test_release_more_than_reserved_is_an_error() -> None:
    with pytest.raises(ValueError, match="cannot release"):
        StockLevel("A", on_hand=5).reserve(1).release(2)


def test_lines_aggregate_by_sku_in_a_stable_order() -> None:
    assert aggregate_by_sku([("B", 1), ("A", 2), ("B", 3)]) == {"A": 2, "B": 4}


def test_zero_quantities_are_refused() -> None:
    with pytest.raises(ValueError):
        aggregate_by_sku([("A", 0)])


@given(st.lists(st.tuples(st.sampled_from("ABC"), st.integers(1, 5)), min_size=1))
def test_aggregation_keeps_every_unit(lines: list[tuple[str, int]]) -> None:
    assert sum(aggregate_by_sku(lines).values()) == sum(q for _, q in lines)


class StockMachine(RuleBasedStateMachine):
    """Invariants 1 and 2 of DESIGN §3 for one SKU, under any sequence of operations."""

    def __init__(self) -> None:
        super().__init__()
        self.level = StockLevel("SKU", safety_stock=1)
        self.ledger: list[int] = []
        self.reservations: dict[int, int] = {}
        self.next_order = 0

    @rule(qty=st.integers(1, 10))
    def receive(self, qty: int) -> None:
        self.level = self.level.receive(qty)
        self.ledger.append(qty)

    @rule(qty=st.integers(1, 10))
    def reserve(self, qty: int) -> None:
        before = self.level
        try:
            self.level = self.level.reserve(qty)
        except InsufficientStock:
            assert before.reservable < qty
            return
        assert before.reservable >= qty
        self.reservations[self.next_order] = qty
        self.next_order += 1

    @precondition(lambda self: bool(self.reservations))
    @rule(data=st.data())
    def ship_or_cancel(self, data: st.DataObject) -> None:
        order = data.draw(st.sampled_from(sorted(self.reservations)))
        qty = self.reservations.pop(order)
        if data.draw(st.booleans()):
            self.level = self.level.commit(qty)
            self.ledger.append(-qty)
        else:
            self.level = self.level.release(qty)

    @invariant()
    def reserved_is_sum_of_open_reservations(self) -> None:
        assert self.level.reserved == sum(self.reservations.values())

    @invariant()
    def on_hand_is_sum_of_ledger(self) -> None:
        assert self.level.on_hand == sum(self.ledger)

    @invariant()
    def never_oversold(self) -> None:
        assert self.level.reserved <= self.level.on_hand


TestStockMachine = StockMachine.TestCase


def test_removal_never_takes_what_orders_hold() -> None:
    level = StockLevel("A", on_hand=5).reserve(2)
    assert level.remove(3).on_hand == 2
    with pytest.raises(InsufficientStock):
        level.remove(4)
