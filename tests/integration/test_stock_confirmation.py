"""Stock writes a channel accepts before applying them (port.PendingStock, ConfirmsStock):
recorded as pending, confirmed by delayed checks on the channel's sync queue, and only an
applied one becomes the last confirmed quantity. Channel-agnostic: a scripted adapter stands in
for the channel (bol.com's process statuses, Amazon's ACCEPTED)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

import functions.sync.handler as sync_module
from local_stack.resources import Provisioned
from shared.channels.errors import RetryableError
from shared.channels.port import (
    PendingCheck,
    PendingState,
    PendingStock,
    StockResult,
    StockUpdate,
)
from shared.channels.registry import BY_NAME
from shared.channels.spec import SyncPolicy
from shared.domain.inventory import Movement, MovementCause
from shared.domain.listings import Listing
from shared.messages import ConfirmStock, SyncListing, sync_message
from shared.runtime import reset as reset_runtime
from shared.services.stock_confirm import CheckAgain, Republish, confirm_stock
from shared.services.stock_sync import DeadLetter, Done, Retry, publish_stock
from shared.settings import FUNCTION_ENV
from shared.stores.catalog import CatalogStore
from shared.stores.inventory import InventoryStore
from tests.integration.conftest import context, drain, sqs_event

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
CHANNEL = "woocommerce"  # a provisioned sync queue; its adapter is replaced by the fake below
POLICY = SyncPolicy(confirm_delays_s=(2, 7, 11), publish_attempts=2)


class AcceptingChannel:
    """Answers every write with a pending reference; says what each check finds, as told."""

    channel = CHANNEL
    answers: list[PendingCheck] = []  # scripted per test
    written: list[int] = []
    down = False

    def set_stock(self, items: Sequence[StockUpdate]) -> list[StockResult]:
        results = []
        for item in items:
            AcceptingChannel.written.append(item.quantity)
            reference = f"ps-{len(AcceptingChannel.written)}"
            results.append(StockResult(item.listing, pending=PendingStock(reference)))
        return results

    def check_stock(
        self, pending: Sequence[tuple[StockUpdate, PendingStock]]
    ) -> list[PendingCheck]:
        if AcceptingChannel.down:
            raise RetryableError("down", channel=CHANNEL, status=503, retry_after_s=4)
        return [AcceptingChannel.answers.pop(0) for _ in pending]


def factory(secret: Any, http: Any) -> AcceptingChannel:
    return AcceptingChannel()


@pytest.fixture
def stocked(catalog: CatalogStore, inventory: InventoryStore) -> Iterator[None]:
    AcceptingChannel.answers = []
    AcceptingChannel.written = []
    AcceptingChannel.down = False
    catalog.put_listing(Listing("MUG", CHANNEL, {"product_id": "501"}))
    inventory.receive(
        Movement("MUG", MovementCause.RECEIPT, 7, "PO-1", "test", NOW), safety_stock=0
    )
    yield


def check(reference: str = "ps-1", checks: int = 0, attempt: int = 0) -> ConfirmStock:
    return ConfirmStock(
        channel=CHANNEL, sku="MUG", quantity=7, reference=reference, checks=checks, attempt=attempt
    )


def publish(catalog: CatalogStore, inventory: InventoryStore) -> None:
    outcomes = publish_stock(["MUG"], AcceptingChannel(), catalog, inventory, now=lambda: NOW)
    assert outcomes["MUG"].pending == PendingStock("ps-1")


def test_an_accepted_write_is_pending_not_shown(
    deployed: Provisioned, catalog: CatalogStore, inventory: InventoryStore, stocked: None
) -> None:
    publish(catalog, inventory)
    assert catalog.shown("MUG", CHANNEL) is None
    assert catalog.pending("MUG", CHANNEL) == (7, "ps-1")


def test_only_an_applied_write_becomes_the_last_confirmed_quantity(
    deployed: Provisioned, catalog: CatalogStore, inventory: InventoryStore, stocked: None
) -> None:
    publish(catalog, inventory)
    AcceptingChannel.answers = [PendingCheck(PendingState.PENDING)]
    (decision,) = confirm_stock([check()], AcceptingChannel(), catalog, POLICY, lambda: NOW)
    assert decision == CheckAgain(check(checks=1), 7)  # the policy's second delay
    assert catalog.shown("MUG", CHANNEL) is None
    AcceptingChannel.answers = [PendingCheck(PendingState.APPLIED)]
    (decision,) = confirm_stock([check(checks=1)], AcceptingChannel(), catalog, POLICY, lambda: NOW)
    assert decision == Done()
    assert catalog.shown_at("MUG", CHANNEL) == (7, NOW.isoformat())


def test_a_failed_write_is_published_again_then_dead_lettered_with_its_reason(
    deployed: Provisioned, catalog: CatalogStore, inventory: InventoryStore, stocked: None
) -> None:
    publish(catalog, inventory)
    failure = PendingCheck(PendingState.FAILED, reason="FAILURE: offer not found")
    AcceptingChannel.answers = [failure]
    (decision,) = confirm_stock([check()], AcceptingChannel(), catalog, POLICY, lambda: NOW)
    assert isinstance(decision, Republish)
    assert decision.trigger == SyncListing(channel=CHANNEL, account="", sku="MUG", attempt=1)
    assert "offer not found" in decision.reason
    AcceptingChannel.answers = [failure]
    (last,) = confirm_stock([check(attempt=1)], AcceptingChannel(), catalog, POLICY, lambda: NOW)
    assert isinstance(last, DeadLetter)
    assert "offer not found" in last.reason and "2 publishes" in last.reason
    assert catalog.shown("MUG", CHANNEL) is None


def test_a_write_never_applied_times_out_after_the_bounded_checks(
    deployed: Provisioned, catalog: CatalogStore, inventory: InventoryStore, stocked: None
) -> None:
    publish(catalog, inventory)
    AcceptingChannel.answers = [PendingCheck(PendingState.PENDING)]
    (decision,) = confirm_stock([check(checks=2)], AcceptingChannel(), catalog, POLICY, lambda: NOW)
    assert isinstance(decision, Republish)
    assert "timed out" in decision.reason


def test_a_superseded_write_is_not_checked(
    deployed: Provisioned, catalog: CatalogStore, inventory: InventoryStore, stocked: None
) -> None:
    publish(catalog, inventory)
    catalog.record_pending("MUG", CHANNEL, 5, "ps-newer", NOW)
    (decision,) = confirm_stock([check()], AcceptingChannel(), catalog, POLICY, lambda: NOW)
    assert decision == Done()
    assert catalog.shown("MUG", CHANNEL) is None


def test_an_unanswered_check_comes_back_through_the_queue(
    deployed: Provisioned, catalog: CatalogStore, inventory: InventoryStore, stocked: None
) -> None:
    publish(catalog, inventory)
    AcceptingChannel.down = True
    (decision,) = confirm_stock([check()], AcceptingChannel(), catalog, POLICY, lambda: NOW)
    assert decision == Retry(4)


def test_sync_messages_are_triggers_or_checks() -> None:
    assert sync_message(check().model_dump_json()) == check()
    trigger = SyncListing(channel=CHANNEL, sku="MUG")
    assert sync_message(trigger.model_dump_json()) == trigger
    with pytest.raises(ValueError):
        sync_message('{"kind": "confirm", "sku": "MUG"}')


# --- through the sync function: messages on the channel's own queue ---


@pytest.fixture
def accepting_sync(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    spec = BY_NAME[CHANNEL]
    policy = dataclasses.replace(spec.sync, confirm_delays_s=(0, 0), publish_attempts=2)
    fake = dataclasses.replace(spec, outbound_stock=f"{__name__}:factory", sync=policy)
    monkeypatch.setitem(BY_NAME, CHANNEL, fake)
    reset_runtime()
    token = FUNCTION_ENV.set({"KEEL_CHANNEL": CHANNEL})
    yield
    FUNCTION_ENV.reset(token)
    reset_runtime()


def run_sync(*bodies: str) -> Any:
    return sync_module.handler(sqs_event(*bodies), context(f"sync-{CHANNEL}"))


def test_the_sync_function_checks_a_pending_write_until_it_is_applied(
    deployed: Provisioned,
    catalog: CatalogStore,
    inventory: InventoryStore,
    stocked: None,
    accepting_sync: None,
    sqs: Any,
) -> None:
    queue = deployed.queue_urls[f"sync-{CHANNEL}"]
    trigger = SyncListing(channel=CHANNEL, sku="MUG").model_dump_json()
    assert run_sync(trigger, trigger) == {"batchItemFailures": []}
    (first,) = drain(sqs, queue)  # one check, however many triggers
    assert sync_message(first["Body"]) == check()

    AcceptingChannel.answers = [PendingCheck(PendingState.PENDING)]
    assert run_sync(first["Body"]) == {"batchItemFailures": []}
    (second,) = drain(sqs, queue)
    assert sync_message(second["Body"]) == check(checks=1)
    assert catalog.shown("MUG", CHANNEL) is None

    AcceptingChannel.answers = [PendingCheck(PendingState.APPLIED, shown=7)]
    assert run_sync(second["Body"]) == {"batchItemFailures": []}
    assert drain(sqs, queue) == []
    assert catalog.shown("MUG", CHANNEL) == 7


def test_the_sync_function_republishes_a_failed_write_then_dead_letters_it(
    deployed: Provisioned,
    catalog: CatalogStore,
    inventory: InventoryStore,
    stocked: None,
    accepting_sync: None,
    sqs: Any,
) -> None:
    queue, dlq = deployed.queue_urls[f"sync-{CHANNEL}"], deployed.dlq_urls[f"sync-{CHANNEL}"]
    assert run_sync(SyncListing(channel=CHANNEL, sku="MUG").model_dump_json()) == {
        "batchItemFailures": []
    }
    (first,) = drain(sqs, queue)
    AcceptingChannel.answers = [PendingCheck(PendingState.FAILED, reason="FAILURE: no offer")]
    assert run_sync(first["Body"]) == {"batchItemFailures": []}
    (republish,) = drain(sqs, queue)
    assert json.loads(republish["Body"])["attempt"] == 1
    assert run_sync(republish["Body"]) == {"batchItemFailures": []}
    assert AcceptingChannel.written == [7, 7]
    (second,) = drain(sqs, queue)
    assert sync_message(second["Body"]) == check(reference="ps-2", attempt=1)
    AcceptingChannel.answers = [PendingCheck(PendingState.FAILED, reason="FAILURE: no offer")]
    assert run_sync(second["Body"]) == {"batchItemFailures": []}
    assert drain(sqs, queue) == []
    (dead,) = drain(sqs, dlq)
    attrs = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert "no offer" in attrs["error_message"] and attrs["sku"] == "MUG"
    assert catalog.shown("MUG", CHANNEL) is None


def test_a_batch_of_checks_reads_the_catalog_once_and_still_tells_superseded_ones_apart(
    deployed: Provisioned, catalog: CatalogStore, inventory: InventoryStore, db: Any
) -> None:
    AcceptingChannel.answers, AcceptingChannel.written = [], []
    skus = [f"CUP-{n}" for n in range(12)]
    for sku in skus:
        catalog.put_listing(Listing(sku, CHANNEL, {"product_id": sku}))
        inventory.receive(Movement(sku, MovementCause.RECEIPT, 7, f"po-{sku}", "t", NOW), 0)
    outcomes = publish_stock(skus, AcceptingChannel(), catalog, inventory, now=lambda: NOW)
    references = {sku: o.pending.reference for sku, o in outcomes.items() if o.pending}
    checks = [
        ConfirmStock(channel=CHANNEL, sku=sku, quantity=7, reference=references[sku])
        for sku in skus
    ]
    checks[0] = checks[0].model_copy(update={"reference": "an-older-write"})  # superseded
    checks.append(ConfirmStock(channel=CHANNEL, sku="NOT-LISTED", quantity=1, reference="x"))
    AcceptingChannel.answers = [PendingCheck(PendingState.APPLIED)] * (len(skus) - 1)
    reads: list[str] = []
    db.meta.events.register(
        "before-call.dynamodb", lambda event_name, **_: reads.append(event_name)
    )
    decisions = confirm_stock(checks, AcceptingChannel(), catalog, POLICY, lambda: NOW)
    assert decisions == [Done()] * len(checks)
    assert AcceptingChannel.answers == []  # the channel was asked about the 11 current ones
    assert [e for e in reads if not e.endswith("PutItem")] == ["before-call.dynamodb.BatchGetItem"]
    assert catalog.shown(skus[0], CHANNEL) is None  # superseded: not taken for the channel's
    assert all(catalog.shown(sku, CHANNEL) == 7 for sku in skus[1:])
