"""Channel calls per stock change: a sync batch sends each SKU's current quantity once, and
nothing for a SKU whose channel already shows it (or has a write of it in flight) when the
trigger only says Keel's stock moved. Every other trigger still sends."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

import functions.sync.handler as sync_module
import shared.runtime as runtime_module
from local_stack.resources import Provisioned
from shared import queue_batch
from shared.channels.port import PendingCheck, PendingState, PendingStock, StockResult, StockUpdate
from shared.channels.registry import BY_NAME
from shared.domain.inventory import Movement, MovementCause
from shared.domain.listings import Listing
from shared.messages import ConfirmStock, SyncListing, stock_message
from shared.runtime import reset as reset_runtime
from shared.services.outbound import BatchPlan
from shared.services.stock_confirm import confirm_stock
from shared.services.stock_sync import SHORT_RECHECK_S, publish_stock
from shared.settings import FUNCTION_ENV
from shared.stores.catalog import CatalogStore
from shared.stores.inventory import InventoryStore
from tests.integration.conftest import WOO_BASE, context, drain, sqs_event

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
CHANNEL = "woocommerce"
SKUS = ("CUP", "MUG", "PLATE")


def moved(sku: str) -> str:
    return SyncListing(channel=CHANNEL, sku=sku, stock_moved=True).model_dump_json()


def forced(sku: str) -> str:
    return SyncListing(channel=CHANNEL, sku=sku).model_dump_json()


def run_sync(*bodies: str) -> Any:
    token = FUNCTION_ENV.set({"KEEL_CHANNEL": CHANNEL})
    try:
        return sync_module.handler(sqs_event(*bodies), context(f"sync-{CHANNEL}"))
    finally:
        FUNCTION_ENV.reset(token)


def receive(inventory: InventoryStore, sku: str, units: int, ref: str) -> None:
    inventory.receive(Movement(sku, MovementCause.RECEIPT, units, ref, "test", NOW))


@pytest.fixture
def listed(catalog: CatalogStore, inventory: InventoryStore) -> None:
    for n, sku in enumerate(SKUS):
        catalog.put_listing(Listing(sku, CHANNEL, {"product_id": str(501 + n)}))
        first = Movement(sku, MovementCause.RECEIPT, 1, f"po-{sku}", "test", NOW)
        inventory.receive(first, safety_stock=0)


def woo_answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"update": json.loads(request.content)["update"]})


@respx.mock
def test_thirty_changes_over_three_skus_make_one_call_with_their_latest_values(
    deployed: Provisioned, catalog: CatalogStore, inventory: InventoryStore, listed: None
) -> None:
    route = respx.post(f"{WOO_BASE}/wp-json/wc/v3/products/batch").mock(side_effect=woo_answer)
    triggers = []
    for n in range(30):  # each change's own trigger, as the relay sends them
        sku = SKUS[n % 3]
        receive(inventory, sku, 1, f"burst-{n}")
        triggers.append(moved(sku))
    assert run_sync(*triggers) == {"batchItemFailures": []}
    assert route.call_count == 1
    rows = json.loads(route.calls.last.request.content)["update"]
    assert sorted((r["id"], r["stock_quantity"]) for r in rows) == [(501, 11), (502, 11), (503, 11)]
    assert {sku: catalog.shown(sku, CHANNEL) for sku in SKUS} == dict.fromkeys(SKUS, 11)


@respx.mock
def test_a_trigger_for_a_quantity_the_channel_shows_sends_nothing(
    deployed: Provisioned,
    catalog: CatalogStore,
    inventory: InventoryStore,
    listed: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [NOW]
    monkeypatch.setattr(runtime_module, "utc_now", lambda: clock[0])
    route = respx.post(f"{WOO_BASE}/wp-json/wc/v3/products/batch").mock(side_effect=woo_answer)
    assert run_sync(*(moved(sku) for sku in SKUS)) == {"batchItemFailures": []}
    assert route.call_count == 1
    # Late triggers of changes that call already carried: nothing to send.
    assert run_sync(*(moved(sku) for sku in SKUS)) == {"batchItemFailures": []}
    assert route.call_count == 1
    # One SKU moves again, a while later (not hot: stock_hold): only it is sent.
    clock[0] += timedelta(seconds=BY_NAME[CHANNEL].sync.hold_quiet_s + 1)
    receive(inventory, "MUG", 2, "po-2")
    assert run_sync(*(moved(sku) for sku in SKUS)) == {"batchItemFailures": []}
    assert route.call_count == 2
    assert json.loads(route.calls.last.request.content)["update"] == [
        {"id": 502, "manage_stock": True, "stock_quantity": 3}
    ]


@respx.mock
def test_any_other_trigger_sends_even_what_the_channel_was_last_seen_to_show(
    deployed: Provisioned, catalog: CatalogStore, inventory: InventoryStore, listed: None
) -> None:
    """A resync heals a hand edit in the channel's admin; a held order puts back what the
    channel moved itself: Keel's record of what it showed cannot tell either."""
    route = respx.post(f"{WOO_BASE}/wp-json/wc/v3/products/batch").mock(side_effect=woo_answer)
    assert run_sync(moved("MUG")) == {"batchItemFailures": []}
    assert run_sync(moved("MUG"), forced("MUG")) == {"batchItemFailures": []}
    assert route.call_count == 2


class Accepting:
    """A channel that accepts writes before applying them (bol.com, Amazon), scripted."""

    channel = CHANNEL
    written: list[tuple[str, int]] = []
    moves: list[int] = []  # units the level moves by while each write is on its way

    def __init__(self, inventory: InventoryStore | None = None) -> None:
        self._inventory = inventory

    def set_stock(self, items: Sequence[StockUpdate]) -> list[StockResult]:
        results = []
        for item in items:
            Accepting.written.append((item.listing.sku, item.quantity))
            if self._inventory is not None and Accepting.moves:
                move(self._inventory, item.listing.sku, Accepting.moves.pop(0))
            reference = f"w{len(Accepting.written)}"
            results.append(StockResult(item.listing, pending=PendingStock(reference)))
        return results

    def check_stock(
        self, pending: Sequence[tuple[StockUpdate, PendingStock]]
    ) -> list[PendingCheck]:
        return [PendingCheck(PendingState.FAILED, reason="refused") for _ in pending]


def move(inventory: InventoryStore, sku: str, units: int) -> None:
    ref = f"meanwhile-{len(Accepting.written)}"
    if units > 0:
        receive(inventory, sku, units, ref)
    else:
        inventory.remove(Movement(sku, MovementCause.ADJUSTMENT, units, ref, "test", NOW))


@pytest.fixture
def accepting() -> Iterator[None]:
    Accepting.written, Accepting.moves = [], []
    yield


WINDOW = timedelta(seconds=60)


def publish(
    catalog: CatalogStore, inventory: InventoryStore, at: datetime = NOW, moving: bool = False
) -> dict[str, Any]:
    adapter = Accepting(inventory if moving else None)
    return publish_stock(
        ["MUG"],
        adapter,
        catalog,
        inventory,
        now=lambda: at,
        only_moved={"MUG"},
        in_flight_for=WINDOW,
    )


def test_a_write_in_flight_of_the_same_quantity_is_not_sent_again(
    deployed: Provisioned,
    catalog: CatalogStore,
    inventory: InventoryStore,
    listed: None,
    accepting: None,
) -> None:
    publish(catalog, inventory)
    assert Accepting.written == [("MUG", 1)]
    outcome = publish(catalog, inventory, NOW + timedelta(seconds=5))["MUG"]
    assert not outcome.sent and outcome.quantity == 1
    assert Accepting.written == [("MUG", 1)]
    # A write in flight for a quantity that is no longer current: the current one is sent.
    receive(inventory, "MUG", 1, "po-2")
    publish(catalog, inventory, NOW + timedelta(seconds=6))
    assert Accepting.written == [("MUG", 1), ("MUG", 2)]
    # The channel never confirmed it: after the checks' whole schedule it is sent again.
    publish(catalog, inventory, NOW + timedelta(seconds=6) + WINDOW + timedelta(seconds=1))
    assert Accepting.written == [("MUG", 1), ("MUG", 2), ("MUG", 2)]


def test_a_dead_lettered_write_is_no_longer_in_flight(
    deployed: Provisioned,
    catalog: CatalogStore,
    inventory: InventoryStore,
    listed: None,
    accepting: None,
) -> None:
    publish(catalog, inventory)
    policy = dataclasses.replace(BY_NAME[CHANNEL].sync, publish_attempts=1)
    check = ConfirmStock(channel=CHANNEL, sku="MUG", quantity=1, reference="w1")
    (decision,) = confirm_stock([check], Accepting(), catalog, policy, lambda: NOW)
    assert type(decision).__name__ == "DeadLetter"
    assert catalog.pending("MUG", CHANNEL) is None
    publish(catalog, inventory, NOW + timedelta(seconds=1))
    assert Accepting.written == [("MUG", 1), ("MUG", 1)]


def test_a_level_that_falls_while_its_write_is_on_the_way_is_sent_again_at_once(
    deployed: Provisioned,
    catalog: CatalogStore,
    inventory: InventoryStore,
    listed: None,
    accepting: None,
) -> None:
    receive(inventory, "MUG", 9, "po-2")  # 10
    Accepting.moves = [-3, -1, -1]  # a sale overtakes every write: the channel shows too much
    outcome = publish(catalog, inventory, moving=True)["MUG"]
    assert Accepting.written == [("MUG", 10), ("MUG", 7), ("MUG", 6)]  # rounds, then out
    assert outcome.unsettled


def test_a_level_that_rises_while_its_write_is_on_the_way_waits_for_the_next_batch(
    deployed: Provisioned,
    catalog: CatalogStore,
    inventory: InventoryStore,
    listed: None,
    accepting: None,
    monkeypatch: pytest.MonkeyPatch,
    sqs: Any,
) -> None:
    """It shows less than there is, which sells nothing twice: no second write in this batch,
    but a trigger that sends whatever the channel was last seen to show. (Where the channel
    holds hot SKUs, that trigger is held: tests/integration/test_stock_hold.py.)"""
    queued: list[tuple[SyncListing | ConfirmStock, int]] = []
    carry_out = queue_batch.carry_out

    def queue_nothing(plan: BatchPlan, *rest: Any) -> Any:
        queued.extend((stock_message(s.body), s.delay_s) for s in plan.sends)
        return carry_out(dataclasses.replace(plan, sends=[]), *rest)

    monkeypatch.setattr(queue_batch, "carry_out", queue_nothing)
    Accepting.moves = [2]
    outcome = publish(catalog, inventory, moving=True)["MUG"]
    assert Accepting.written == [("MUG", 1)] and outcome.unsettled
    spec = BY_NAME[CHANNEL]
    fake = dataclasses.replace(spec, outbound_stock=f"{__name__}:moving_factory")
    monkeypatch.setitem(BY_NAME, CHANNEL, fake)
    reset_runtime()
    try:
        drain(sqs, deployed.queue_urls[f"sync-{CHANNEL}"])
        Accepting.moves = [1]
        assert run_sync(moved("MUG")) == {"batchItemFailures": []}
    finally:
        reset_runtime()
    assert Accepting.written == [("MUG", 1), ("MUG", 3)]
    again = [(m, delay) for m, delay in queued if isinstance(m, SyncListing)]
    assert len(again) == 1
    trigger, delay = again[0]
    assert (
        trigger == SyncListing(channel=CHANNEL, account="", sku="MUG") and delay == 0
    )  # always sent


def test_a_level_that_moves_without_changing_what_the_channel_shows_sends_nothing_more(
    deployed: Provisioned,
    catalog: CatalogStore,
    inventory: InventoryStore,
    listed: None,
    accepting: None,
) -> None:
    receive(inventory, "MUG", 9, "po-2")  # 10, above what the channel can show (5)
    Accepting.moves = [4]
    outcome = publish_stock(
        ["MUG"],
        Accepting(inventory),
        catalog,
        inventory,
        now=lambda: NOW,
        max_quantity=5,
    )["MUG"]
    assert Accepting.written == [("MUG", 5)]
    assert not outcome.unsettled


_INVENTORY: list[InventoryStore] = []


def moving_factory(secret: Any, http: Any) -> Accepting:
    return Accepting(_INVENTORY[0])


@pytest.fixture(autouse=True)
def _inventory_for_factory(inventory: InventoryStore) -> Iterator[None]:
    _INVENTORY[:] = [inventory]
    yield
    _INVENTORY.clear()


class TakesLess:
    """A channel that applied less than was asked (Shopify's compare-and-set retry keeps a level
    that dropped below what Keel last saw, and never goes under zero)."""

    channel = CHANNEL

    def set_stock(self, items: Sequence[StockUpdate]) -> list[StockResult]:
        return [StockResult(item.listing, shown=0) for item in items]


def test_a_write_the_channel_applied_short_is_checked_again_later(
    deployed: Provisioned, catalog: CatalogStore, inventory: InventoryStore, listed: None
) -> None:
    """Otherwise the shop would show 0 while Keel has stock, until the 6-hourly resync."""
    outcome = publish_stock(["MUG"], TakesLess(), catalog, inventory, now=lambda: NOW)["MUG"]
    assert (outcome.quantity, outcome.error) == (0, None)
    assert outcome.unsettled and outcome.recheck_s == SHORT_RECHECK_S
    assert catalog.shown("MUG", CHANNEL) == 0
