"""DESIGN §3 invariants under real interleaving: threads racing through the moto server.

Eight workers place orders for a few hot SKUs at once, and every order is submitted twice by
different workers (a duplicate racing its original). The local stack's moto server makes each
request atomic, as DynamoDB does per item; everything else is Keel's conditional writes.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

import boto3
import pytest

from local_stack.moto_server import MotoServer
from local_stack.resources import provision
from shared.domain.inventory import Movement, MovementCause
from shared.domain.orders import Money, Order, OrderLine
from shared.stores.intake import OrderIntakeStore, Outcome, ReservationRefused
from shared.stores.inventory import InventoryStore
from shared.stores.orders import OrderStore
from shared.wiring import WIRING, Wiring

SKUS = {"HOT-A": 7, "HOT-B": 4, "HOT-C": 10}
NOW = datetime(2026, 11, 27, tzinfo=UTC)
EUR = Money(Decimal("5.00"), "EUR")
STORES_ONLY = Wiring(
    tables=(WIRING.table("inventory"), WIRING.table("orders")), queues=(), functions=(), secrets=()
)


@pytest.fixture
def stores() -> Iterator[tuple[OrderIntakeStore, InventoryStore, OrderStore]]:
    server = MotoServer()
    server.start()
    try:
        resources = provision(STORES_ONLY, "race", server.endpoint, secret_values={})
        db = boto3.session.Session().client("dynamodb", endpoint_url=server.endpoint)  # thread-safe
        inventory = InventoryStore(resources.tables["inventory"], db)
        orders = OrderStore(resources.tables["orders"], db)
        for sku, qty in SKUS.items():
            inventory.receive(
                Movement(sku, MovementCause.RECEIPT, qty, "po", "t", NOW), safety_stock=1
            )
        yield OrderIntakeStore(orders, inventory, db), inventory, orders
    finally:
        server.stop()


def test_racing_orders_and_duplicates_never_oversell(
    stores: tuple[OrderIntakeStore, InventoryStore, OrderStore],
) -> None:
    intake, inventory, orders = stores
    rng = random.Random(7)
    planned = []
    for n in range(30):
        lines = {sku: rng.randint(1, 2) for sku in rng.sample(sorted(SKUS), rng.randint(1, 3))}
        order = Order(
            channel="shopify",
            account="shop.example",
            external_id=str(n),
            name=f"#{n}",
            created_at=NOW,
            channel_updated_at=NOW,
            total=EUR,
            presentment_total=EUR,
            lines=tuple(OrderLine(s, q, EUR, EUR, sku=s) for s, q in lines.items()),
        )
        planned.extend([(order, lines), (order, lines)])  # every order twice
    rng.shuffle(planned)

    def place(job: tuple[Order, dict[str, int]]) -> tuple[str, str]:
        order, lines = job
        try:
            return order.key, intake.reserve(order, lines, NOW).value
        except ReservationRefused:
            return order.key, "refused"

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(place, planned))

    reserved_keys = {key for key, outcome in results if outcome == Outcome.RESERVED.value}
    per_key = {key: [o for k, o in results if k == key] for key, _ in results}
    for key, outcomes in per_key.items():
        assert outcomes.count(Outcome.RESERVED.value) <= 1, key  # a duplicate never reserves
    assert {o.key for o in orders.orders()} == reserved_keys
    wanted = {order.key: lines for order, lines in planned}
    for sku, received in SKUS.items():
        level = inventory.get(sku)
        assert level is not None
        reservations = inventory.open_reservations(sku)
        assert level.reserved == sum(reservations.values())
        assert set(reservations) == {k for k in reserved_keys if sku in wanted[k]}
        assert level.reserved <= received - level.safety_stock  # never oversold
        assert level.reservable == received - level.reserved - level.safety_stock
    assert reserved_keys, "some orders must have gone through"
    assert len(reserved_keys) < len(wanted), "stock must have run out for some"
