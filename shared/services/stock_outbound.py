"""The stock planner of the outbound engine: a batch of one channel's sync-queue records ("SKU
needs syncing" triggers and `ConfirmStock` checks) -> one batched publish and a plan.

Triggers are deduplicated per batch and the canonical level is read now (stock_sync); a write
the channel accepted but has not applied is confirmed by delayed checks on the same queue
(stock_confirm); a hot SKU is held (stock_hold). What becomes of each record is the plan's
(shared/services/outbound.py), carried out by shared/queue_batch.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from shared.channels.port import SetsStock
from shared.channels.spec import SyncPolicy
from shared.domain.listings import stock_slot
from shared.messages import ConfirmStock, SyncListing, stock_message
from shared.services.outbound import (
    BatchPlan,
    DeadLettered,
    Fate,
    Finished,
    QueueRecord,
    RetryLater,
    Send,
)
from shared.services.stock_confirm import (
    CheckAgain,
    ConfirmDecision,
    Republish,
    confirm_stock,
    first_check,
)
from shared.services.stock_hold import Heat, HoldPolicy
from shared.services.stock_sync import (
    DeadLetter,
    Retry,
    SyncOutcome,
    decide,
    needs_fresh_credentials,
    publish_stock,
)
from shared.stores.ports import Inventory, StockCatalog


class StockChannel(Protocol):
    """What the planner asks of the channel (the composition root's ChannelKit)."""

    name: str

    def stock_publisher(self, fresh: bool = False, account: str = "") -> SetsStock: ...


@dataclass(frozen=True)
class StockAccount:
    """One account of the channel stock is published to: `key` as listings name it ("" the
    channel's first), and the marketplaces it sells in (whose listings share its quantity)."""

    key: str = ""
    marketplaces: tuple[str, ...] = ()


@dataclass(frozen=True)
class StockOutbound:
    channel: StockChannel
    policy: SyncPolicy
    catalog: StockCatalog
    inventory: Inventory
    now: Callable[[], datetime]
    remaining_s: Callable[[], float] = lambda: float("inf")
    accounts: tuple[StockAccount, ...] = (StockAccount(),)


@dataclass(frozen=True)
class _Target:
    """The account a part of the batch publishes to."""

    out: StockOutbound
    account: StockAccount

    @property
    def slot(self) -> str:
        return stock_slot(self.out.channel.name, self.account.key)

    def publisher(self, fresh: bool = False) -> SetsStock:
        return self.out.channel.stock_publisher(fresh, self.account.key)


@dataclass
class _Batch:
    """What a batch of records asks: messageId -> SKU of each trigger, SKU -> its publishes
    so far (SyncListing.attempt), messageId -> each pending write's check, the SKUs some
    trigger says must be sent whatever the channel shows, and SKU -> its recent changes
    (stock triggers only: the newest trigger's send time, the earliest hold)."""

    skus: dict[str, str] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    checks: dict[str, ConfirmStock] = field(default_factory=dict)
    always: set[str] = field(default_factory=set)
    heat: dict[str, Heat] = field(default_factory=dict)


def plan_stock_batch(records: list[QueueRecord], out: StockOutbound) -> BatchPlan:
    """Each account's records planned on their own (one publish per account and batch). A
    trigger for every account (`account` None) of a channel with several is sent again, once
    per account, on the same queue: each account's publish then retries or dead-letters on its
    own."""
    plan = BatchPlan()
    accounts = {a.key: a for a in out.accounts}
    parts: dict[str, list[tuple[QueueRecord, SyncListing | ConfirmStock]]] = {}
    for record in records:
        try:
            message = stock_message(record.body)
        except ValueError as exc:  # pydantic's ValidationError included
            plan.note("unreadable sync trigger", "error", error=str(exc)[:500])
            plan.fates[record.message_id] = DeadLettered(
                "unreadable sync trigger", "ValueError", {"sku": "?", "quantity": "None"}
            )
            continue
        account = message.account
        if account is None and len(out.accounts) > 1:
            for each in out.accounts:
                again = message.model_copy(update={"account": each.key})
                plan.sends.append(Send(again.model_dump_json(), 0, record.message_id))
            plan.fates[record.message_id] = Finished("sent to each account")
            continue
        key = out.accounts[0].key if account is None else account
        if key not in accounts:
            plan.note("sync for an account not configured", "warning", account=key,
                      sku=message.sku)  # fmt: skip
            plan.fates[record.message_id] = Finished("no such account")
            continue
        parts.setdefault(key, []).append((record, message))
    for key, part in parts.items():
        _plan_account(part, _Target(out, accounts[key]), plan)
    return plan


def _plan_account(
    records: list[tuple[QueueRecord, SyncListing | ConfirmStock]], target: _Target, plan: BatchPlan
) -> None:
    out = target.out
    started = out.now()
    batch = _read(records, started)
    outcomes = _publish(batch, target, fresh=False)
    if needs_fresh_credentials(outcomes.values()):
        plan.note("channel refused the credentials: refreshing the secret", "warning")
        outcomes = _publish(batch, target, fresh=True)
    for outcome in outcomes.values():
        plan.note(
            "stock sync",
            account=target.account.key,
            sku=outcome.sku,
            quantity=outcome.quantity,
            sent=outcome.sent,
            held_s=outcome.hold_s,
            error=repr(outcome.error) if outcome.error else None,
        )
    _follow_up(target, outcomes, batch, started, plan)
    plan.count("StockPublished", sum(1 for o in outcomes.values() if o.error is None and o.sent))
    plan.count(
        "StockAlreadyShown", sum(1 for o in outcomes.values() if not o.sent and o.hold_s is None)
    )
    plan.count("StockHeld", sum(1 for o in outcomes.values() if o.hold_s is not None))
    for message_id, decision in _confirm(target, batch.checks, plan).items():
        check = batch.checks[message_id]
        plan.fates[message_id] = _check_fate(message_id, check, decision, plan)
    dead_lettered: set[str] = set()
    scheduled: set[str] = set()  # SKUs whose pending write has its first check queued
    for record, _ in records:
        sku = batch.skus.get(record.message_id)
        if sku is not None:
            fate = _trigger_fate(
                target, record, outcomes[sku], batch, dead_lettered, scheduled, plan
            )
            plan.fates[record.message_id] = fate


def _publish(batch: _Batch, target: _Target, fresh: bool) -> dict[str, SyncOutcome]:
    if not batch.skus:
        return {}
    out = target.out
    policy = out.policy
    return publish_stock(
        batch.skus.values(),
        target.publisher(fresh),
        out.catalog,
        out.inventory,
        now=out.now,
        remaining_s=out.remaining_s,
        only_moved=set(batch.skus.values()) - batch.always,
        in_flight_for=timedelta(seconds=policy.confirm_window_s),
        max_quantity=policy.max_quantity,
        heat=batch.heat,
        hold=HoldPolicy(policy.hold_quiet_s, policy.max_hold_s),
        slot=target.slot,
        marketplaces=target.account.marketplaces,
    )


def _read(records: list[tuple[QueueRecord, SyncListing | ConfirmStock]], now: datetime) -> _Batch:
    batch = _Batch()
    never_held: set[str] = set()
    for record, message in records:
        if isinstance(message, ConfirmStock):
            batch.checks[record.message_id] = message
            continue
        sku = message.sku
        batch.skus[record.message_id] = sku
        batch.attempts[sku] = max(batch.attempts.get(sku, 0), message.attempt)
        if not message.stock_moved:
            batch.always.add(sku)
            if message.held_since is None:  # sent now, whatever else its batch holds
                never_held.add(sku)
                continue
        changed = message.changed_at or record.sent_at or now
        held = message.held_since
        changes = 0 if held else 1  # a held trigger is no change of its own
        if (seen := batch.heat.get(sku)) is not None:
            changed = max(changed, seen.changed_at)
            changes += seen.changes
            if held is None or (seen.held_since is not None and seen.held_since < held):
                held = seen.held_since
        batch.heat[sku] = Heat(changed, held, changes)
    for sku in never_held:
        batch.heat.pop(sku, None)
    return batch


def _follow_up(
    target: _Target,
    outcomes: dict[str, SyncOutcome],
    batch: _Batch,
    started: datetime,
    plan: BatchPlan,
) -> None:
    """The triggers a publish leaves: one always sent for a SKU still moving, one delayed for
    a hot SKU held (stock_hold). Queued before the batch's records are deleted: nothing lost."""
    for outcome in outcomes.values():
        if outcome.unsettled:  # still moving when the rounds ran out: sent again, whatever
            # (a rise waits like a held trigger: it shows less than there is)
            held = outcome.hold_s is not None
            again = SyncListing(
                channel=target.out.channel.name,
                account=target.account.key,
                sku=outcome.sku,
                attempt=batch.attempts[outcome.sku],
                held_since=started if held else None,
                changed_at=started if held else None,
            )
            delay = outcome.hold_s or outcome.recheck_s or 0
            plan.sends.append(Send(again.model_dump_json(), delay))
        elif outcome.hold_s is not None:  # hot: one trigger for all of its triggers, later
            heat = batch.heat[outcome.sku]
            trigger = SyncListing(
                channel=target.out.channel.name,
                account=target.account.key,
                sku=outcome.sku,
                attempt=batch.attempts[outcome.sku],
                stock_moved=outcome.sku not in batch.always,  # one that must send still must
                held_since=heat.held_since or started,
                changed_at=heat.changed_at,
            )
            plan.sends.append(Send(trigger.model_dump_json(), outcome.hold_s))


def _confirm(
    target: _Target, checks: dict[str, ConfirmStock], plan: BatchPlan
) -> dict[str, ConfirmDecision]:
    """messageId -> what happens to that check (stock_confirm decides)."""
    if not checks:
        return {}
    ids = list(checks)
    out = target.out
    decisions = confirm_stock(
        [checks[i] for i in ids],
        target.publisher(),
        out.catalog,
        out.policy,
        out.now,
        slot=target.slot,
        marketplaces=target.account.marketplaces,
    )
    for check, decision in zip(checks.values(), decisions, strict=True):
        plan.note(
            "stock confirmation",
            sku=check.sku,
            quantity=check.quantity,
            reference=check.reference,
            checks=check.checks + 1,
            decision=type(decision).__name__,
        )
    return dict(zip(ids, decisions, strict=True))


def _check_fate(
    message_id: str, check: ConfirmStock, decision: ConfirmDecision, plan: BatchPlan
) -> Fate:
    """What stock_confirm decided for one check, as the record's fate."""
    if isinstance(decision, CheckAgain):
        plan.sends.append(Send(decision.check.model_dump_json(), decision.delay_s, message_id))
        return Finished("checking")
    if isinstance(decision, Republish):
        plan.note("stock write not applied: publishing again", "warning", sku=check.sku,
                  reason=decision.reason[:500])  # fmt: skip
        plan.count("StockWritesNotApplied")
        plan.sends.append(Send(decision.trigger.model_dump_json(), decision.delay_s, message_id))
        return Finished("republished")
    if isinstance(decision, DeadLetter):
        plan.count("StockSyncPermanentFailures")
        return _dead_letter(check.sku, check.quantity, RuntimeError(decision.reason), decision)
    if isinstance(decision, Retry):
        return RetryLater(f"{check.sku}: confirmation could not be read", decision.delay_s)
    return Finished("confirmed")


def _trigger_fate(
    target: _Target,
    record: QueueRecord,
    outcome: SyncOutcome,
    batch: _Batch,
    dead_lettered: set[str],
    scheduled: set[str],
    plan: BatchPlan,
) -> Fate:
    sku = outcome.sku
    decision = decide(outcome.error, record.receives)
    if isinstance(decision, Retry):
        return RetryLater(f"{sku}: {outcome.error}", decision.delay_s)
    if isinstance(decision, DeadLetter):
        if sku in dead_lettered:  # one DLQ message per SKU, however many triggers
            return Finished("dead-lettered")
        dead_lettered.add(sku)
        plan.count("StockSyncPermanentFailures")
        return _dead_letter(sku, outcome.quantity, outcome.error, decision)
    if outcome.pending is not None and outcome.quantity is not None:
        if sku not in scheduled:  # one check per SKU, however many triggers
            check = first_check(
                target.out.channel.name,
                sku,
                outcome.quantity,
                outcome.pending,
                batch.attempts.get(sku, 0),
                target.out.policy,
                account=target.account.key,
            )
            plan.sends.append(Send(check.check.model_dump_json(), check.delay_s, record.message_id))
            scheduled.add(sku)
        return Finished("pending")
    return Finished(sku)


def _dead_letter(
    sku: str, quantity: int | None, error: Exception | None, decision: DeadLetter
) -> DeadLettered:
    return DeadLettered(
        decision.reason,
        type(error).__name__ if error else "-",
        {"sku": sku, "quantity": str(quantity)},
    )
