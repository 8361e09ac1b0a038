"""The inventory rules have one owner: `shared.domain.inventory` states them, the DynamoDB
stores enforce them with conditions, the in-memory fakes (tests/fakes/stores.py) by calling the
domain. This differential test drives all three with the same operations and demands the same
decisions and the same stock after every step, so none can drift from the others.

Every stock write is covered: receipts and positive adjustments (references from a small pool,
so replays happen), removals (negative adjustments, never what orders hold), orders of one to
three lines reserved through the intake unit of work (ids from a small pool: replays too),
edits that grow or shrink an open order's reservation, cancellations that release it, the
commit of a shipped order, and goods shipped after their order was cancelled (unreserved).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import boto3
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from local_stack.resources import provision
from shared.domain.inventory import (
    InsufficientStock,
    Movement,
    MovementCause,
    StockLevel,
    aggregate_by_sku,
)
from shared.domain.orders import Money, Order, OrderLine
from shared.services import stock
from shared.stores.intake import OrderIntakeStore, Outcome, ReservationRefused
from shared.stores.inventory import InventoryStore
from shared.stores.orders import OrderStore
from shared.stores.ports import Intake, Inventory, Orders
from shared.wiring import WIRING, Wiring
from tests.fakes.stores import MemoryStores

SKUS = ("A", "B")
STORES_ONLY = Wiring(
    tables=(WIRING.table("inventory"), WIRING.table("orders")), queues=(), functions=(), secrets=()
)
NOW = datetime(2026, 11, 27, tzinfo=UTC)
EUR = Money(Decimal("1.00"), "EUR")
_aws = mock_aws()
_tables = itertools.count()


def setup_module() -> None:
    """One in-process moto for every example; each example gets tables of its own."""
    _aws.start()


def teardown_module() -> None:
    _aws.stop()


@dataclass(frozen=True)
class Receive:
    sku: str
    cause: MovementCause
    qty: int
    reference: str


@dataclass(frozen=True)
class Reserve:
    order_id: str
    lines: tuple[tuple[str, int], ...]


skus = st.sampled_from(SKUS)
receives = st.builds(
    Receive,
    sku=skus,
    cause=st.sampled_from([MovementCause.RECEIPT, MovementCause.ADJUSTMENT]),
    qty=st.integers(1, 4),
    reference=st.sampled_from([f"po-{n}" for n in range(4)]),
)
reserves = st.builds(
    Reserve,
    order_id=st.sampled_from(["0", "1"]),
    lines=st.lists(st.tuples(skus, st.integers(1, 3)), min_size=1, max_size=3).map(tuple),
)


@dataclass(frozen=True)
class Cancel:
    order_id: str


@dataclass(frozen=True)
class Remove:
    sku: str
    qty: int
    reference: str


@dataclass(frozen=True)
class Edit:
    """The channel changed an open order's lines: its reservation grows or shrinks."""

    order_id: str
    lines: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Ship:
    """The carrier took an open order's parcel: its reservation leaves the shelf."""

    order_id: str


@dataclass(frozen=True)
class ShipCancelled:
    """The carrier took the parcel of an order cancelled meanwhile: goods leave unreserved."""

    order_id: str


order_ids = st.sampled_from(["0", "1"])  # few: replays, edits and ships meet the same order
order_lines = st.lists(st.tuples(skus, st.integers(1, 3)), min_size=1, max_size=3).map(tuple)
cancels = st.builds(Cancel, order_id=order_ids)
removes = st.builds(
    Remove, sku=skus, qty=st.integers(1, 4), reference=st.sampled_from(["po-0", "count-1"])
)
edits = st.builds(Edit, order_id=order_ids, lines=order_lines)
ships = st.builds(Ship, order_id=order_ids)
ships_cancelled = st.builds(ShipCancelled, order_id=order_ids)
Op = Receive | Reserve | Cancel | Remove | Edit | Ship | ShipCancelled
operations = st.lists(
    st.one_of(receives, reserves, cancels, removes, edits, ships, ships_cancelled),
    min_size=1,
    max_size=20,
)
seeds = st.fixed_dictionaries(
    {sku: st.tuples(st.integers(3, 12), st.integers(0, 2)) for sku in SKUS}
)  # sku -> (first receipt, safety stock)


class Model:
    """The domain's rules, plus the two keys the domain leaves to its caller: a movement is
    recorded once per (sku, cause, reference), an order once per id."""

    def __init__(self, seed: dict[str, tuple[int, int]]) -> None:
        self.levels = {
            sku: StockLevel(sku, safety_stock=safety).receive(qty)
            for sku, (qty, safety) in seed.items()
        }
        self.movements = {(sku, MovementCause.RECEIPT, "seed") for sku in seed}
        self.orders: dict[str, dict[str, int]] = {}  # order -> its lines (SKU -> quantity)
        self.open: dict[str, dict[str, int]] = {}  # order -> what it holds
        self.cancelled: set[str] = set()

    def _all_or_nothing(self, moves: dict[str, tuple[str, int]]) -> list[str]:
        """SKU -> (domain rule, quantity), applied together or not at all: the short SKUs."""
        after: dict[str, StockLevel] = {}
        short: list[str] = []
        for sku, (rule, qty) in sorted(moves.items()):
            try:
                after[sku] = getattr(self.levels[sku], rule)(qty)
            except (InsufficientStock, ValueError):
                short.append(sku)
        if not short:
            self.levels.update(after)
        return short

    def receive(self, op: Receive) -> bool:
        key = (op.sku, op.cause, op.reference)
        if key in self.movements:
            return False
        self.movements.add(key)
        self.levels[op.sku] = self.levels[op.sku].receive(op.qty)
        return True

    def reserve(self, op: Reserve) -> Outcome | list[str]:
        """The outcome, or the SKUs that lacked stock (then nothing changed)."""
        if op.order_id in self.orders:
            return Outcome.DUPLICATE
        wanted = aggregate_by_sku(op.lines)
        short = self._all_or_nothing({sku: ("reserve", q) for sku, q in wanted.items()})
        if short:
            return short
        self.orders[op.order_id] = wanted
        self.open[op.order_id] = wanted
        return Outcome.RESERVED

    def cancel(self, op: Cancel) -> bool:
        held = self.open.pop(op.order_id, None)
        if not held:
            return False
        for sku, qty in held.items():
            self.levels[sku] = self.levels[sku].release(qty)
        self.cancelled.add(op.order_id)
        return True

    def edit(self, op: Edit) -> str | list[str]:
        held = self.open.get(op.order_id)
        if held is None:
            return "not open"
        wanted = aggregate_by_sku(op.lines)
        moves = {
            sku: ("change_reservation", wanted.get(sku, 0) - held.get(sku, 0))
            for sku in set(held) | set(wanted)
            if wanted.get(sku, 0) != held.get(sku, 0)
        }
        short = self._all_or_nothing(moves)
        if short:
            return short
        self.open[op.order_id] = self.orders[op.order_id] = wanted
        return "edited"

    def ship(self, op: Ship) -> str | list[str]:
        held = self.open.get(op.order_id)
        if held is None:
            return "not open"
        short = self._all_or_nothing({sku: ("commit", q) for sku, q in held.items()})
        if short:
            return short
        del self.open[op.order_id]
        return "shipped"

    def ship_cancelled(self, op: ShipCancelled) -> str | list[str]:
        if op.order_id not in self.cancelled:
            return "not cancelled"
        lines = self.orders[op.order_id]
        if any((sku, MovementCause.SHIPMENT, op.order_id) in self.movements for sku in lines):
            return sorted(lines)  # the shipment is in the ledger once: the write is refused
        short = self._all_or_nothing({sku: ("ship_unreserved", q) for sku, q in lines.items()})
        if short:
            return short
        self.movements.update((sku, MovementCause.SHIPMENT, op.order_id) for sku in lines)
        return "shipped"

    def remove(self, op: Remove) -> bool | str:
        """As the store decides: the rule on what orders hold first, then the reference."""
        try:
            after = self.levels[op.sku].remove(op.qty)
        except InsufficientStock:
            return "refused"
        key = (op.sku, MovementCause.ADJUSTMENT, op.reference)
        if key in self.movements:
            return False
        self.movements.add(key)
        self.levels[op.sku] = after
        return True

    def run(self, op: Op) -> object:
        return _dispatch(self, op)


def _dispatch(target: Model | Stores, op: Op) -> object:
    if isinstance(op, Receive):
        return target.receive(op)
    if isinstance(op, Reserve):
        return target.reserve(op)
    if isinstance(op, Cancel):
        return target.cancel(op)
    if isinstance(op, Edit):
        return target.edit(op)
    if isinstance(op, Ship):
        return target.ship(op)
    if isinstance(op, ShipCancelled):
        return target.ship_cancelled(op)
    return target.remove(op)


def _key(order_id: str) -> str:
    return f"shopify#shop.example#{order_id}"


def _order(order_id: str, lines: tuple[tuple[str, int], ...]) -> Order:
    return Order(
        channel="shopify",
        account="shop.example",
        external_id=order_id,
        name=f"#{order_id}",
        created_at=NOW,
        channel_updated_at=NOW,
        total=EUR,
        presentment_total=EUR,
        lines=tuple(OrderLine(str(n), q, EUR, EUR, sku=sku) for n, (sku, q) in enumerate(lines)),
    )


class Stores:
    """The same operations through the store ports: DynamoDB's or the fakes'."""

    def __init__(self, inventory: Inventory, orders: Orders, intake: Intake) -> None:
        self.inventory, self.orders, self.intake = inventory, orders, intake
        self.clock = itertools.count(1)

    def seed(self, seed: dict[str, tuple[int, int]]) -> None:
        for sku, (qty, safety) in seed.items():
            seeded = Movement(sku, MovementCause.RECEIPT, qty, "seed", "test", NOW)
            assert self.inventory.receive(seeded, safety_stock=safety)

    def _at(self) -> datetime:
        return NOW + timedelta(minutes=next(self.clock))  # a replay arrives later

    def receive(self, op: Receive) -> bool:
        movement = Movement(op.sku, op.cause, op.qty, op.reference, "t", self._at())
        return self.inventory.receive(movement)

    def reserve(self, op: Reserve) -> Outcome | list[str]:
        try:
            return self.intake.reserve(
                _order(op.order_id, op.lines), aggregate_by_sku(op.lines), NOW
            )
        except ReservationRefused as refused:
            return sorted(refused.skus)

    def cancel(self, op: Cancel) -> bool:
        found = self.orders.get_with_reservations(_key(op.order_id))
        if found is None or not found[1]:
            return False
        order, reserved = found
        ended = replace(order, cancelled_at=NOW).cancelled(NOW, "test")
        self.intake.change(ended, order, reserved, {}, NOW)
        return True

    def edit(self, op: Edit) -> str | list[str]:
        found = self.orders.get_with_reservations(_key(op.order_id))
        if found is None or not found[1]:
            return "not open"
        order, reserved = found
        edited = replace(order, lines=_order(op.order_id, op.lines).lines).noted(NOW, "edit")
        try:
            self.intake.change(edited, order, reserved, aggregate_by_sku(op.lines), NOW)
        except ReservationRefused as refused:
            return sorted(refused.skus)
        return "edited"

    def ship(self, op: Ship) -> str | list[str]:
        found = self.orders.get_with_reservations(_key(op.order_id))
        if found is None or not found[1]:
            return "not open"
        order, reserved = found
        try:
            self.intake.commit_shipment(order.shipped(NOW, "test"), order, reserved, self._at())
        except ReservationRefused as refused:
            return sorted(refused.skus)
        return "shipped"

    def ship_cancelled(self, op: ShipCancelled) -> str | list[str]:
        order = self.orders.get(_key(op.order_id))
        if order is None or order.cancelled_at is None:
            return "not cancelled"
        lines = aggregate_by_sku((ln.sku or "", ln.quantity) for ln in order.lines)
        kept = order.noted(NOW, "left with the carrier")
        try:
            self.intake.commit_unreserved_shipment(kept, order, lines, self._at())
        except ReservationRefused as refused:
            return sorted(refused.skus)
        return "shipped"

    def remove(self, op: Remove) -> bool | str:
        try:
            return stock.adjust(self.inventory, op.sku, -op.qty, op.reference, "t", self._at())
        except InsufficientStock:
            return "refused"

    def run(self, op: Op) -> object:
        return _dispatch(self, op)


class Real(Stores):
    """DynamoDB's stores, against moto; each example on tables of its own."""

    def __init__(self, seed: dict[str, tuple[int, int]]) -> None:
        resources = provision(STORES_ONLY, f"diff{next(_tables)}", None, secret_values={})
        self.db = boto3.client("dynamodb")
        inventory = InventoryStore(resources.tables["inventory"], self.db)
        orders = OrderStore(resources.tables["orders"], self.db)
        super().__init__(inventory, orders, OrderIntakeStore(orders, inventory, self.db))
        self.table = inventory.table
        self.seed(seed)

    def stored_reservable(self, sku: str) -> int:
        """The stored `reservable` attribute itself (DynamoDB's conditions read it)."""
        raw = self.db.get_item(
            TableName=self.table,
            Key={"pk": {"S": f"SKU#{sku}"}, "sk": {"S": "LEVEL"}},
            ConsistentRead=True,
        )["Item"]
        return int(raw["reservable"]["N"])


def fake(seed: dict[str, tuple[int, int]]) -> Stores:
    memory = MemoryStores()
    stores = Stores(memory.inventory, memory.orders, memory.intake)
    stores.seed(seed)
    return stores


def _figures(level: StockLevel | None) -> tuple[int, ...]:
    assert level is not None
    return (level.on_hand, level.reserved, level.safety_stock, level.available, level.version)


def assert_same_stock(model: Model, stores: list[Stores], step: str) -> None:
    for sku in SKUS:
        expected = _figures(model.levels[sku])
        for each in stores:
            assert _figures(each.inventory.get(sku)) == expected, f"{sku} after {step}"
            assert each.inventory.open_reservations(sku) == {
                _key(o): held[sku] for o, held in model.open.items() if held.get(sku)
            }, f"{sku} reservations after {step}"
            if isinstance(each, Real):
                assert each.stored_reservable(sku) == model.levels[sku].reservable, step


# The paths random sequences reach rarely, each pinned for all three:
A3 = {"A": (3, 0), "B": (3, 0)}
GOODS_LEFT_AFTER_CANCEL = [  # shipped unreserved, once only, never below zero on hand
    Reserve("0", (("A", 3),)),
    Cancel("0"),
    Remove("A", 2, "count-1"),
    ShipCancelled("0"),
    Receive("A", MovementCause.RECEIPT, 4, "po-1"),
    ShipCancelled("0"),
    ShipCancelled("0"),
]
COMMIT_AFTER_UNRESERVED = [  # what left unreserved leaves too little for the commit
    Reserve("0", (("A", 2),)),
    Cancel("0"),
    Reserve("1", (("A", 3),)),
    ShipCancelled("0"),
    Ship("1"),
]
EDITS = [  # grow past what is reservable (refused, nothing moves), shrink, grow, ship
    Reserve("0", (("A", 2), ("B", 1))),
    Edit("0", (("A", 3), ("B", 3), ("B", 1))),
    Edit("0", (("A", 1),)),
    Edit("0", (("A", 3), ("B", 2))),
    Remove("A", 1, "count-1"),
    Ship("0"),
    Ship("0"),
]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=seeds, ops=operations)
@example(seed=A3, ops=GOODS_LEFT_AFTER_CANCEL)
@example(seed=A3, ops=COMMIT_AFTER_UNRESERVED)
@example(seed=A3, ops=EDITS)
def test_dynamodb_and_the_fakes_decide_and_count_like_the_domain(
    seed: dict[str, tuple[int, int]], ops: list[Op]
) -> None:
    model, stores = Model(seed), [Real(seed), fake(seed)]
    assert_same_stock(model, stores, "seeding")
    for n, op in enumerate(ops):
        step = f"step {n}: {op}"
        expected = model.run(op)
        assert [each.run(op) for each in stores] == [expected, expected], step
        assert_same_stock(model, stores, step)


@settings(max_examples=400, deadline=None)
@given(seed=seeds, ops=operations)
@example(seed=A3, ops=GOODS_LEFT_AFTER_CANCEL)
@example(seed=A3, ops=COMMIT_AFTER_UNRESERVED)
@example(seed=A3, ops=EDITS)
def test_the_fakes_decide_and_count_like_the_domain_over_many_more_examples(
    seed: dict[str, tuple[int, int]], ops: list[Op]
) -> None:
    """Without moto, hundreds of examples take seconds: the fakes are what service tests use."""
    model, stores = Model(seed), [fake(seed)]
    for n, op in enumerate(ops):
        step = f"step {n}: {op}"
        assert stores[0].run(op) == model.run(op), step
        assert_same_stock(model, stores, step)
