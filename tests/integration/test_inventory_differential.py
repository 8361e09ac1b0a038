"""The inventory rules have one owner: `shared.domain.inventory` states them, the stores enforce
them with DynamoDB conditions. This differential test drives both with the same operations and
demands the same decisions and the same stock after every step, so the two cannot drift apart.

Operations: receipts and positive adjustments (with references drawn from a small pool, so
replays of an earlier reference happen), and orders of one to three lines reserved through the
intake store (with order ids from a small pool, so replays of an order happen too);
cancellations that release an order's reservations through the intake store's versioned change
(as ingest does), and removals (negative adjustments) that may never take what orders hold.
`commit` (shipping) has no store yet, so it is not compared here.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import boto3
from hypothesis import HealthCheck, given, settings
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
from shared.wiring import WIRING, Wiring

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
    order_id=st.sampled_from([str(n) for n in range(3)]),
    lines=st.lists(st.tuples(skus, st.integers(1, 5)), min_size=1, max_size=3).map(tuple),
)


@dataclass(frozen=True)
class Cancel:
    order_id: str


@dataclass(frozen=True)
class Remove:
    sku: str
    qty: int
    reference: str


cancels = st.builds(Cancel, order_id=st.sampled_from([str(n) for n in range(3)]))
removes = st.builds(
    Remove, sku=skus, qty=st.integers(1, 4), reference=st.sampled_from(["po-0", "count-1"])
)
operations = st.lists(st.one_of(receives, reserves, cancels, removes), min_size=1, max_size=15)
seeds = st.fixed_dictionaries(
    {sku: st.tuples(st.integers(1, 5), st.integers(0, 3)) for sku in SKUS}
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
        self.orders: set[str] = set()
        self.open: dict[str, dict[str, int]] = {}  # order -> what it holds

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
        after: dict[str, StockLevel] = {}
        short: list[str] = []
        for sku, qty in aggregate_by_sku(op.lines).items():
            try:
                after[sku] = self.levels[sku].reserve(qty)
            except InsufficientStock:
                short.append(sku)
        if short:
            return sorted(short)
        self.levels.update(after)
        self.orders.add(op.order_id)
        self.open[op.order_id] = aggregate_by_sku(op.lines)
        return Outcome.RESERVED

    def cancel(self, op: Cancel) -> bool:
        held = self.open.pop(op.order_id, None)
        if not held:
            return False
        for sku, qty in held.items():
            self.levels[sku] = self.levels[sku].release(qty)
        return True

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


class Real:
    """The same operations on the stores, against moto."""

    def __init__(self, seed: dict[str, tuple[int, int]]) -> None:
        resources = provision(STORES_ONLY, f"diff{next(_tables)}", None, secret_values={})
        self.db = boto3.client("dynamodb")
        self.inventory = InventoryStore(resources.tables["inventory"], self.db)
        self.intake_orders = OrderStore(resources.tables["orders"], self.db)
        self.intake = OrderIntakeStore(self.intake_orders, self.inventory, self.db)
        self.clock = itertools.count(1)
        for sku, (qty, safety) in seed.items():
            seeded = Movement(sku, MovementCause.RECEIPT, qty, "seed", "test", NOW)
            assert self.inventory.receive(seeded, safety_stock=safety)

    def receive(self, op: Receive) -> bool:
        at = NOW + timedelta(minutes=next(self.clock))  # a replay arrives later than the first
        return self.inventory.receive(Movement(op.sku, op.cause, op.qty, op.reference, "t", at))

    def reserve(self, op: Reserve) -> Outcome | list[str]:
        order = Order(
            channel="shopify",
            account="shop.example",
            external_id=op.order_id,
            name=f"#{op.order_id}",
            created_at=NOW,
            channel_updated_at=NOW,
            total=EUR,
            presentment_total=EUR,
            lines=tuple(
                OrderLine(str(n), qty, EUR, EUR, sku=sku) for n, (sku, qty) in enumerate(op.lines)
            ),
        )
        try:
            return self.intake.reserve(order, aggregate_by_sku(op.lines), NOW)
        except ReservationRefused as refused:
            return sorted(refused.skus)

    def cancel(self, op: Cancel) -> bool:
        found = self.intake_orders.get_with_reservations(f"shopify#shop.example#{op.order_id}")
        if found is None or not found[1]:
            return False
        order, reserved = found
        ended = replace(order, cancelled_at=NOW).cancelled(NOW, "test")
        self.intake.change(ended, order, reserved, {}, NOW)
        return True

    def remove(self, op: Remove) -> bool | str:
        at = NOW + timedelta(minutes=next(self.clock))
        try:
            return stock.adjust(self.inventory, op.sku, -op.qty, op.reference, "t", at)
        except InsufficientStock:
            return "refused"

    def stored(self, sku: str) -> tuple[StockLevel, int]:
        """The level as the store reads it, and the stored `reservable` attribute itself."""
        level = self.inventory.get(sku)
        assert level is not None
        raw = self.db.get_item(
            TableName=self.inventory.table,
            Key={"pk": {"S": f"SKU#{sku}"}, "sk": {"S": "LEVEL"}},
            ConsistentRead=True,
        )["Item"]
        return level, int(raw["reservable"]["N"])


def assert_same_stock(model: Model, real: Real, step: str) -> None:
    for sku in SKUS:
        expected = model.levels[sku]
        level, stored_reservable = real.stored(sku)
        assert (
            level.on_hand,
            level.reserved,
            level.safety_stock,
            level.available,
            level.version,
        ) == (
            expected.on_hand,
            expected.reserved,
            expected.safety_stock,
            expected.available,
            expected.version,
        ), f"{sku} after {step}"
        assert stored_reservable == level.on_hand - level.reserved - level.safety_stock, step
        assert stored_reservable == expected.reservable, f"{sku} after {step}"


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(seed=seeds, ops=operations)
def test_stores_decide_and_count_like_the_domain(
    seed: dict[str, tuple[int, int]], ops: list[Receive | Reserve]
) -> None:
    model, real = Model(seed), Real(seed)
    assert_same_stock(model, real, "seeding")
    for n, op in enumerate(ops):
        step = f"step {n}: {op}"
        if isinstance(op, Receive):
            assert real.receive(op) == model.receive(op), step
        elif isinstance(op, Reserve):
            assert real.reserve(op) == model.reserve(op), step
        elif isinstance(op, Cancel):
            assert real.cancel(op) == model.cancel(op), step
        else:
            assert real.remove(op) == model.remove(op), step
        assert_same_stock(model, real, step)
