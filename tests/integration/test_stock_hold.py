"""Holding a hot SKU (shared/services/stock_hold.py): a SKU that changes again soon after its
last send waits, as one delayed trigger, until it is quiet or has waited the longest hold;
one that changes rarely goes out in its first batch; a change that leaves the channel showing
more than is available never waits. A held trigger is always sent in the end, whatever happens
to the write in flight or to the trigger's deliveries. The sync's clock is the test's."""

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
from shared.messages import ConfirmStock, SyncListing, sync_message
from shared.runtime import reset as reset_runtime
from shared.services.outbound import BatchPlan
from shared.services.stock_confirm import Republish, confirm_stock
from shared.services.stock_hold import Heat, HoldPolicy
from shared.services.stock_sync import DeadLetter, publish_stock
from shared.settings import FUNCTION_ENV
from shared.stores.catalog import CatalogStore
from shared.stores.inventory import InventoryStore
from tests.integration.conftest import WOO_BASE, context, sqs_event

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
CHANNEL = "woocommerce"
SPEC = BY_NAME[CHANNEL]
POLICY = dataclasses.replace(SPEC.sync, hold_quiet_s=2, max_hold_s=5)  # off on every channel
QUIET = timedelta(seconds=POLICY.hold_quiet_s)
LONGEST = timedelta(seconds=POLICY.max_hold_s)
HOLD = HoldPolicy(POLICY.hold_quiet_s, POLICY.max_hold_s)
S = timedelta(seconds=1)


@pytest.fixture(autouse=True)
def holding(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The channel with holding switched on (SyncPolicy.hold_quiet_s / max_hold_s)."""
    monkeypatch.setitem(BY_NAME, CHANNEL, dataclasses.replace(SPEC, sync=POLICY))
    reset_runtime()
    yield
    reset_runtime()


class Clock:
    at = NOW


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> type[Clock]:
    Clock.at = NOW
    monkeypatch.setattr(runtime_module, "utc_now", lambda: Clock.at)
    return Clock


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> list[tuple[SyncListing, int]]:
    """The held triggers the sync queued (and their delays); they are queued for real too."""
    queued: list[tuple[SyncListing, int]] = []
    carry_out = queue_batch.carry_out

    def spy(plan: BatchPlan, *rest: Any) -> Any:
        for send in plan.sends:
            message = sync_message(send.body)
            if isinstance(message, SyncListing) and message.held_since is not None:
                queued.append((message, send.delay_s))
        return carry_out(plan, *rest)

    monkeypatch.setattr(queue_batch, "carry_out", spy)
    return queued


@pytest.fixture
def listed(catalog: CatalogStore, inventory: InventoryStore) -> None:
    catalog.put_listing(Listing("MUG", CHANNEL, {"product_id": "502"}))
    inventory.receive(Movement("MUG", MovementCause.RECEIPT, 1, "po-0", "test", NOW), 0)


@pytest.fixture
def woo() -> Iterator[respx.Route]:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"update": json.loads(request.content)["update"]})

    with respx.mock:
        yield respx.post(f"{WOO_BASE}/wp-json/wc/v3/products/batch").mock(side_effect=answer)


def moved(sent_at: datetime) -> tuple[str, datetime]:
    """A relay trigger ("MUG's stock moved") as SQS took it at `sent_at`."""
    return SyncListing(channel=CHANNEL, sku="MUG", stock_moved=True).model_dump_json(), sent_at


def again(message: SyncListing, sent_at: datetime) -> tuple[str, datetime]:
    return message.model_dump_json(), sent_at


def run_sync(*records: tuple[str, datetime]) -> Any:
    event = sqs_event(*(body for body, _ in records))
    for record, (_, sent_at) in zip(event["Records"], records, strict=True):
        record["attributes"]["SentTimestamp"] = str(int(sent_at.timestamp() * 1000))
    token = FUNCTION_ENV.set({"KEEL_CHANNEL": CHANNEL})
    try:
        return sync_module.handler(event, context(f"sync-{CHANNEL}"))
    finally:
        FUNCTION_ENV.reset(token)


def change(inventory: InventoryStore, units: int, ref: str) -> None:
    if units > 0:
        inventory.receive(Movement("MUG", MovementCause.RECEIPT, units, ref, "test", Clock.at))
    else:
        inventory.remove(Movement("MUG", MovementCause.ADJUSTMENT, units, ref, "test", Clock.at))


def sent(route: respx.Route) -> list[int]:
    return [json.loads(c.request.content)["update"][0]["stock_quantity"] for c in route.calls]


OK: dict[str, list[Any]] = {"batchItemFailures": []}


def test_a_sku_that_changes_rarely_goes_out_in_its_first_batch(
    deployed: Provisioned,
    inventory: InventoryStore,
    listed: None,
    clock: type[Clock],
    held: list[Any],
    woo: respx.Route,
) -> None:
    clock.at = NOW + S
    assert run_sync(moved(NOW)) == OK
    clock.at = NOW + QUIET + 2 * S  # it changes again a quiet period after its send
    change(inventory, 1, "po-1")
    assert run_sync(moved(clock.at - S)) == OK
    assert sent(woo) == [1, 2] and held == []


def test_a_sku_changed_again_within_its_batch_window_is_held(
    deployed: Provisioned,
    inventory: InventoryStore,
    listed: None,
    clock: type[Clock],
    held: list[tuple[SyncListing, int]],
    woo: respx.Route,
) -> None:
    clock.at = NOW + S
    assert run_sync(moved(NOW)) == OK
    clock.at = NOW + 10 * QUIET  # long after its send, it changes twice in one window
    change(inventory, 1, "po-1")
    change(inventory, 1, "po-2")
    assert run_sync(moved(clock.at - S), moved(clock.at - S / 2)) == OK
    assert sent(woo) == [1] and len(held) == 1
    clock.at += timedelta(seconds=held[0][1])
    assert run_sync(again(held[0][0], clock.at)) == OK
    assert sent(woo) == [1, 3]


def test_a_burst_ending_with_a_rise_is_held_until_quiet_then_sent_once(
    deployed: Provisioned,
    catalog: CatalogStore,
    inventory: InventoryStore,
    listed: None,
    clock: type[Clock],
    held: list[tuple[SyncListing, int]],
    woo: respx.Route,
) -> None:
    clock.at = NOW + S
    assert run_sync(moved(NOW)) == OK  # the first change looks like any other: sent
    assert sent(woo) == [1]
    # Three more changes, each soon after the last: held, their triggers answered by one.
    for n in range(1, 4):
        change(inventory, 1, f"po-{n}")
        records = [moved(clock.at), moved(clock.at)]  # two triggers of the same change
        records += [again(m, clock.at) for m, _ in held[-1:]]  # the held one comes back
        clock.at += S
        assert run_sync(*records) == OK  # every trigger deleted: the held one replaces them
        assert len(held) == n and sent(woo) == [1]
    trigger, delay_s = held[-1]
    assert trigger.held_since == NOW + 2 * S and trigger.changed_at == NOW + 3 * S
    clock.at += timedelta(seconds=delay_s)  # it comes back when it asked to
    assert trigger.changed_at + QUIET <= clock.at <= trigger.held_since + LONGEST
    assert run_sync(again(trigger, clock.at)) == OK
    assert sent(woo) == [1, 4] and catalog.shown("MUG", CHANNEL) == 4
    assert len(held) == 3


def test_a_sku_that_never_stops_changing_goes_out_after_the_longest_hold(
    deployed: Provisioned,
    inventory: InventoryStore,
    listed: None,
    clock: type[Clock],
    held: list[tuple[SyncListing, int]],
    woo: respx.Route,
) -> None:
    clock.at = NOW + S
    assert run_sync(moved(NOW)) == OK
    first_hold = None
    for n in range(1, 30):
        change(inventory, 1, f"po-{n}")
        records = [moved(clock.at)] + [again(m, clock.at) for m, _ in held[-1:]]
        clock.at += S
        assert run_sync(*records) == OK
        first_hold = first_hold or clock.at
        if len(sent(woo)) == 2:
            break
    assert first_hold is not None
    assert clock.at - first_hold >= LONGEST  # not sooner (it never went quiet) ...
    assert clock.at - first_hold <= LONGEST + S  # ... and not later
    assert sent(woo)[-1] == inventory.get("MUG").available  # type: ignore[union-attr]


def test_a_fall_that_leaves_the_channel_showing_more_than_there_is_is_never_held(
    deployed: Provisioned,
    inventory: InventoryStore,
    listed: None,
    clock: type[Clock],
    held: list[tuple[SyncListing, int]],
    woo: respx.Route,
) -> None:
    change(inventory, 9, "po-1")  # 10
    clock.at = NOW + S
    assert run_sync(moved(NOW)) == OK
    change(inventory, 1, "po-2")  # 11: a rise soon after the send waits
    assert run_sync(moved(clock.at)) == OK
    assert sent(woo) == [10] and len(held) == 1
    change(inventory, -3, "sale-1")  # 8: the channel shows 10 > 8, at once
    assert run_sync(moved(clock.at), again(held[0][0], clock.at)) == OK
    assert sent(woo) == [10, 8]
    change(inventory, -8, "sale-2")  # 0: at once
    clock.at += S
    assert run_sync(moved(clock.at)) == OK
    assert sent(woo) == [10, 8, 0] and len(held) == 1


class Accepting:
    """A channel that accepts writes before applying them (bol.com, Amazon); its checks say
    every write failed."""

    channel = CHANNEL
    written: list[int] = []

    def set_stock(self, items: Sequence[StockUpdate]) -> list[StockResult]:
        Accepting.written += [item.quantity for item in items]
        return [
            StockResult(i.listing, pending=PendingStock(f"w{len(self.written)}")) for i in items
        ]

    def check_stock(
        self, pending: Sequence[tuple[StockUpdate, PendingStock]]
    ) -> list[PendingCheck]:
        return [PendingCheck(PendingState.FAILED, reason="refused") for _ in pending]


def publish(
    catalog: CatalogStore,
    inventory: InventoryStore,
    at: datetime,
    heat: Heat | None,
) -> Any:
    return publish_stock(
        ["MUG"],
        Accepting(),
        catalog,
        inventory,
        now=lambda: at,
        only_moved={"MUG"} if heat else (),
        in_flight_for=timedelta(seconds=POLICY.confirm_window_s),
        heat={"MUG": heat} if heat else {},
        hold=HOLD,
    )["MUG"]


@pytest.mark.parametrize("attempts", [1, 2])
def test_a_held_trigger_whose_write_in_flight_fails_is_still_sent(
    deployed: Provisioned,
    catalog: CatalogStore,
    inventory: InventoryStore,
    listed: None,
    attempts: int,
) -> None:
    Accepting.written = []
    publish(catalog, inventory, NOW, Heat(NOW))  # accepted, in flight
    Clock.at = NOW
    change(inventory, 1, "po-1")  # 2, soon after: held
    outcome = publish(catalog, inventory, NOW + S, Heat(NOW))
    assert outcome.hold_s is not None and Accepting.written == [1]
    policy = dataclasses.replace(POLICY, publish_attempts=attempts)
    check = ConfirmStock(channel=CHANNEL, sku="MUG", quantity=1, reference="w1")
    (decision,) = confirm_stock([check], Accepting(), catalog, policy, lambda: NOW + 2 * S)
    if isinstance(decision, Republish):  # sent whatever the channel shows: never held
        assert not decision.trigger.stock_moved
        publish(catalog, inventory, NOW + 2 * S, None)
        assert Accepting.written == [1, 2]
    else:
        assert isinstance(decision, DeadLetter)
    # The held trigger comes back before the SKU is quiet: Keel no longer knows what the
    # channel shows (the write failed) or has the current quantity in flight.
    outcome = publish(catalog, inventory, NOW + 2 * S, Heat(NOW + S, held_since=NOW + S))
    assert outcome.hold_s is None
    assert Accepting.written == [1, 2]


def test_a_held_trigger_delivered_twice_sends_once(
    deployed: Provisioned,
    catalog: CatalogStore,
    inventory: InventoryStore,
    listed: None,
    clock: type[Clock],
    held: list[tuple[SyncListing, int]],
    woo: respx.Route,
) -> None:
    clock.at = NOW + S
    assert run_sync(moved(NOW)) == OK
    change(inventory, 1, "po-1")
    assert run_sync(moved(clock.at)) == OK
    ((trigger, delay_s),) = held
    clock.at += timedelta(seconds=delay_s)
    assert run_sync(again(trigger, clock.at)) == OK
    assert run_sync(again(trigger, clock.at)) == OK  # SQS delivers at least once
    clock.at += LONGEST
    assert run_sync(again(trigger, clock.at)) == OK  # late, past the longest hold
    assert sent(woo) == [1, 2] and len(held) == 1 and catalog.shown("MUG", CHANNEL) == 2


def test_a_held_trigger_that_must_send_still_sends_when_the_record_says_it_is_shown(
    deployed: Provisioned,
    catalog: CatalogStore,
    inventory: InventoryStore,
    listed: None,
    clock: type[Clock],
    held: list[tuple[SyncListing, int]],
    woo: respx.Route,
) -> None:
    """A rise overtook a write: its trigger is held, but it is still the trigger that sends
    whatever Keel's record says (a concurrent writer may have recorded the current quantity
    while the channel took the stale one)."""
    catalog.record_shown("MUG", CHANNEL, 1, NOW)  # the record says current; the channel may not
    trigger = SyncListing(channel=CHANNEL, sku="MUG", held_since=NOW, changed_at=NOW)
    clock.at = NOW + S  # still hot: held again, still a trigger that must send
    assert run_sync(again(trigger, clock.at)) == OK
    ((back, _),) = held
    assert not back.stock_moved and back.held_since == NOW and sent(woo) == []
    clock.at = NOW + QUIET
    assert run_sync(again(back, clock.at)) == OK
    assert sent(woo) == [1]


def test_a_trigger_that_must_send_is_not_held_by_the_hot_triggers_beside_it(
    deployed: Provisioned,
    inventory: InventoryStore,
    listed: None,
    clock: type[Clock],
    held: list[tuple[SyncListing, int]],
    woo: respx.Route,
) -> None:
    clock.at = NOW + S
    assert run_sync(moved(NOW)) == OK
    change(inventory, 1, "po-1")
    resync = SyncListing(channel=CHANNEL, sku="MUG").model_dump_json(), clock.at
    assert run_sync(moved(clock.at), moved(clock.at), resync) == OK
    assert sent(woo) == [1, 2] and held == []


def test_a_write_a_rise_overtook_leaves_a_held_trigger_and_a_fall_one_at_once(
    deployed: Provisioned, catalog: CatalogStore, inventory: InventoryStore, listed: None
) -> None:
    class Overtaken(Accepting):
        units = 0

        def set_stock(self, items: Sequence[StockUpdate]) -> list[StockResult]:
            results = super().set_stock(items)
            if Overtaken.units:
                change(inventory, Overtaken.units, f"meanwhile-{len(Accepting.written)}")
                Overtaken.units = 0
            return results

    Accepting.written, Clock.at = [], NOW

    def sync() -> Any:
        return publish_stock(["MUG"], Overtaken(), catalog, inventory, now=lambda: NOW, hold=HOLD)[
            "MUG"
        ]

    Overtaken.units = 2  # a rise: the channel shows less than there is
    rose = sync()
    assert rose.unsettled and rose.hold_s == POLICY.hold_quiet_s
    Overtaken.units = -3  # a fall: sent again at once, in the next round
    fell = sync()
    assert Accepting.written == [1, 3, 0] and fell.hold_s is None
