"""Stock that arrives or leaves outside orders: receipts and adjustments, each one ledger entry,
idempotent on its reference (a receipt booked twice adds nothing)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from shared.channels.registry import BY_NAME
from shared.domain.inventory import Movement, MovementCause
from shared.domain.listings import Listing, channel_quantity, one_quantity
from shared.stores.inventory import LevelMoved
from shared.stores.ports import Inventory

ATTEMPTS = 5


def derived_quantity(listing: Listing, available: int) -> int:
    """What `listing`'s channel is to show with `available` units: its rules and the most its
    channel can show (SyncPolicy.max_quantity), as the sync publishes it."""
    spec = BY_NAME.get(listing.channel)
    return channel_quantity(available, listing.rules, spec.sync.max_quantity if spec else None)


def derived_quantities(listings: Sequence[Listing], available: int) -> dict[str, int]:
    """Listing key -> what it is to show: listings that share a slot (one Amazon seller SKU in
    several marketplaces) show one quantity, derived with their strictest rules."""
    slots: dict[str, list[Listing]] = {}
    for listing in listings:
        slots.setdefault(listing.slot, []).append(listing)
    return {
        listing.key: derived_quantity(one_quantity(slots[listing.slot]), available)
        for listing in listings
    }


def receive(
    inventory: Inventory, sku: str, qty: int, reference: str, actor: str, at: datetime
) -> bool:
    """False when this reference was already received."""
    return inventory.receive(Movement(sku, MovementCause.RECEIPT, qty, reference, actor, at))


def adjust(
    inventory: Inventory,
    sku: str,
    change: int,
    reference: str,
    actor: str,
    at: datetime,
    reason: str = "",
) -> bool:
    """A count or damage: `change` signed. A removal never takes what orders hold (raises
    InsufficientStock). False when this reference was already recorded."""
    movement = Movement(sku, MovementCause.ADJUSTMENT, change, reference, actor, at, reason)
    if change > 0:
        return inventory.receive(movement)
    if change == 0:
        raise ValueError("an adjustment moves stock: the change must not be 0")
    for _ in range(ATTEMPTS):
        try:
            return inventory.remove(movement)
        except LevelMoved:
            continue
    raise LevelMoved(sku)
