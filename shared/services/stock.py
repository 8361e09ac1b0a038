"""Stock that arrives or leaves outside orders: receipts and adjustments, each one ledger entry,
idempotent on its reference (a receipt booked twice adds nothing)."""

from __future__ import annotations

from datetime import datetime

from shared.domain.inventory import Movement, MovementCause
from shared.stores.inventory import InventoryStore, LevelMoved

ATTEMPTS = 5


def receive(
    inventory: InventoryStore, sku: str, qty: int, reference: str, actor: str, at: datetime
) -> bool:
    """False when this reference was already received."""
    return inventory.receive(Movement(sku, MovementCause.RECEIPT, qty, reference, actor, at))


def adjust(
    inventory: InventoryStore,
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
