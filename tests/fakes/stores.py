"""In-memory stores implementing the ports (shared/stores/ports.py) over one shared state, with
the domain deciding every stock write: what DynamoDB's conditions enforce, the domain's rule
enforces here. A unit of work computes every change first and applies it only when all pass,
as a transaction does. tests/integration/test_inventory_differential.py holds these equal to
the DynamoDB stores; service tests and property tests use them without moto."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from shared.domain.inventory import InsufficientStock, Movement, MovementCause, StockLevel
from shared.domain.listings import ChannelShows, Listing, Sent, one_quantity
from shared.domain.orders import Order
from shared.domain.products import Product
from shared.stores.catalog import RefAlreadyMapped
from shared.stores.intake import Outcome, ReservationRefused, VersionMoved
from shared.stores.inventory import LevelMoved
from shared.stores.orders import HeldDelivery, doc_attributes

MovementKey = tuple[str, MovementCause, str]  # (sku, cause, reference): once only


@dataclass
class World:
    """Everything the fakes store; each store is a view of it."""

    levels: dict[str, StockLevel] = field(default_factory=dict)
    ledger: dict[MovementKey, Movement] = field(default_factory=dict)
    reservations: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    waiting: dict[tuple[str, str], datetime] = field(default_factory=dict)  # (sku, order)
    orders: dict[str, tuple[Order, int, dict[str, int]]] = field(default_factory=dict)
    watermarks: dict[tuple[str, str], datetime] = field(default_factory=dict)
    held: dict[tuple[str, str], HeldDelivery] = field(default_factory=dict)
    refs: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (ch, kind, id) -> SKU
    waiting_for_listing: dict[tuple[str, str, str, str], datetime] = field(default_factory=dict)
    listings: dict[tuple[str, str], Listing] = field(default_factory=dict)  # (sku, key)
    shown: dict[tuple[str, str], tuple[int, datetime]] = field(default_factory=dict)
    pending: dict[tuple[str, str], tuple[int, str, datetime]] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)
    drift: dict[str, dict[str, datetime]] = field(default_factory=dict)  # channel -> id -> seen


def _key(movement: Movement) -> MovementKey:
    return (movement.sku, movement.cause, movement.reference)


class MemoryInventory:
    def __init__(self, world: World) -> None:
        self.w = world

    def get(self, sku: str) -> StockLevel | None:
        return self.w.levels.get(sku)

    def get_many(self, skus: Iterable[str]) -> dict[str, StockLevel | None]:
        return {sku: self.w.levels.get(sku) for sku in dict.fromkeys(skus)}

    def levels(self) -> list[StockLevel]:
        return sorted(self.w.levels.values(), key=lambda lv: lv.sku)

    def receive(self, movement: Movement, safety_stock: int | None = None) -> bool:
        if movement.quantity <= 0 or movement.cause is MovementCause.SHIPMENT:
            raise ValueError("receive takes a positive receipt, return or adjustment")
        if _key(movement) in self.w.ledger:
            return False
        level = self.w.levels.get(movement.sku)
        if safety_stock is not None:
            if level is not None:
                raise RuntimeError(f"{movement.sku}: safety stock is set on new SKUs only")
            level = StockLevel(movement.sku, safety_stock=safety_stock)
        level = level or StockLevel(movement.sku)
        self.w.levels[movement.sku] = level.receive(movement.quantity)
        self.w.ledger[_key(movement)] = movement
        return True

    def remove(self, movement: Movement) -> bool:
        if movement.quantity >= 0 or movement.cause is not MovementCause.ADJUSTMENT:
            raise ValueError("remove takes a negative adjustment")
        level = self.w.levels.get(movement.sku)
        if level is None:
            raise KeyError(f"no stock level for SKU {movement.sku}")
        after = level.remove(-movement.quantity)  # raises InsufficientStock
        if _key(movement) in self.w.ledger:
            return False
        if self.w.levels[movement.sku] != level:  # pragma: no cover (one thread)
            raise LevelMoved(movement.sku)
        self.w.levels[movement.sku] = after
        self.w.ledger[_key(movement)] = movement
        return True

    def waiting_orders(self, sku: str) -> list[str]:
        waiting = [(since, order) for (s, order), since in self.w.waiting.items() if s == sku]
        return [order for _, order in sorted(waiting)]

    def stop_waiting(self, order_key: str, sku: str) -> None:
        self.w.waiting.pop((sku, order_key), None)

    def open_reservations(self, sku: str) -> dict[str, int]:
        return {
            order: qty
            for (s, order), (qty, status) in self.w.reservations.items()
            if s == sku and status == "open"
        }

    def ledger(self, sku: str) -> list[Movement]:
        movements = [m for (s, _, _), m in self.w.ledger.items() if s == sku]
        return sorted(movements, key=lambda m: (m.at, m.cause.value, m.reference))


class MemoryOrders:
    def __init__(self, world: World) -> None:
        self.w = world

    def get(self, order_key: str) -> Order | None:
        found = self.get_with_reservations(order_key)
        return found[0] if found else None

    def get_with_reservations(self, order_key: str) -> tuple[Order, dict[str, int]] | None:
        stored = self.w.orders.get(order_key)
        if stored is None:
            return None
        order, revision, reserved = stored
        return replace(order, revision=revision), dict(reserved)

    def orders(self) -> list[Order]:
        return [replace(o, revision=r) for o, r, _ in self.w.orders.values()]

    def watermark(self, channel: str, account: str) -> datetime | None:
        return self.w.watermarks.get((channel, account))

    def advance_watermark(self, channel: str, account: str, until: datetime) -> None:
        now = self.w.watermarks.get((channel, account))
        if now is None or now < until:
            self.w.watermarks[(channel, account)] = until

    def keep_held_delivery(self, held: HeldDelivery) -> bool:
        if held.expires_at is None:
            raise ValueError("a held delivery needs expires_at (its raw body's retention)")
        key = (held.channel, held.delivery_id)
        if key in self.w.held:
            return False
        self.w.held[key] = held
        return True

    def held_deliveries(self, now: datetime | None = None) -> list[HeldDelivery]:
        cutoff = int((now or datetime.now(UTC)).timestamp())
        return [h for h in self.w.held.values() if h.expires_at is None or h.expires_at > cutoff]


class _Work:
    """One unit of work: changes staged on copies, applied together by `apply`."""

    def __init__(self, world: World) -> None:
        self.w = world
        self.levels: dict[str, StockLevel] = {}
        self.ledger: dict[MovementKey, Movement] = {}
        self.reservations: dict[tuple[str, str], tuple[int, str]] = {}
        self.short: set[str] = set()

    def level(self, sku: str) -> StockLevel:
        return self.levels.get(sku) or self.w.levels.get(sku) or StockLevel(sku)

    def stock(self, sku: str, move: StockLevel | None) -> None:
        if move is None:
            self.short.add(sku)
        else:
            self.levels[sku] = move

    def record(self, movement: Movement) -> None:
        if _key(movement) in self.w.ledger or _key(movement) in self.ledger:
            self.short.add(movement.sku)  # as the ledger put's condition fails
        self.ledger[_key(movement)] = movement

    def apply(self) -> None:
        if self.short:
            raise ReservationRefused(sorted(self.short))
        self.w.levels.update(self.levels)
        self.w.ledger.update(self.ledger)
        self.w.reservations.update(self.reservations)


def _try(level: StockLevel, rule: str, qty: int) -> StockLevel | None:
    """The domain's rule applied, or None where it refuses (the condition that fails)."""
    try:
        after: StockLevel = getattr(level, rule)(qty)
    except (InsufficientStock, ValueError):
        return None
    return after


class MemoryIntake:
    def __init__(self, world: World) -> None:
        self.w = world

    def reserve(self, order: Order, quantities: dict[str, int], at: datetime) -> Outcome:
        doc_attributes(order)  # OrderTooLarge, as the store's put does
        if order.key in self.w.orders:
            return Outcome.DUPLICATE
        work = _Work(self.w)
        for sku, qty in quantities.items():
            work.stock(sku, _try(work.level(sku), "reserve", qty))
            work.reservations[(sku, order.key)] = (qty, "open")
        work.apply()
        self._store(order, 1, quantities)
        return Outcome.RESERVED

    def hold(self, order: Order, waiting_for: tuple[str, ...] = ()) -> Outcome:
        doc_attributes(order)
        if order.key in self.w.orders:
            return Outcome.DUPLICATE
        self._store(order, 1, {})
        for sku in waiting_for:
            self.w.waiting[(sku, order.key)] = order.created_at
        return Outcome.HELD

    def change(
        self,
        order: Order,
        planned_against: Order,
        reserved: dict[str, int],
        wanted: dict[str, int],
        at: datetime,
    ) -> None:
        revision = self._guard(order, planned_against)
        work = _Work(self.w)
        for sku in sorted(set(reserved) | set(wanted)):
            move = wanted.get(sku, 0) - reserved.get(sku, 0)
            if move:
                work.stock(sku, _try(work.level(sku), "change_reservation", move))
                left = wanted.get(sku, 0)
                work.reservations[(sku, order.key)] = (left, "open" if left > 0 else "released")
        work.apply()
        self._store(order, revision, wanted)

    def commit_shipment(
        self, order: Order, planned_against: Order, reserved: dict[str, int], at: datetime
    ) -> None:
        revision = self._guard(order, planned_against)
        work = _Work(self.w)
        for sku, qty in sorted(reserved.items()):
            work.stock(sku, _try(work.level(sku), "commit", qty))
            work.reservations[(sku, order.key)] = (0, "committed")
            work.record(Movement(sku, MovementCause.SHIPMENT, -qty, order.key, "workflow", at))
        work.apply()
        self._store(order, revision, {})

    def commit_unreserved_shipment(
        self, order: Order, planned_against: Order, shipped: dict[str, int], at: datetime
    ) -> None:
        revision = self._guard(order, planned_against)
        work = _Work(self.w)
        for sku, qty in sorted(shipped.items()):
            work.stock(sku, _try(work.level(sku), "ship_unreserved", qty))
            work.record(Movement(sku, MovementCause.SHIPMENT, -qty, order.key, "workflow", at))
        work.apply()
        self._store(order, revision, {})

    def keep_version(
        self,
        order: Order,
        planned_against: Order,
        reserved: dict[str, int],
        waiting_for: tuple[str, ...] = (),
        returns: tuple[Movement, ...] = (),
    ) -> None:
        revision = self._guard(order, planned_against)
        work = _Work(self.w)
        for movement in returns:
            work.stock(movement.sku, work.level(movement.sku).receive(movement.quantity))
            work.record(movement)
        if work.short:
            refs = ", ".join(m.reference for m in returns)
            raise RuntimeError(f"{order.key}: returns already in the ledger ({refs})")
        work.apply()
        for sku in waiting_for:
            self.w.waiting[(sku, order.key)] = order.created_at
        self._store(order, revision, reserved)

    def _guard(self, order: Order, planned_against: Order) -> int:
        """The next revision, if the stored one is still what the change was planned on."""
        doc_attributes(order)
        stored = self.w.orders.get(order.key)
        if stored is None or stored[1] != planned_against.revision:
            raise VersionMoved(order.key)
        return planned_against.revision + 1

    def _store(self, order: Order, revision: int, reserved: dict[str, int]) -> None:
        kept = {sku: qty for sku, qty in reserved.items() if qty > 0}
        self.w.orders[order.key] = (order, revision, kept)


class MemoryCatalog:
    """The catalog's listing refs (ListingRefs) and what channels show (StockCatalog); `map`
    and `list` stand in for writing a listing."""

    def __init__(self, world: World) -> None:
        self.w = world

    def list(self, listing: Listing) -> None:
        self.w.listings[(listing.sku, listing.key)] = listing

    # --- DriftLog (reconciliation) ---
    def open_drift(self, channel: str) -> dict[str, datetime]:
        return dict(self.w.drift.get(channel, {}))

    def keep_drift(self, channel: str, still_open: Mapping[str, datetime]) -> None:
        self.w.drift[channel] = dict(still_open)

    # --- Products and Listings (onboarding) ---
    def put_product(self, sku: str, title: str, gtin: str | None = None) -> None:
        self.w.products[sku] = Product(sku, title, gtin)

    def products_detail(self) -> dict[str, Product]:
        return dict(sorted(self.w.products.items()))

    def all_listings(self) -> builtins.list[Listing]:
        return [*self.w.listings.values()]

    def listings_for(self, sku: str) -> builtins.list[Listing]:
        return [lst for (s, _), lst in sorted(self.w.listings.items()) if s == sku]

    def put_listing(self, listing: Listing, lookup_refs: tuple[str, ...] = ()) -> None:
        for kind in lookup_refs:
            if ref := listing.refs.get(kind):
                owner = self.w.refs.get((listing.slot, kind, ref))
                if owner is not None and owner != listing.sku:
                    raise RefAlreadyMapped(listing.slot, kind, ref)
        self.list(listing)
        for kind in lookup_refs:
            if ref := listing.refs.get(kind):
                self.w.refs[(listing.slot, kind, ref)] = listing.sku

    def _slot_listing(self, sku: str, slot: str, marketplaces: Sequence[str]) -> Listing | None:
        keys = (slot, *(f"{slot}/{m}" for m in marketplaces))
        found = [self.w.listings[(sku, k)] for k in keys if (sku, k) in self.w.listings]
        return one_quantity(found) if found else None

    def listings_and_shows(
        self,
        skus: Iterable[str],
        slot: str,
        accepts: bool = True,
        marketplaces: Sequence[str] = (),
    ) -> tuple[dict[str, Listing], dict[str, ChannelShows]]:
        wanted = list(dict.fromkeys(skus))
        listings = {}
        for sku in wanted:
            if (listing := self._slot_listing(sku, slot, marketplaces)) is not None:
                listings[sku] = listing
        return listings, self.channel_shows_many(wanted, slot, accepts)

    def channel_shows_many(
        self, skus: Iterable[str], channel: str, accepts: bool = True
    ) -> dict[str, ChannelShows]:
        shows = {}
        for sku in dict.fromkeys(skus):
            pending = self.w.pending.get((sku, channel)) if accepts else None
            shown = self.w.shown.get((sku, channel))
            shows[sku] = ChannelShows(
                Sent(shown[0], shown[1]) if shown else None,
                Sent(pending[0], pending[2]) if pending else None,
            )
        return shows

    def listed_and_pending(
        self, skus: Iterable[str], slot: str, marketplaces: Sequence[str] = ()
    ) -> dict[str, tuple[Listing | None, tuple[int, str] | None]]:
        out: dict[str, tuple[Listing | None, tuple[int, str] | None]] = {}
        for sku in dict.fromkeys(skus):
            pending = self.w.pending.get((sku, slot))
            listing = self._slot_listing(sku, slot, marketplaces)
            out[sku] = (listing, (pending[0], pending[1]) if pending else None)
        return out

    def record_shown(self, sku: str, channel: str, quantity: int, at: datetime) -> None:
        self.w.shown[(sku, channel)] = (quantity, at)

    def record_pending(
        self, sku: str, channel: str, quantity: int, reference: str, at: datetime
    ) -> None:
        self.w.pending[(sku, channel)] = (quantity, reference, at)

    def clear_pending(self, sku: str, channel: str, reference: str, at: datetime) -> None:
        pending = self.w.pending.get((sku, channel))
        if pending is not None and pending[1] == reference:
            del self.w.pending[(sku, channel)]

    def map(self, channel: str, kind: str, value: str, sku: str) -> None:
        self.w.refs[(channel, kind, value)] = sku

    def find_sku(self, channel: str, kind: str, value: str) -> str | None:
        return self.w.refs.get((channel, kind, value))

    def wait_for_listing(
        self, channel: str, kind: str, value: str, order_key: str, since: datetime
    ) -> None:
        self.w.waiting_for_listing[(channel, kind, value, order_key)] = since

    def stop_waiting_for_listing(self, channel: str, kind: str, value: str, order_key: str) -> None:
        self.w.waiting_for_listing.pop((channel, kind, value, order_key), None)


@dataclass
class MemoryStores:
    """One world and a store of each kind over it."""

    world: World = field(default_factory=World)

    def __post_init__(self) -> None:
        self.inventory = MemoryInventory(self.world)
        self.orders = MemoryOrders(self.world)
        self.intake = MemoryIntake(self.world)
        self.catalog = MemoryCatalog(self.world)
