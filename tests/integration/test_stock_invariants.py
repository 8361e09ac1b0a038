"""DESIGN §3 invariants on the real stores (moto), under random orders, replays and receipts.

hypothesis drives a state machine: orders for random SKU mixes (some for more than is in stock),
replays of earlier orders, and goods received. After every step the stored state must satisfy:
reserved = sum of open reservations; on_hand = sum of the ledger; reservable = on_hand -
reserved - safety_stock and never negative through a reservation; a replay (of an order or of
a receipt) changes nothing.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from moto import mock_aws

from local_stack.resources import provision
from shared.domain.inventory import Movement, MovementCause
from shared.domain.orders import Money, Order, OrderLine
from shared.stores.intake import OrderIntakeStore, Outcome, ReservationRefused
from shared.stores.inventory import InventoryStore
from shared.stores.orders import OrderStore
from shared.wiring import WIRING, Wiring

SKUS = ("A", "B", "C")
STORES_ONLY = Wiring(
    tables=(WIRING.table("inventory"), WIRING.table("orders")), queues=(), functions=(), secrets=()
)
_aws = mock_aws()


def setup_module() -> None:
    """One in-process moto for every example; each example gets tables of its own."""
    _aws.start()


def teardown_module() -> None:
    _aws.stop()


NOW = datetime(2026, 11, 27, tzinfo=UTC)
EUR = Money(Decimal("1.00"), "EUR")
_tables = itertools.count()


class StockStoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        resources = provision(STORES_ONLY, f"prop{next(_tables)}", None, secret_values={})
        db = boto3.client("dynamodb")
        self.inventory = InventoryStore(resources.tables["inventory"], db)
        self.orders = OrderStore(resources.tables["orders"], db)
        self.intake = OrderIntakeStore(self.orders, self.inventory, db)
        self.placed: list[tuple[Order, dict[str, int]]] = []
        self.receipts: list[Movement] = []
        self.reserved_orders: set[str] = set()
        self.ids = itertools.count(1)
        for n, sku in enumerate(SKUS):
            self.inventory.receive(
                Movement(sku, MovementCause.RECEIPT, 3, "seed", "test", NOW), safety_stock=n % 2
            )

    @rule(lines=st.dictionaries(st.sampled_from(SKUS), st.integers(1, 4), min_size=1))
    def place_order(self, lines: dict[str, int]) -> None:
        order = Order(
            channel="shopify",
            account="shop.example",
            external_id=str(next(self.ids)),
            name="#",
            created_at=NOW,
            channel_updated_at=NOW,
            total=EUR,
            presentment_total=EUR,
            lines=tuple(OrderLine(s, q, EUR, EUR, sku=s) for s, q in lines.items()),
        )
        before = {s: self.inventory.get(s) for s in lines}
        try:
            outcome = self.intake.reserve(order, lines, NOW)
        except ReservationRefused as refused:
            assert refused.skus, "a refusal names the short SKUs"
            for sku in refused.skus:
                level = before[sku]
                assert level is not None and level.reservable < lines[sku]
            return
        assert outcome is Outcome.RESERVED
        for sku, qty in lines.items():
            level = before[sku]
            assert level is not None and level.reservable >= qty
        self.placed.append((order, lines))
        self.reserved_orders.add(order.key)

    @precondition(lambda self: bool(self.placed))
    @rule(data=st.data())
    def replay_an_order(self, data: st.DataObject) -> None:
        order, lines = data.draw(st.sampled_from(self.placed))
        snapshot = self._levels()
        assert self.intake.reserve(order, lines, NOW) is Outcome.DUPLICATE
        assert self._levels() == snapshot

    @rule(sku=st.sampled_from(SKUS), qty=st.integers(1, 3))
    def receive(self, sku: str, qty: int) -> None:
        ref = f"po-{next(self.ids)}"
        movement = Movement(sku, MovementCause.RECEIPT, qty, ref, "test", NOW)
        assert self.inventory.receive(movement) is True
        self.receipts.append(movement)

    @precondition(lambda self: bool(self.receipts))
    @rule(data=st.data(), later=st.integers(1, 10_000))
    def replay_a_receipt(self, data: st.DataObject, later: int) -> None:
        """The same receipt again, recorded later: the ledger key is its reference."""
        movement = data.draw(st.sampled_from(self.receipts))
        snapshot = self._levels()
        replay = replace(movement, at=movement.at + timedelta(seconds=later))
        assert self.inventory.receive(replay) is False
        assert self._levels() == snapshot

    def _levels(self) -> dict[str, Any]:
        return {s: self.inventory.get(s) for s in SKUS}

    @invariant()
    def stored_state_is_consistent(self) -> None:
        for sku in SKUS:
            level = self.inventory.get(sku)
            assert level is not None
            assert level.reserved == sum(self.inventory.open_reservations(sku).values())
            assert level.on_hand == sum(m.quantity for m in self.inventory.ledger(sku))
            raw = self.inventory._t.client.get_item(
                TableName=self.inventory.table,
                Key={"pk": {"S": f"SKU#{sku}"}, "sk": {"S": "LEVEL"}},
            )["Item"]
            assert int(raw["reservable"]["N"]) == level.reservable
            assert level.reservable >= 0  # reservations never dig into safety stock
        assert {o.key for o in self.orders.orders()} == self.reserved_orders


TestStockStoreMachine = StockStoreMachine.TestCase
TestStockStoreMachine.settings = settings(
    max_examples=10,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
