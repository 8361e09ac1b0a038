"""The oversell policy's cut: what stays is what Keel can reserve now."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

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


def test_the_stream_triggers_the_policy_for_a_new_held_version_only() -> None:
    from shared.services.oversell import policy_trigger

    held = {"pk": "ORDER#woocommerce#shop.example#7", "sk": "ORDER", "status": "held",
            "channel": "woocommerce", "channel_updated_at": "t1"}  # fmt: skip
    trigger = policy_trigger(None, held)
    assert trigger is not None and trigger.channel == "woocommerce"
    assert trigger.order_key.endswith("woocommerce#shop.example#7")
    assert policy_trigger(held, {**held, "revision": 3}) is None  # the same version again
    assert policy_trigger(held, {**held, "channel_updated_at": "t2"}) is not None  # an edit
    assert policy_trigger(None, {**held, "status": "reserved"}) is None
    assert policy_trigger(None, {**held, "sk": "SHIPMENT"}) is None


class _Orders:
    def __init__(self, order: Order | None) -> None:
        self.order = order

    def get(self, key: str) -> Order | None:
        return self.order


class _Level:
    def __init__(self, available: int) -> None:
        self.available = available


class _Inventory:
    def __init__(self, **available: int) -> None:
        self.levels = available

    def get(self, sku: str) -> _Level | None:
        return _Level(self.levels[sku]) if sku in self.levels else None


class _Channel:
    channel = "woocommerce"

    def __init__(self) -> None:
        self.asked: list[tuple[str, tuple[LineCut, ...]]] = []

    def cancel_lines(self, order: Order, cuts: Any, note: str) -> None:
        self.asked.append((order.key, tuple(cuts)))


def test_the_policy_asks_the_channel_only_when_it_says_cut_and_the_order_is_held_for_stock() -> (
    None
):
    from shared.domain.oversell import OversellPolicy
    from shared.services.oversell import follow_policy

    held = replace(
        order(("1", "MUG", 3)), status=OrderStatus.HELD, hold_reason="insufficient stock: MUG"
    )
    channel = _Channel()
    cut = OversellPolicy.CANCEL_SHORT_LINES

    def run(policy: OversellPolicy, o: Order | None, **available: int) -> str:
        orders: Any = _Orders(o)
        inventory: Any = _Inventory(**available)
        return follow_policy(held.key, policy, orders, inventory, lambda _account: channel)

    assert run(OversellPolicy.HOLD, held, MUG=1).startswith("held for a person")
    assert run(cut, replace(held, status=OrderStatus.RESERVED), MUG=1) == "no longer held for stock"
    assert run(cut, held).startswith("nothing to cut")  # nothing at all could stay
    assert channel.asked == []
    assert run(cut, held, MUG=2) == "cut 1 to 2"
    assert channel.asked == [(held.key, (LineCut("1", 2, 1, "T1"),))]


def test_the_cut_waits_until_the_channel_can_stamp_it_later_than_the_version_it_edits() -> None:
    from shared.domain.oversell import OversellPolicy
    from shared.services.oversell import SETTLE_S, follow_policy

    held = replace(
        order(("1", "MUG", 3)), status=OrderStatus.HELD, hold_reason="insufficient stock: MUG"
    )
    slept: list[float] = []
    follow_policy(
        held.key,
        OversellPolicy.CANCEL_SHORT_LINES,
        _Orders(held),  # type: ignore[arg-type]
        _Inventory(MUG=1),  # type: ignore[arg-type]
        lambda _account: _Channel(),
        now=lambda: T0 + timedelta(seconds=0.5),
        sleep=slept.append,
    )
    assert slept == [SETTLE_S - 0.5]
