"""The oversell policy's cut: what stays is what Keel can reserve now."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from shared.domain.orders import Money, Order, OrderLine, OrderStatus
from shared.domain.oversell import LineCut, held_for_stock, short_lines

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
EUR = Money(Decimal("10.00"), "EUR")


def order(*lines: tuple[str, str | None, int]) -> Order:
    return Order(
        channel="woocommerce",
        account="shop.example",
        external_id="7",
        name="#7",
        created_at=T0,
        channel_updated_at=T0,
        total=EUR,
        presentment_total=EUR,
        lines=tuple(OrderLine(i, q, EUR, EUR, title=f"T{i}", sku=s) for i, s, q in lines),
    )


def test_short_lines_are_cut_to_what_can_be_reserved_in_line_order() -> None:
    o = order(("1", "MUG", 3), ("2", "LAMP", 2), ("3", "MUG", 2))
    cut = short_lines(o, {"MUG": 4, "LAMP": 2})
    assert cut is not None
    assert cut.cuts == (LineCut("3", 1, 1, "T3"),)
    assert "1 x T3" in cut.note and "#7" in cut.note


def test_a_line_with_nothing_left_goes_and_negative_availability_counts_as_none() -> None:
    cut = short_lines(order(("1", "MUG", 1), ("2", "LAMP", 2)), {"MUG": 5, "LAMP": -3})
    assert cut is not None and cut.cuts == (LineCut("2", 0, 2, "T2"),)


def test_nothing_to_cut_or_nothing_left_to_keep_is_left_alone() -> None:
    assert short_lines(order(("1", "MUG", 2)), {"MUG": 2}) is None  # stock came in meanwhile
    assert short_lines(order(("1", "MUG", 2), ("2", "LAMP", 1)), {}) is None  # a person decides


def test_lines_that_are_not_stock_or_unmatched_are_never_cut() -> None:
    o = order(("1", "MUG", 2), ("2", None, 1))
    o = replace(o, lines=(*o.lines, OrderLine("3", 1, EUR, EUR, stock=False)))
    cut = short_lines(o, {"MUG": 1})
    assert cut is not None and [c.line_id for c in cut.cuts] == ["1"]


def test_only_orders_held_for_stock_follow_the_policy() -> None:
    o = order(("1", "MUG", 2))
    assert not held_for_stock(o)
    assert held_for_stock(
        replace(o, status=OrderStatus.HELD, hold_reason="insufficient stock: MUG")
    )
    assert not held_for_stock(replace(o, status=OrderStatus.HELD, hold_reason="unmatched line: x"))
