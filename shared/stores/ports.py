"""The store ports: what services may ask of Keel's state. The DynamoDB stores implement them;
so do the in-memory fakes (tests/fakes/stores.py), which service tests and property tests use
without moto. A differential test holds domain = fake = DynamoDB for every stock write
(tests/integration/test_inventory_differential.py).

Every write that moves stock goes through `Intake` (an order and its stock in one unit of
work) or `Inventory.receive`/`remove` (the ledger and the level together); the domain
(`shared.domain.inventory.StockLevel`) states the rule each one enforces.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from shared.domain.inventory import Movement, StockLevel
from shared.domain.listings import ChannelShows, Listing
from shared.domain.orders import Order
from shared.stores.intake import Outcome
from shared.stores.orders import HeldDelivery


class Inventory(Protocol):
    def get(self, sku: str) -> StockLevel | None: ...
    def get_many(self, skus: Iterable[str]) -> dict[str, StockLevel | None]: ...
    def levels(self) -> list[StockLevel]: ...
    def receive(self, movement: Movement, safety_stock: int | None = None) -> bool:
        """Goods in: False when the movement's reference is already in the ledger."""
        ...

    def remove(self, movement: Movement) -> bool:
        """A negative adjustment, never below what orders hold (InsufficientStock); False
        when its reference is already in the ledger."""
        ...

    def waiting_orders(self, sku: str) -> list[str]: ...
    def stop_waiting(self, order_key: str, sku: str) -> None: ...
    def open_reservations(self, sku: str) -> dict[str, int]: ...
    def ledger(self, sku: str) -> list[Movement]: ...


class Orders(Protocol):
    def get(self, order_key: str) -> Order | None: ...
    def get_with_reservations(self, order_key: str) -> tuple[Order, dict[str, int]] | None: ...
    def orders(self) -> list[Order]: ...
    def watermark(self, channel: str, account: str) -> datetime | None: ...
    def advance_watermark(self, channel: str, account: str, until: datetime) -> None: ...
    def keep_held_delivery(self, held: HeldDelivery) -> bool: ...
    def held_deliveries(self, now: datetime | None = None) -> list[HeldDelivery]: ...


class Intake(Protocol):
    """An order version and the stock it moves, written together or not at all. Each write
    after the first is guarded by the stored version it was planned against (VersionMoved);
    stock a write cannot take raises ReservationRefused with the short SKUs."""

    def reserve(self, order: Order, quantities: dict[str, int], at: datetime) -> Outcome: ...
    def hold(self, order: Order, waiting_for: tuple[str, ...] = ()) -> Outcome: ...
    def change(
        self,
        order: Order,
        planned_against: Order,
        reserved: dict[str, int],
        wanted: dict[str, int],
        at: datetime,
    ) -> None: ...
    def commit_shipment(
        self, order: Order, planned_against: Order, reserved: dict[str, int], at: datetime
    ) -> None: ...
    def commit_unreserved_shipment(
        self, order: Order, planned_against: Order, shipped: dict[str, int], at: datetime
    ) -> None: ...
    def keep_version(
        self,
        order: Order,
        planned_against: Order,
        reserved: dict[str, int],
        waiting_for: tuple[str, ...] = (),
        returns: tuple[Movement, ...] = (),
    ) -> None: ...


class ListingRefs(Protocol):
    """The catalog as order intake uses it: a channel's ids -> SKU, per slot (channel and
    account, `shared.domain.listings.stock_slot`), and orders waiting for a listing that does
    not exist yet."""

    def find_sku(self, slot: str, kind: str, value: str) -> str | None: ...
    def wait_for_listing(
        self, slot: str, kind: str, value: str, order_key: str, since: datetime
    ) -> None: ...
    def stop_waiting_for_listing(
        self, slot: str, kind: str, value: str, order_key: str
    ) -> None: ...


class StockCatalog(Protocol):
    """The catalog as the stock sync uses it, per slot (channel and account): listings (one per
    SKU, `one_quantity` of its marketplaces'), and what the slot shows (the last confirmed
    quantity, the write in flight)."""

    def listings_and_shows(
        self,
        skus: Iterable[str],
        slot: str,
        accepts: bool = True,
        marketplaces: Sequence[str] = (),
    ) -> tuple[dict[str, Listing], dict[str, ChannelShows]]: ...
    def channel_shows_many(
        self, skus: Iterable[str], slot: str, accepts: bool = True
    ) -> dict[str, ChannelShows]: ...
    def listed_and_pending(
        self, skus: Iterable[str], slot: str, marketplaces: Sequence[str] = ()
    ) -> dict[str, tuple[Listing | None, tuple[int, str] | None]]: ...
    def record_shown(self, sku: str, slot: str, quantity: int, at: datetime) -> None: ...
    def record_pending(
        self, sku: str, slot: str, quantity: int, reference: str, at: datetime
    ) -> None: ...
    def clear_pending(self, sku: str, slot: str, reference: str, at: datetime) -> None: ...
