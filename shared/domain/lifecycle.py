"""What a newer version of an order the channel sends means for Keel: which status it moves to,
and which reservations follow. Pure rules; the stores apply them in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from shared.domain.intake import Hold, Reserve
from shared.domain.inventory import Movement, MovementCause
from shared.domain.orders import Order, OrderStatus, Refund


class Freshness(StrEnum):
    NEW = "new"  # Keel has not stored this order
    NEWER = "newer"  # the channel changed it since the version Keel stored
    REPLAY = "replay"  # the same version again: nothing changes
    STALE = "stale"  # older than what Keel stored: never overwrites it


def freshness(stored: Order | None, incoming: Order) -> Freshness:
    """Guarded by the channel's own updated-at, never by arrival order."""
    if stored is None:
        return Freshness.NEW
    if incoming.channel_updated_at > stored.channel_updated_at:
        return Freshness.NEWER
    if incoming.channel_updated_at == stored.channel_updated_at:
        # Channels stamp to the second: a cancellation in the same second as the version Keel
        # holds is still news (cancelling is final, so it cannot be the older of the two).
        if incoming.cancelled_at is not None and stored.cancelled_at is None:
            return Freshness.NEWER
        # Refunds are never taken back either: one more refund in the same second is news.
        if len(incoming.refunds) > len(stored.refunds):
            return Freshness.NEWER
        # The reverse of either cannot be the later version: it is the older one, replayed.
        if stored.cancelled_at is not None and incoming.cancelled_at is None:
            return Freshness.REPLAY
        if len(incoming.refunds) < len(stored.refunds):
            return Freshness.REPLAY
        # Anything else the channel says differently under the same stamp (an edit from 1 to
        # 3 mugs within the second): news too. Two versions of one second that arrive out of
        # order end on the older one until the next read of the channel's current version
        # (the poll, a fetched notice), which differs again and so is taken: the order ends
        # as the channel shows it. An unchanged version is a replay, whoever sends it.
        if said(incoming) != said(stored):
            return Freshness.NEWER
        return Freshness.REPLAY
    return Freshness.STALE


def said(order: Order) -> tuple[object, ...]:
    """What the channel says of an order, without what Keel added (matched SKUs, status,
    history): two versions that say the same are one version."""
    return (
        tuple(
            (
                line.line_id,
                line.quantity,
                line.channel_sku,
                line.channel_variant_id,
                line.stock,
                line.unit_price,
            )
            for line in order.lines
        ),
        order.total,
        order.cancelled_at is not None,
        tuple(refund.refund_id for refund in order.refunds),
        order.fully_refunded,
        order.ready_to_ship,
        order.shipping_address,
    )


def deleted_by_channel(stored: Order, now: datetime) -> Order:
    """The channel deleted an order and no longer knows it (WooCommerce `order.deleted` of an
    order removed for good): the last version Keel holds, cancelled now, as the channel's
    newest version (its stamp after the stored one), so it releases what it reserved."""
    stamp = max(now, stored.channel_updated_at + timedelta(seconds=1))
    return replace(stored, cancelled_at=stamp, channel_updated_at=stamp)


class IllegalTransition(Exception):
    def __init__(self, before: OrderStatus | None, after: OrderStatus) -> None:
        super().__init__(f"an order cannot go from {before} to {after}")


_GOING_ON = frozenset(
    {
        OrderStatus.RESERVED,
        OrderStatus.PARTIALLY_REFUNDED,
        OrderStatus.HELD,  # an edit stock cannot cover
        OrderStatus.CANCELLED,
        OrderStatus.REFUNDED,
    }
)
ALLOWED: dict[OrderStatus | None, frozenset[OrderStatus]] = {
    None: _GOING_ON,
    OrderStatus.RESERVED: _GOING_ON | {OrderStatus.SHIPPED},
    # A refund is never taken back: a partially refunded order does not become "reserved".
    OrderStatus.PARTIALLY_REFUNDED: (_GOING_ON | {OrderStatus.SHIPPED}) - {OrderStatus.RESERVED},
    OrderStatus.HELD: _GOING_ON,
    OrderStatus.CANCELLED: frozenset({OrderStatus.CANCELLED}),  # an end: nothing reopens it
    # An end too; a cancellation after the full refund is still recorded.
    OrderStatus.REFUNDED: frozenset({OrderStatus.REFUNDED, OrderStatus.CANCELLED}),
    # Gone to the buyer: later changes are recorded on it, none un-ships it.
    OrderStatus.SHIPPED: frozenset({OrderStatus.SHIPPED}),
}


def transition(before: OrderStatus | None, after: OrderStatus) -> OrderStatus:
    if after not in ALLOWED[before]:
        raise IllegalTransition(before, after)
    return after


@dataclass(frozen=True)
class Adjust:
    """Store the newer version and move its reservations to `wanted`, in one write: `grow`
    is reserved only if stock allows (else the order is held, reservations as they were),
    `shrink` is released."""

    order: Order
    grow: dict[str, int]
    shrink: dict[str, int]


@dataclass(frozen=True)
class Keep:
    """Store the newer version; no reservation moves (a note changed, an order held or ended).
    `returns`: goods back on the shelf after shipment, in the same write as the version."""

    order: Order
    returns: tuple[Movement, ...] = ()


@dataclass(frozen=True)
class Ignore:
    freshness: Freshness


Change = Adjust | Keep | Ignore


def plan_change(
    stored: Order | None,
    reserved: dict[str, int],
    incoming: Order,
    intake: Reserve | Hold,
    now: datetime,
    cause: str,
) -> Change | None:
    """`reserved`: the stored order's open reservations (SKU -> quantity); `intake`: the intake
    plan of the incoming version (its lines matched). None: a new, live order, for intake."""
    fresh = freshness(stored, incoming)
    if fresh in (Freshness.REPLAY, Freshness.STALE):
        return Ignore(fresh)
    before = stored.status if stored else None
    incoming = replace(incoming, history=stored.history if stored else ())
    if before is OrderStatus.SHIPPED:
        assert stored is not None
        return Keep(_after_shipping(stored, incoming, now, cause), _returns(stored, incoming, now))
    if incoming.cancelled_at is not None:
        if before is OrderStatus.CANCELLED:
            return Keep(replace(incoming, status=OrderStatus.CANCELLED))
        transition(before, OrderStatus.CANCELLED)
        ended = replace(intake.order, history=incoming.history).cancelled(now, cause)
        if stored is None:  # created already cancelled: nothing to reserve, nothing to release
            return Keep(ended)
        return Adjust(ended, grow={}, shrink=dict(reserved))
    if stored is not None and before in (OrderStatus.CANCELLED, OrderStatus.REFUNDED):
        # A channel does not reopen an ended order; a later version of it changes nothing.
        return Keep(replace(incoming, status=stored.status, hold_reason=None))
    if incoming.fully_refunded:
        transition(before, OrderStatus.REFUNDED)
        ended = replace(intake.order, history=incoming.history).refunded(
            now, _noted_refunds(incoming.new_refunds(stored), cause)
        )
        if stored is None:  # first seen refunded (a poll): nothing to reserve or release
            return Keep(ended)
        return Adjust(ended, grow={}, shrink=dict(reserved))
    if stored is None:
        return None
    if isinstance(intake, Hold):
        transition(before, OrderStatus.HELD)
        held = replace(intake.order, history=incoming.history)
        if before is OrderStatus.HELD and stored.hold_reason == intake.reason:
            return Keep(replace(held, status=OrderStatus.HELD, hold_reason=intake.reason))
        return Keep(held.held(intake.reason, now, cause))
    grow, shrink = delta(reserved, intake.quantities)
    accepted = replace(intake.order, history=incoming.history).reserved(now, cause)
    transition(before, accepted.status)
    news = incoming.new_refunds(stored)
    if news:  # the history says what came back rather than "stock reserved"
        entry = (now, accepted.status.value, _noted_refunds(news, cause))
        accepted = replace(accepted, history=(*incoming.history, entry))
    if not grow and not shrink and stored.accepted:
        if not news and before is accepted.status:  # nothing a merchant would see changed
            return Keep(replace(accepted, history=incoming.history))
        return Keep(accepted)
    return Adjust(accepted, grow, shrink)


def _after_shipping(stored: Order, incoming: Order, now: datetime, cause: str) -> Order:
    """The channel's newer version of a shipped order: kept (refunds, notes) as shipped, with
    what a merchant must know in its history; the stock already left and is not touched."""
    kept = replace(incoming, status=OrderStatus.SHIPPED, hold_reason=None, lines=stored.lines)
    news = incoming.new_refunds(stored)
    if news:
        kept = kept.noted(now, _noted_refunds(news, cause))
    if incoming.cancelled_at is not None and stored.cancelled_at is None:
        kept = kept.noted(
            now, f"cancelled by the channel after hand-over: not compensated ({cause})"
        )
    return kept


def _returns(stored: Order, incoming: Order, now: datetime) -> tuple[Movement, ...]:
    """Refund lines of a shipped order that the merchant restocked: goods back on hand, once
    per (refund, line) — the ledger refuses a reference it already holds."""
    lines = {line.line_id: line for line in stored.lines}
    returned: dict[tuple[str, str], int] = {}
    for refund in incoming.new_refunds(stored):
        for refund_line in refund.lines:
            line = lines.get(refund_line.line_id)
            if not refund_line.restock or refund_line.quantity <= 0 or line is None:
                continue
            if not line.stock or line.sku is None:
                continue  # not goods from stock: nothing comes back on a shelf
            ref = (refund.refund_id, refund_line.line_id)
            returned[ref] = returned.get(ref, 0) + min(refund_line.quantity, line.quantity)
    return tuple(
        Movement(
            sku=lines[line_id].sku or "",
            cause=MovementCause.RETURN,
            quantity=quantity,
            reference=f"{stored.key}#{refund_id}#{line_id}",
            actor=stored.channel,
            at=now,
            note=f"returned after shipment: refund {refund_id}",
        )
        for (refund_id, line_id), quantity in sorted(returned.items())
    )


def _noted_refunds(refunds: tuple[Refund, ...], cause: str) -> str:
    if not refunds:
        return cause
    said = ", ".join(
        f"refund {r.refund_id} of {r.amount.amount} {r.amount.currency}" for r in refunds
    )
    return f"{said}; {cause}" if cause else said


def delta(
    reserved: dict[str, int], wanted: dict[str, int]
) -> tuple[dict[str, int], dict[str, int]]:
    """(more to reserve, to release) per SKU, to go from `reserved` to `wanted`."""
    grow = {s: q - reserved.get(s, 0) for s, q in wanted.items() if q > reserved.get(s, 0)}
    shrink = {s: q - wanted.get(s, 0) for s, q in reserved.items() if q > wanted.get(s, 0)}
    return dict(sorted(grow.items())), dict(sorted(shrink.items()))
