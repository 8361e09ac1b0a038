"""The order lifecycle rules: which version wins, which statuses follow, what is reserved."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shared.domain.intake import Hold, Reserve
from shared.domain.inventory import MovementCause
from shared.domain.lifecycle import (
    ALLOWED,
    Adjust,
    Freshness,
    Ignore,
    IllegalTransition,
    Keep,
    delta,
    freshness,
    plan_change,
    transition,
)
from shared.domain.orders import Money, Order, OrderLine, OrderStatus, Refund, RefundLine

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)
EUR = "EUR"


def order(at: datetime = T0, qty: int = 2, cancelled: bool = False) -> Order:
    price = Money(Decimal("10.00"), EUR)
    return Order(
        channel="shop",
        account="shop.example",
        external_id="1",
        name="#1",
        created_at=T0,
        channel_updated_at=at,
        total=Money(Decimal(10 * qty), EUR),
        presentment_total=Money(Decimal(10 * qty), EUR),
        lines=(OrderLine("l1", qty, price, price, sku="A"),),
        cancelled_at=at if cancelled else None,
    )


def reserve_plan(o: Order) -> Reserve:
    return Reserve(o, {"A": o.lines[0].quantity})


def test_the_channels_updated_at_decides_which_version_wins() -> None:
    stored = order(T0)
    assert freshness(None, stored) is Freshness.NEW
    assert freshness(stored, order(T0 + timedelta(seconds=1))) is Freshness.NEWER
    assert freshness(stored, order(T0)) is Freshness.REPLAY
    assert freshness(stored, order(T0 - timedelta(seconds=1))) is Freshness.STALE
    # stamped in the same second, a cancellation is still news; the reverse is not
    assert freshness(stored, order(T0, cancelled=True)) is Freshness.NEWER
    assert freshness(order(T0, cancelled=True), order(T0)) is Freshness.REPLAY


def test_an_edit_stamped_in_the_same_second_is_news_not_a_replay() -> None:
    """Channels stamp versions to the second: an edit (2 -> 3) in the second of the stored
    version was dropped as a replay, and the poll could not bring it either (issue #19.3)."""
    stored = order(T0, qty=2)
    edited = order(T0, qty=3)
    assert freshness(stored, edited) is Freshness.NEWER
    assert freshness(stored, order(T0, qty=2)) is Freshness.REPLAY  # the same content
    # what Keel adds to its copy (matched SKUs, status, history) is not the channel's news
    kept = replace(stored, status=OrderStatus.HELD, hold_reason="x", history=((NOW, "h", "n"),))
    unmatched = replace(order(T0), lines=(replace(order(T0).lines[0], sku=None),))
    assert freshness(kept, unmatched) is Freshness.REPLAY
    change = plan_change(stored, {"A": 2}, edited, reserve_plan(edited), NOW, "test")
    assert isinstance(change, Adjust) and change.grow == {"A": 1}
    # out of order within the second: the older one is taken until the channel's current
    # version (a poll, a fetched notice) differs again, and so wins
    assert freshness(edited, stored) is Freshness.NEWER


STATUSES: list[OrderStatus | None] = [None, *OrderStatus]


@pytest.mark.parametrize("before", STATUSES)
@pytest.mark.parametrize("after", list(OrderStatus))
def test_every_transition_is_allowed_or_refused_as_the_table_says(
    before: OrderStatus | None, after: OrderStatus
) -> None:
    r, h, c = OrderStatus.RESERVED, OrderStatus.HELD, OrderStatus.CANCELLED
    pr, rf = OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED
    allowed = {
        *((None, s) for s in (r, h, c, pr, rf)),
        *((r, s) for s in (r, h, c, pr, rf)),
        *((h, s) for s in (r, h, c, pr, rf)),
        *((pr, s) for s in (h, c, pr, rf)),  # a refund is never taken back
        (c, c),  # cancelled is an end
        (rf, rf),
        (rf, c),  # a cancellation after a full refund is recorded
        (r, OrderStatus.SHIPPED),
        (pr, OrderStatus.SHIPPED),
        (OrderStatus.SHIPPED, OrderStatus.SHIPPED),  # shipped is an end
    }
    assert set(ALLOWED) == set(STATUSES)
    if (before, after) in allowed:
        assert transition(before, after) is after
    else:
        with pytest.raises(IllegalTransition):
            transition(before, after)


def test_replays_and_older_versions_change_nothing() -> None:
    stored = order(T0 + timedelta(minutes=5))
    for incoming in (order(T0 + timedelta(minutes=5)), order(T0)):
        change = plan_change(stored, {"A": 2}, incoming, reserve_plan(incoming), NOW, "x")
        assert isinstance(change, Ignore)


def test_a_new_live_order_goes_to_intake_and_a_new_cancelled_one_reserves_nothing() -> None:
    live = order()
    assert plan_change(None, {}, live, reserve_plan(live), NOW, "d1") is None
    dead = order(cancelled=True)
    change = plan_change(None, {}, dead, reserve_plan(dead), NOW, "d1")
    assert isinstance(change, Keep) and change.order.status is OrderStatus.CANCELLED


def test_a_cancellation_releases_everything_the_order_holds() -> None:
    stored = order().reserved(T0)
    incoming = order(T0 + timedelta(minutes=1), cancelled=True)
    change = plan_change(stored, {"A": 2, "B": 1}, incoming, reserve_plan(incoming), NOW, "d2")
    assert isinstance(change, Adjust)
    assert (change.grow, change.shrink) == ({}, {"A": 2, "B": 1})
    assert change.order.status is OrderStatus.CANCELLED
    assert change.order.history[-1] == (NOW, "cancelled", "d2")


def test_a_cancelled_order_stays_cancelled_whatever_comes_later() -> None:
    stored = order(cancelled=True).cancelled(T0, "d1")
    incoming = order(T0 + timedelta(minutes=1))
    change = plan_change(stored, {}, incoming, reserve_plan(incoming), NOW, "d2")
    assert isinstance(change, Keep) and change.order.status is OrderStatus.CANCELLED


def test_an_edit_moves_the_reservation_to_the_new_lines() -> None:
    stored = order(qty=2).reserved(T0)
    grown = order(T0 + timedelta(minutes=1), qty=5)
    change = plan_change(stored, {"A": 2}, grown, reserve_plan(grown), NOW, "d2")
    assert isinstance(change, Adjust) and (change.grow, change.shrink) == ({"A": 3}, {})
    shrunk = order(T0 + timedelta(minutes=1), qty=1)
    change = plan_change(stored, {"A": 2}, shrunk, reserve_plan(shrunk), NOW, "d2")
    assert isinstance(change, Adjust) and (change.grow, change.shrink) == ({}, {"A": 1})


def test_a_newer_version_with_the_same_lines_keeps_the_reservation() -> None:
    stored = order().reserved(T0)
    note_changed = order(T0 + timedelta(minutes=1))
    change = plan_change(stored, {"A": 2}, note_changed, reserve_plan(note_changed), NOW, "d2")
    assert isinstance(change, Keep) and change.order.status is OrderStatus.RESERVED
    assert change.order.history == stored.history


def test_an_edit_that_cannot_be_matched_holds_the_order() -> None:
    stored = order().reserved(T0)
    incoming = order(T0 + timedelta(minutes=1))
    change = plan_change(stored, {"A": 2}, incoming, Hold(incoming, "unmatched line: x"), NOW, "d")
    assert isinstance(change, Keep)
    assert (change.order.status, change.order.hold_reason) == (
        OrderStatus.HELD,
        "unmatched line: x",
    )


def test_a_held_order_is_reserved_when_a_newer_version_can_be() -> None:
    stored = order().held("insufficient stock: A", T0)
    incoming = order(T0 + timedelta(minutes=1))
    change = plan_change(stored, {}, incoming, reserve_plan(incoming), NOW, "d2")
    assert isinstance(change, Adjust) and change.grow == {"A": 2}
    assert change.order.status is OrderStatus.RESERVED


def test_delta_covers_new_removed_and_changed_skus() -> None:
    assert delta({"A": 2, "B": 1}, {"A": 5, "C": 1}) == ({"A": 3, "C": 1}, {"B": 1})
    assert delta({"A": 2}, {"A": 2}) == ({}, {})
    assert replace(order(), lines=()).lines == ()


def refund(refund_id: str, amount: str, *lines: tuple[str, int, bool]) -> Refund:
    return Refund(
        refund_id, T0, Money(Decimal(amount), EUR), tuple(RefundLine(*ln) for ln in lines)
    )


def test_a_refund_that_takes_a_line_back_releases_it_and_says_so() -> None:
    stored = order(qty=2).reserved(T0)
    incoming = replace(
        order(T0 + timedelta(minutes=1), qty=1), refunds=(refund("r1", "10.00", ("l1", 1, True)),)
    )
    change = plan_change(stored, {"A": 2}, incoming, reserve_plan(incoming), NOW, "d2")
    assert isinstance(change, Adjust) and (change.grow, change.shrink) == ({}, {"A": 1})
    assert change.order.status is OrderStatus.PARTIALLY_REFUNDED
    assert change.order.history[-1] == (NOW, "partially_refunded", "refund r1 of 10.00 EUR; d2")


def test_a_refund_of_money_only_changes_the_status_not_the_stock() -> None:
    stored = order().reserved(T0)
    incoming = replace(order(T0 + timedelta(minutes=1)), refunds=(refund("r1", "2.50"),))
    change = plan_change(stored, {"A": 2}, incoming, reserve_plan(incoming), NOW, "d2")
    assert isinstance(change, Keep)
    assert change.order.status is OrderStatus.PARTIALLY_REFUNDED
    assert change.order.history[-1][2] == "refund r1 of 2.50 EUR; d2"
    # the same refund in a later version is not news; a second refund is
    again = replace(incoming, channel_updated_at=T0 + timedelta(minutes=2))
    later = plan_change(change.order, {"A": 2}, again, reserve_plan(again), NOW, "d3")
    assert isinstance(later, Keep) and later.order.history == change.order.history
    second = replace(again, refunds=(*incoming.refunds, refund("r2", "1.00")))
    later = plan_change(change.order, {"A": 2}, second, reserve_plan(second), NOW, "d3")
    assert isinstance(later, Keep) and later.order.history[-1][2] == "refund r2 of 1.00 EUR; d3"


def test_a_full_refund_ends_the_order_and_releases_everything() -> None:
    stored = replace(order(), refunds=(refund("r1", "5.00"),)).reserved(T0)
    assert stored.status is OrderStatus.PARTIALLY_REFUNDED
    incoming = replace(
        order(T0 + timedelta(minutes=1)),
        refunds=(refund("r1", "5.00"), refund("r2", "15.00")),
        fully_refunded=True,
    )
    change = plan_change(stored, {"A": 2}, incoming, reserve_plan(incoming), NOW, "d2")
    assert isinstance(change, Adjust) and (change.grow, change.shrink) == ({}, {"A": 2})
    assert change.order.status is OrderStatus.REFUNDED
    assert change.order.history[-1] == (NOW, "refunded", "refund r2 of 15.00 EUR; d2")
    # nothing reopens it; a cancellation afterwards is recorded
    reopened = replace(incoming, channel_updated_at=T0 + timedelta(minutes=2), fully_refunded=False)
    after = plan_change(change.order, {}, reopened, reserve_plan(reopened), NOW, "d3")
    assert isinstance(after, Keep) and after.order.status is OrderStatus.REFUNDED
    cancelled = replace(incoming, channel_updated_at=T0 + timedelta(minutes=3), cancelled_at=NOW)
    after = plan_change(change.order, {}, cancelled, reserve_plan(cancelled), NOW, "d4")
    assert isinstance(after, Adjust) and after.order.status is OrderStatus.CANCELLED
    assert after.shrink == {}


def test_a_refunded_order_first_seen_by_a_poll_reserves_nothing() -> None:
    incoming = replace(order(), refunds=(refund("r1", "20.00"),), fully_refunded=True)
    change = plan_change(None, {}, incoming, reserve_plan(incoming), NOW, "poll")
    assert isinstance(change, Keep) and change.order.status is OrderStatus.REFUNDED


def test_a_shipped_order_records_later_changes_and_never_unships() -> None:
    stored = order().reserved(T0).shipped(T0, "handed to the carrier")
    cancelled = replace(
        order(T0 + timedelta(minutes=1), qty=1, cancelled=True), refunds=(refund("r1", "10.00"),)
    )
    change = plan_change(stored, {}, cancelled, reserve_plan(cancelled), NOW, "d2")
    assert isinstance(change, Keep) and change.order.status is OrderStatus.SHIPPED
    assert change.order.lines == stored.lines  # what left the shelf stays on record
    assert [h[2] for h in change.order.history[-2:]] == [
        "refund r1 of 10.00 EUR; d2",
        "cancelled by the channel after hand-over: not compensated (d2)",
    ]


def test_restocked_refund_lines_after_shipment_come_back_once_per_refund_line() -> None:
    stored = order(qty=3).reserved(T0).shipped(T0, "handed to the carrier")
    r1 = refund("r1", "20.00", ("l1", 2, True))
    incoming = replace(order(T0 + timedelta(minutes=1), qty=3), refunds=(r1,))
    change = plan_change(stored, {}, incoming, reserve_plan(incoming), NOW, "d2")
    assert isinstance(change, Keep)
    (back,) = change.returns
    assert (back.sku, back.cause, back.quantity) == ("A", MovementCause.RETURN, 2)
    assert back.reference == f"{stored.key}#r1#l1"
    # the next version carries r1 again and a refund of money only: nothing more comes back
    later = replace(incoming, channel_updated_at=T0 + timedelta(minutes=2))
    later = replace(later, refunds=(r1, refund("r2", "5.00", ("l1", 1, False))))
    again = plan_change(change.order, {}, later, reserve_plan(later), NOW, "d3")
    assert isinstance(again, Keep) and again.returns == ()
    # a refund line naming no line of the order, or more than it holds, cannot invent stock
    odd = replace(later, refunds=(r1, refund("r3", "5.00", ("zz", 1, True), ("l1", 9, True))))
    capped = plan_change(change.order, {}, odd, reserve_plan(odd), NOW, "d4")
    assert isinstance(capped, Keep) and [m.quantity for m in capped.returns] == [3]


def test_one_more_refund_in_the_same_second_is_news_and_the_same_refunds_a_replay() -> None:
    once = replace(order(T0), refunds=(refund("r1", "10.00"),))
    twice = replace(order(T0), refunds=(refund("r1", "10.00"), refund("r2", "20.00")))
    assert freshness(once, twice) is Freshness.NEWER
    assert freshness(twice, once) is Freshness.REPLAY  # refunds are never taken back
    assert freshness(once, once) is Freshness.REPLAY
