"""Sync one channel: a batch of "SKU needs syncing" triggers -> one batched stock update.

One handler for every channel that publishes stock; its channel comes from configuration
(`KEEL_CHANNEL`, set per function by the wiring) and its adapter from the channel registry.
Triggers are deduplicated per batch and the canonical level is read now. What happens to each
trigger (done, retry after a delay, dead-letter with the reason) is decided in shared/services.
A write the channel accepted but has not applied (port.PendingStock) is confirmed by delayed
`ConfirmStock` checks on the same queue (shared/services/stock_confirm.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import httpx
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from shared.aws import client
from shared.channels.port import SetsStock
from shared.channels.registry import BY_NAME
from shared.channels.spec import load
from shared.dead_letters import send_dead_letter
from shared.messages import ConfirmStock, SyncListing, sync_message
from shared.metrics import count
from shared.names import sync_queue
from shared.secret_cache import get_json
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
from shared.settings import (
    ChannelOfFunction,
    QueueUrls,
    SecretName,
    SyncSettings,
    env_prefix,
)
from shared.stores.catalog import CatalogStore
from shared.stores.inventory import InventoryStore
from shared.tracing import new_tracer, trace_http

logger = Logger(service="keel-sync")
tracer = new_tracer("keel-sync")


class SyncFailed(Exception):
    """Raised per record so the batch processor reports it for redelivery."""


class _Channel:
    """What one channel's sync needs, built once per container (warm invocations reuse it)."""

    def __init__(self, channel: str) -> None:
        spec = BY_NAME[channel]
        if spec.outbound_stock is None:
            raise RuntimeError(f"channel {channel!r} does not publish stock")
        settings = SyncSettings()  # type: ignore[call-arg]  # values come from the environment
        db = client("dynamodb")
        self.name = channel
        self.policy = spec.sync
        self.queues = QueueUrls(_env_prefix=env_prefix(sync_queue(channel)))  # type: ignore[call-arg]
        self.secret_name = SecretName(_env_prefix=env_prefix(channel)).secret_name  # type: ignore[call-arg]
        self.secret_cache_s = settings.secret_cache_seconds
        self.catalog = CatalogStore(settings.catalog_table, db)
        self.inventory = InventoryStore(settings.inventory_table, db)
        trace_http(tracer)
        self.http = httpx.Client(timeout=httpx.Timeout(10.0, connect=3.0))  # one pool, reused
        self._schema = load(spec.secret_schema)
        self._factory = load(spec.outbound_stock)

    def publisher(self, fresh: bool = False) -> SetsStock:
        """Credentials come from the cached secret each time, so a rotated secret is picked
        up; `fresh` skips the cache (after a 401/403)."""
        secret = get_json(self.secret_name, self.secret_cache_s, fresh=fresh)
        publisher: SetsStock = self._factory(self._schema.model_validate(secret), self.http)
        return publisher


def _now() -> datetime:
    """The sync's clock (tests put theirs here)."""
    return datetime.now(UTC)


@cache
def _channel(name: str) -> _Channel:
    return _Channel(name)


def _dead_letter(channel: _Channel, body: str, outcome: SyncOutcome, reason: str) -> None:
    if channel.queues.dlq_url is None:
        raise RuntimeError(f"{sync_queue(channel.name)}: no DLQ URL configured")
    send_dead_letter(
        client("sqs"),
        channel.queues.dlq_url,
        body,
        type(outcome.error).__name__ if outcome.error else "-",
        reason,
        sku=outcome.sku,
        quantity=str(outcome.quantity),
    )


def _send(channel: _Channel, message: SyncListing | ConfirmStock, delay_s: int) -> None:
    """A check or a republish on the channel's own sync queue, delayed (SQS: <= 900 s)."""
    client("sqs").send_message(
        QueueUrl=channel.queues.queue_url,
        MessageBody=message.model_dump_json(),
        DelaySeconds=max(0, min(900, delay_s)),
    )


def _confirm(channel: _Channel, checks: dict[str, ConfirmStock]) -> dict[str, ConfirmDecision]:
    """messageId -> what happens to that check (stock_confirm decides)."""
    if not checks:
        return {}
    ids = list(checks)
    decisions = confirm_stock(
        [checks[i] for i in ids],
        channel.publisher(),
        channel.catalog,
        channel.policy,
        now=_now,
    )
    for check, decision in zip(checks.values(), decisions, strict=True):
        logger.info(
            "stock confirmation",
            extra={
                "sku": check.sku,
                "quantity": check.quantity,
                "reference": check.reference,
                "checks": check.checks + 1,
                "decision": type(decision).__name__,
            },
        )
    return dict(zip(ids, decisions, strict=True))


def _handle_check(
    channel: _Channel, record: SQSRecord, check: ConfirmStock, decision: ConfirmDecision
) -> str:
    """Carry out what stock_confirm decided for one check."""
    if isinstance(decision, CheckAgain):
        _send(channel, decision.check, decision.delay_s)
        return "checking"
    if isinstance(decision, Republish):
        logger.warning(
            "stock write not applied: publishing again",
            extra={"sku": check.sku, "reason": decision.reason[:500]},
        )
        count("StockWritesNotApplied", 1, "keel-sync", channel=channel.name)
        _send(channel, decision.trigger, decision.delay_s)
        return "republished"
    if isinstance(decision, DeadLetter):
        failed = SyncOutcome(check.sku, check.quantity, RuntimeError(decision.reason))
        _dead_letter(channel, record.body, failed, decision.reason)
        count("StockSyncPermanentFailures", 1, "keel-sync", channel=channel.name)
        return "dead-lettered"
    if isinstance(decision, Retry):
        if decision.delay_s is not None:
            client("sqs").change_message_visibility(
                QueueUrl=channel.queues.queue_url,
                ReceiptHandle=record.receipt_handle,
                VisibilityTimeout=decision.delay_s,
            )
        raise SyncFailed(f"{check.sku}: confirmation could not be read")
    return "confirmed"


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


def _sent_at(record: dict[str, Any], now: datetime) -> datetime:
    """When SQS took the record (SentTimestamp, ms); `now` when the attribute is missing."""
    sent = record.get("attributes", {}).get("SentTimestamp")
    return datetime.fromtimestamp(int(sent) / 1000, UTC) if sent else now


def _read(records: list[dict[str, Any]], now: datetime) -> _Batch:
    """Unreadable records are in none of the batch's maps."""
    batch = _Batch()
    never_held: set[str] = set()
    for record in records:
        try:
            message = sync_message(record["body"])
        except ValueError as exc:  # pydantic's ValidationError included
            logger.error("unreadable sync trigger", extra={"error": str(exc)})
            continue
        if isinstance(message, ConfirmStock):
            batch.checks[record["messageId"]] = message
            continue
        sku = message.sku
        batch.skus[record["messageId"]] = sku
        batch.attempts[sku] = max(batch.attempts.get(sku, 0), message.attempt)
        if not message.stock_moved:
            batch.always.add(sku)
            if message.held_since is None:  # sent now, whatever else its batch holds
                never_held.add(sku)
                continue
        changed = message.changed_at or _sent_at(record, now)
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
    channel: _Channel, outcomes: dict[str, SyncOutcome], batch: _Batch, started: datetime
) -> None:
    """The triggers a publish leaves: one always sent for a SKU still moving, one delayed for
    a hot SKU held (stock_hold). Sent before the batch's records are deleted: nothing lost."""
    attempts = batch.attempts
    for outcome in outcomes.values():
        if outcome.unsettled:  # still moving when the rounds ran out: sent again, whatever
            # (a rise waits like a held trigger: it shows less than there is)
            held = outcome.hold_s is not None
            again = SyncListing(
                channel=channel.name,
                sku=outcome.sku,
                attempt=attempts[outcome.sku],
                held_since=started if held else None,
                changed_at=started if held else None,
            )
            _send(channel, again, outcome.hold_s or outcome.recheck_s or 0)
        elif outcome.hold_s is not None:  # hot: one trigger for all of its triggers, later
            heat = batch.heat[outcome.sku]
            trigger = SyncListing(
                channel=channel.name,
                sku=outcome.sku,
                attempt=attempts[outcome.sku],
                stock_moved=outcome.sku not in batch.always,  # one that must send still must
                held_since=heat.held_since or started,
                changed_at=heat.changed_at,
            )
            _send(channel, trigger, outcome.hold_s)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    channel = _channel(ChannelOfFunction().keel_channel)  # type: ignore[call-arg]
    logger.thread_safe_append_keys(channel=channel.name)
    started = _now()
    batch = _read(event.get("Records", []), started)
    skus, attempts, checks, always = batch.skus, batch.attempts, batch.checks, batch.always
    policy = channel.policy

    def publish(fresh: bool) -> dict[str, SyncOutcome]:
        if not skus:
            return {}
        return publish_stock(
            skus.values(),
            channel.publisher(fresh),
            channel.catalog,
            channel.inventory,
            now=_now,
            remaining_s=lambda: float(context.get_remaining_time_in_millis()) / 1000,
            only_moved=set(skus.values()) - always,
            in_flight_for=timedelta(seconds=channel.policy.confirm_window_s),
            max_quantity=channel.policy.max_quantity,
            heat=batch.heat,
            hold=HoldPolicy(policy.hold_quiet_s, policy.max_hold_s),
        )

    outcomes = publish(fresh=False)
    if needs_fresh_credentials(outcomes.values()):
        logger.warning("channel refused the credentials: refreshing the secret and retrying")
        outcomes = publish(fresh=True)
    confirmations = _confirm(channel, checks)
    scheduled: set[str] = set()  # SKUs whose pending write has its first check queued
    for outcome in outcomes.values():
        logger.info(
            "stock sync",
            extra={
                "sku": outcome.sku,
                "quantity": outcome.quantity,
                "sent": outcome.sent,
                "held_s": outcome.hold_s,
                "error": repr(outcome.error) if outcome.error else None,
            },
        )
    _follow_up(channel, outcomes, batch, started)
    published = sum(1 for o in outcomes.values() if o.error is None and o.sent)
    count("StockPublished", published, "keel-sync", channel=channel.name)
    count(
        "StockAlreadyShown",
        sum(1 for o in outcomes.values() if not o.sent and o.hold_s is None),
        "keel-sync",
        channel=channel.name,
    )
    count(
        "StockHeld",
        sum(1 for o in outcomes.values() if o.hold_s is not None),
        "keel-sync",
        channel=channel.name,
    )
    dead_lettered: set[str] = set()

    def record_handler(record: SQSRecord) -> str:
        if record.message_id in confirmations:
            return _handle_check(
                channel, record, checks[record.message_id], confirmations[record.message_id]
            )
        sku = skus.get(record.message_id)
        if sku is None:
            unreadable = SyncOutcome("?", error=ValueError("unreadable sync trigger"))
            _dead_letter(channel, record.body, unreadable, "unreadable sync trigger")
            return "dead-lettered"
        outcome = outcomes[sku]
        receives = int(record.attributes.approximate_receive_count or 1)
        decision = decide(outcome.error, receives)
        if isinstance(decision, Retry):
            if decision.delay_s is not None:
                client("sqs").change_message_visibility(
                    QueueUrl=channel.queues.queue_url,
                    ReceiptHandle=record.receipt_handle,
                    VisibilityTimeout=decision.delay_s,
                )
            raise SyncFailed(f"{sku}: {outcome.error}")
        if isinstance(decision, DeadLetter):
            if sku not in dead_lettered:  # one DLQ message per SKU, however many triggers
                _dead_letter(channel, record.body, outcome, decision.reason)
                dead_lettered.add(sku)
                count("StockSyncPermanentFailures", 1, "keel-sync", channel=channel.name)
            return "dead-lettered"
        if outcome.pending is not None and outcome.quantity is not None:
            if sku not in scheduled:  # one check per SKU, however many triggers
                check = first_check(
                    channel.name,
                    sku,
                    outcome.quantity,
                    outcome.pending,
                    attempts.get(sku, 0),
                    channel.policy,
                )
                _send(channel, check.check, check.delay_s)
                scheduled.add(sku)
            return "pending"
        return sku

    # One processor per invocation: a module-level one would be shared by concurrent
    # invocations in the local stack (Lambda runs one invocation per environment).
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
