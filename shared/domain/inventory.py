"""Stock per SKU: what is on hand, what is promised, what can still be promised."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum


class InsufficientStock(Exception):
    def __init__(self, sku: str, requested: int, reservable: int) -> None:
        super().__init__(f"{sku}: requested {requested}, reservable {reservable}")
        self.sku = sku
        self.requested = requested
        self.reservable = reservable


class MovementCause(StrEnum):
    RECEIPT = "receipt"
    SHIPMENT = "shipment"
    ADJUSTMENT = "adjustment"
    RETURN = "return"  # goods a buyer sent back after shipment, restocked by the merchant


@dataclass(frozen=True)
class StockLevel:
    """One SKU at one location. `reservable` is stored too: DynamoDB conditions cannot compute."""

    sku: str
    on_hand: int = 0
    reserved: int = 0
    safety_stock: int = 0
    version: int = 0

    @property
    def reservable(self) -> int:
        """What a new reservation may take; negative when safety stock eats into reservations."""
        return self.on_hand - self.reserved - self.safety_stock

    @property
    def available(self) -> int:
        """What may be offered to buyers: never below zero."""
        return max(0, self.reservable)

    def reserve(self, qty: int) -> StockLevel:
        _positive(qty)
        if self.reservable < qty:
            raise InsufficientStock(self.sku, qty, self.reservable)
        return replace(self, reserved=self.reserved + qty, version=self.version + 1)

    def release(self, qty: int) -> StockLevel:
        _positive(qty)
        if qty > self.reserved:
            raise ValueError(f"{self.sku}: cannot release {qty}, only {self.reserved} reserved")
        return replace(self, reserved=self.reserved - qty, version=self.version + 1)

    def change_reservation(self, change: int) -> StockLevel:
        """An order's reservation grows (only from what is reservable) or shrinks (only what
        is reserved) by `change`: an edited order, a partial cancellation."""
        if change > 0:
            return self.reserve(change)
        if change < 0:
            return self.release(-change)
        raise ValueError(f"{self.sku}: no change to reserve or release")

    def commit(self, qty: int) -> StockLevel:
        """A reserved quantity leaves the warehouse: never more than is reserved, nor than is
        on hand (goods shipped without a reservation may have taken what was promised)."""
        _positive(qty)
        if qty > self.reserved:
            raise ValueError(f"{self.sku}: cannot commit {qty}, only {self.reserved} reserved")
        if qty > self.on_hand:
            raise InsufficientStock(self.sku, qty, self.on_hand)
        return replace(
            self, on_hand=self.on_hand - qty, reserved=self.reserved - qty, version=self.version + 1
        )

    def ship_unreserved(self, qty: int) -> StockLevel:
        """Goods that left with the carrier after their order ended (its cancellation already
        released the reservation): on hand falls, never below zero; what other orders hold
        stays reserved, so reservable may go negative until stock arrives."""
        _positive(qty)
        if qty > self.on_hand:
            raise InsufficientStock(self.sku, qty, self.on_hand)
        return replace(self, on_hand=self.on_hand - qty, version=self.version + 1)

    def receive(self, qty: int) -> StockLevel:
        _positive(qty)
        return replace(self, on_hand=self.on_hand + qty, version=self.version + 1)

    def remove(self, qty: int) -> StockLevel:
        """Stock found missing or damaged: never below what is promised to orders."""
        _positive(qty)
        if qty > self.on_hand - self.reserved:
            raise InsufficientStock(self.sku, qty, self.on_hand - self.reserved)
        return replace(self, on_hand=self.on_hand - qty, version=self.version + 1)


@dataclass(frozen=True)
class Movement:
    """One line of the append-only ledger; `on_hand` is the sum of `quantity` over the ledger."""

    sku: str
    cause: MovementCause
    quantity: int  # signed
    reference: str  # what makes it happen once: a replay of the reference changes nothing
    actor: str
    at: datetime
    note: str = ""  # why (an adjustment's reason); not part of its identity


def aggregate_by_sku(lines: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Lines that share a SKU become one reservation, so one order takes one write per SKU."""
    totals: dict[str, int] = {}
    for sku, qty in lines:
        _positive(qty)
        totals[sku] = totals.get(sku, 0) + qty
    return dict(sorted(totals.items()))


def _positive(qty: int) -> None:
    if qty <= 0:
        raise ValueError(f"quantity must be positive, got {qty}")
