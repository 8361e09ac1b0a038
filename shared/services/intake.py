"""Take a channel's order into Keel, whatever version of it arrives: match its lines, check
it, reserve its stock or hold it; for a newer version of a stored order, follow it (cancel,
edit, hold) with the reservations in the same write. One path for webhooks and polls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from shared.channels.registry import BY_NAME
from shared.channels.spec import Channel
from shared.domain.intake import (
    HOLD_INSUFFICIENT,
    HOLD_UNMATCHED,
    Hold,
    Reserve,
    SkuLookup,
    plan_intake,
)
from shared.domain.lifecycle import Adjust, Ignore, Keep, plan_change
from shared.domain.order_checks import implausibility
from shared.domain.orders import Order, OrderStatus
from shared.stores.intake import (
    Outcome,
    ReservationRefused,
    VersionMoved,
)
from shared.stores.ports import Intake, Inventory, ListingRefs, Orders

ATTEMPTS = 4  # another writer stored a version in between: read and plan again


def sku_lookup(catalog: ListingRefs, channel: Channel, slot: str | None = None) -> SkuLookup:
    """Match by the channel's item id first (the registry names the listing ref), then by the
    SKU the channel reports; within one slot (the order's account, `Order.slot`; the channel's
    first account by default)."""
    where = slot or channel.name

    def find(item_id: str | None, channel_sku: str | None) -> str | None:
        if item_id and channel.line_item_ref:
            sku = catalog.find_sku(where, channel.line_item_ref, item_id)
            if sku:
                return sku
        if channel_sku:
            return catalog.find_sku(where, "sku", channel_sku)
        return None

    return find


def listing_refs(order: Order) -> list[tuple[str, str, str]]:
    """(slot, ref kind, id) of each stock line no listing matched: what the order waits for."""
    spec = BY_NAME.get(order.channel)
    refs: set[tuple[str, str, str]] = set()
    for line in order.lines:
        if not line.stock or line.sku is not None:
            continue
        if spec is not None and spec.line_item_ref and line.channel_variant_id:
            refs.add((order.slot, spec.line_item_ref, line.channel_variant_id))
        if line.channel_sku:
            refs.add((order.slot, "sku", line.channel_sku))
    return sorted(refs)


def _wait_for_listings(plan: Reserve | Hold, catalog: ListingRefs | None, now: datetime) -> bool:
    """Held for an unmatched line: wait for its listing. True when one of them appeared in
    the meantime (plan once more: its wake may have passed before the wait was written)."""
    if catalog is None or not isinstance(plan, Hold) or not plan.reason.startswith(HOLD_UNMATCHED):
        return False
    refs = listing_refs(plan.order)
    for channel, kind, value in refs:
        catalog.wait_for_listing(channel, kind, value, plan.order.key, now)
    return any(catalog.find_sku(channel, kind, value) for channel, kind, value in refs)


def _plan(order: Order, find_sku: SkuLookup, shop_currency: str | None) -> Reserve | Hold:
    reason = implausibility(order, shop_currency) if shop_currency else None
    if reason is not None:
        return Hold(order, reason)
    return plan_intake(order, find_sku)


def take_order(
    order: Order,
    find_sku: SkuLookup,
    intake: Intake,
    orders: Orders,
    now: datetime,
    shop_currency: str | None = None,
    cause: str = "channel",
    catalog: ListingRefs | None = None,
) -> tuple[Outcome, Order]:
    """`shop_currency` None skips the plausibility checks; `cause` (which delivery or poll)
    goes into the order's history; `catalog`: where an order held for an unmatched line waits
    for its listing (None: it waits for a person)."""
    for _ in range(ATTEMPTS):
        found = orders.get_with_reservations(order.key)
        stored, reserved = found if found else (None, {})
        # An order not yet accepted (new, or held) is checked for plausibility, so no later
        # version lifts an "implausible" hold by itself; an accepted order's later versions are
        # not (edits and refunds move totals in ways only the channel's own ledger explains).
        unaccepted = stored is None or stored.status is OrderStatus.HELD
        plan = _plan(order, find_sku, shop_currency if unaccepted else None)
        if _wait_for_listings(plan, catalog, now):  # a listing appeared meanwhile
            plan = _plan(order, find_sku, shop_currency if unaccepted else None)
        change = plan_change(stored, reserved, order, plan, now, cause)
        try:
            if change is None:
                outcome, taken = _take_new(plan, intake, now, cause)
            else:
                outcome, taken = _apply(change, stored, reserved, intake, now, cause)
        except VersionMoved:
            continue
        if outcome is not Outcome.DUPLICATE or stored is not None:
            return outcome, taken
        # DUPLICATE for an order we had not read: a concurrent first delivery won; plan again.
    raise VersionMoved(order.key)


def _take_new(
    plan: Reserve | Hold, intake: Intake, now: datetime, cause: str
) -> tuple[Outcome, Order]:
    if isinstance(plan, Hold):
        held = plan.order.held(plan.reason, now, cause)
        return intake.hold(held), held
    reserved = plan.order.reserved(now, cause)
    try:
        return intake.reserve(reserved, plan.quantities, now), reserved
    except ReservationRefused as refused:
        reason = f"{HOLD_INSUFFICIENT}: {', '.join(refused.skus)}"
        held = plan.order.held(reason, now, cause)
        return intake.hold(held, waiting_for=tuple(refused.skus)), held


def _apply(
    change: Adjust | Keep | Ignore,
    stored: Order | None,
    reserved: dict[str, int],
    intake: Intake,
    now: datetime,
    cause: str,
) -> tuple[Outcome, Order]:
    if isinstance(change, Ignore):
        assert stored is not None
        return Outcome.DUPLICATE, stored
    order = change.order
    if stored is None:  # a first version that is already over (created cancelled)
        return (_outcome(order) if intake.hold(order) is Outcome.HELD else Outcome.DUPLICATE), order
    if isinstance(change, Keep):
        intake.keep_version(order, stored, reserved, returns=change.returns)
        return _outcome(order), order
    wanted = {
        sku: reserved.get(sku, 0) + change.grow.get(sku, 0) - change.shrink.get(sku, 0)
        for sku in sorted(set(reserved) | set(change.grow) | set(change.shrink))
    }
    try:
        intake.change(order, stored, reserved, wanted, now)
    except ReservationRefused as refused:
        # Growth stock cannot cover: held, and what it had stays reserved for it.
        held = replace(order, history=stored.history).held(
            f"{HOLD_INSUFFICIENT}: {', '.join(refused.skus)}", now, cause
        )
        intake.keep_version(held, stored, reserved, waiting_for=tuple(refused.skus))
        return Outcome.HELD, held
    return _outcome(order), order


def _outcome(order: Order) -> Outcome:
    return {
        OrderStatus.RESERVED: Outcome.RESERVED,
        OrderStatus.PARTIALLY_REFUNDED: Outcome.RESERVED,
        OrderStatus.HELD: Outcome.HELD,
        OrderStatus.CANCELLED: Outcome.CANCELLED,
        OrderStatus.REFUNDED: Outcome.REFUNDED,
        OrderStatus.SHIPPED: Outcome.KEPT,
    }[order.status]


def retry_held(
    order_key: str,
    sku: str,
    lookup_in: Callable[[str], SkuLookup],
    intake: Intake,
    orders: Orders,
    inventory: Inventory,
    now: datetime,
    catalog: ListingRefs | None = None,
    because: str = "stock",
) -> Outcome:
    """Stock of `sku` arrived, or a listing for it appeared: try again to reserve an order
    held waiting for it. Still short: it waits for stock. Still unmatched: it keeps waiting
    for its listings. No longer held (reserved by an edit, cancelled): it stops waiting.
    `lookup_in`: the SKU lookup of a slot (the order's, `Order.slot`)."""
    found = orders.get_with_reservations(order_key)
    if found is None or found[0].status is not OrderStatus.HELD:
        inventory.stop_waiting(order_key, sku)
        return Outcome.DUPLICATE
    stored, reserved = found
    cause = f"listing for {sku} appeared" if because == "listing" else f"stock of {sku} arrived"
    plan = plan_intake(stored, lookup_in(stored.slot))
    if isinstance(plan, Hold):  # held for another reason now, or another line still unmatched
        inventory.stop_waiting(order_key, sku)
        if plan.reason != stored.hold_reason:
            _wait_for_listings(plan, catalog, now)
            held = plan.order.held(plan.reason, now, cause)
            intake.keep_version(held, stored, reserved)
        return Outcome.HELD
    try:
        intake.change(
            plan.order.reserved(now, cause),
            stored,
            reserved,
            plan.quantities,
            now,
        )
    except ReservationRefused as refused:
        if not (stored.hold_reason or "").startswith(HOLD_INSUFFICIENT):
            # Its listing appeared, its stock has not: it now waits for stock.
            reason = f"{HOLD_INSUFFICIENT}: {', '.join(refused.skus)}"
            intake.keep_version(
                plan.order.held(reason, now, cause),
                stored,
                reserved,
                waiting_for=tuple(refused.skus),
            )
        return Outcome.HELD  # not enough yet: the next stock arrival tries again
    for waited in sorted(set(plan.quantities) | {sku}):
        inventory.stop_waiting(order_key, waited)
    if catalog is not None:
        for channel, kind, value in listing_refs(stored):
            catalog.stop_waiting_for_listing(channel, kind, value, order_key)
    return Outcome.RESERVED
