"""The price planner of the outbound engine: a batch of one channel's price triggers and checks
(on the same sync queue as stock, with its DLQ, alarms and redrive) -> one publish per account
and a plan (shared/services/outbound.py), carried out by shared/queue_batch.py like stock's.

A trigger names a listing; the price sent is the one in force when the batch runs (the price
book), never a value from the message, so a repeated or late trigger cannot publish an old
price. A write the channel accepted but has not applied (bol.com's 202, Amazon's ACCEPTED) is
confirmed by delayed checks; only an applied price becomes what the listing shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from shared.channels.errors import ChannelError
from shared.channels.port import (
    ConfirmsPrices,
    PendingCheck,
    PendingState,
    PendingStock,
    PriceResult,
    PriceUpdate,
    SetsPrices,
)
from shared.channels.spec import SyncPolicy
from shared.domain.listings import Listing, split_listing_key
from shared.domain.pricing import PriceDecision
from shared.messages import ConfirmPrice, SyncPrice
from shared.services.outbound import BatchPlan, DeadLettered, Fate, Finished, RetryLater, Send
from shared.services.stock_sync import DeadLetter, Retry, decide


class PriceChannel(Protocol):
    name: str

    def price_publisher(self, account: str = "") -> SetsPrices: ...


class PriceSync(Protocol):
    """The price book as the sync uses it."""

    def targets_many(
        self, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], PriceDecision]: ...
    def shown_many(
        self, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[Decimal, Decimal | None]]: ...
    def record_shown(
        self, sku: str, listing: str, price: Decimal, compare_at: Decimal | None, at: datetime
    ) -> None: ...


@dataclass(frozen=True)
class PriceOutbound:
    channel: PriceChannel
    policy: SyncPolicy
    book: PriceSync
    listing: Callable[[str, str], Listing | None]  # (SKU, listing key) -> the listing
    now: Callable[[], datetime]


@dataclass
class _Part:
    """One account's share of the batch."""

    triggers: dict[tuple[str, str], list[tuple[str, int, int]]] = field(default_factory=dict)
    checks: list[tuple[str, int, ConfirmPrice]] = field(default_factory=list)


def plan_price_batch(
    messages: list[tuple[str, int, SyncPrice | ConfirmPrice]], out: PriceOutbound
) -> BatchPlan:
    """`messages`: (message id, receive count, message) of the batch's price records."""
    plan = BatchPlan()
    parts: dict[str, _Part] = {}
    for message_id, receives, message in messages:
        account = split_listing_key(message.listing)[1]
        part = parts.setdefault(account, _Part())
        if isinstance(message, ConfirmPrice):
            part.checks.append((message_id, receives, message))
        else:
            key = (message.sku, message.listing)
            part.triggers.setdefault(key, []).append((message_id, receives, message.attempt))
    for account, part in parts.items():
        _plan_account(account, part, out, plan)
    return plan


def _plan_account(account: str, part: _Part, out: PriceOutbound, plan: BatchPlan) -> None:
    publisher: SetsPrices | None = None
    if part.triggers:
        updates = _updates(part, out, plan)
        if updates:
            publisher = out.channel.price_publisher(account)
            _publish(updates, part, publisher, out, plan)
    if part.checks:
        checker = publisher or out.channel.price_publisher(account)
        _check(part.checks, checker, out, plan)


def _updates(part: _Part, out: PriceOutbound, plan: BatchPlan) -> list[PriceUpdate]:
    """What must be sent; triggers with nothing to send finish here."""
    keys = list(part.triggers)
    targets = out.book.targets_many(keys)
    shown = out.book.shown_many(keys)
    updates: list[PriceUpdate] = []
    for key in keys:
        target = targets.get(key)
        listing = out.listing(*key)
        why = None
        if target is None:
            why = "no price in force"
        elif listing is None:
            why = "the listing is gone"
        elif shown.get(key) == (target.price, target.compare_at):
            why = "already shown"
            plan.count("PricesAlreadyShown")
        if why is not None or target is None or listing is None:
            for message_id, _, _ in part.triggers[key]:
                plan.fates[message_id] = Finished(why or "nothing to send")
            continue
        updates.append(PriceUpdate(listing, target.price, target.compare_at, target.currency))
    return updates


def _publish(
    updates: list[PriceUpdate],
    part: _Part,
    publisher: SetsPrices,
    out: PriceOutbound,
    plan: BatchPlan,
) -> None:
    try:
        results = publisher.set_prices(updates)
    except ChannelError as failure:
        results = [PriceResult(u.listing, failure) for u in updates]
    for update, result in zip(updates, results, strict=True):
        key = (update.listing.sku, update.listing.key)
        triggers = part.triggers[key]
        plan.note(
            "price sync",
            sku=key[0],
            listing=key[1],
            price=str(update.price),
            pending=bool(result.pending),
            error=repr(result.error) if result.error else None,
        )
        if result.error is None and result.pending is None:
            out.book.record_shown(key[0], key[1], update.price, update.compare_at, out.now())
            plan.count("PricesPublished")
            for message_id, _, _ in triggers:
                plan.fates[message_id] = Finished("published")
            continue
        first_id = triggers[0][0]
        attempt = max(a for _, _, a in triggers)
        if result.pending is not None:
            check = _first_check(update, result.pending, attempt, out)
            plan.sends.append(
                Send(check.model_dump_json(), out.policy.confirm_delays_s[0], first_id)
            )
            fates: list[Fate] = [Finished("accepted; checking")] * len(triggers)
        else:
            fate = _fate(update, result.error, max(r for _, r, _ in triggers), plan)
            fates = [fate] + [
                Finished("dead-lettered") if isinstance(fate, DeadLettered) else fate
            ] * (len(triggers) - 1)
        for (message_id, _, _), each in zip(triggers, fates, strict=True):
            plan.fates[message_id] = each


def _first_check(
    update: PriceUpdate, pending: PendingStock, attempt: int, out: PriceOutbound
) -> ConfirmPrice:
    return ConfirmPrice(
        channel=out.channel.name,
        sku=update.listing.sku,
        listing=update.listing.key,
        price=str(update.price),
        compare_at=str(update.compare_at) if update.compare_at is not None else None,
        currency=update.currency,
        reference=pending.reference,
        attempt=attempt,
    )


def _fate(update: PriceUpdate, error: Exception | None, receives: int, plan: BatchPlan) -> Fate:
    decision = decide(error, receives)
    if isinstance(decision, Retry):
        return RetryLater(f"{update.listing.key} {update.listing.sku}: {error}", decision.delay_s)
    if isinstance(decision, DeadLetter):
        plan.count("PriceSyncPermanentFailures")
        return DeadLettered(
            decision.reason,
            type(error).__name__ if error else "-",
            {"sku": update.listing.sku, "listing": update.listing.key, "price": str(update.price)},
        )
    return Finished("nothing to do")


def _check(
    checks: list[tuple[str, int, ConfirmPrice]],
    checker: SetsPrices,
    out: PriceOutbound,
    plan: BatchPlan,
) -> None:
    if not isinstance(checker, ConfirmsPrices):
        for message_id, _, _ in checks:
            plan.fates[message_id] = Finished("the channel applies prices at once")
        return
    known: list[tuple[str, int, ConfirmPrice, PriceUpdate]] = []
    for message_id, receives, check in checks:
        listing = out.listing(check.sku, check.listing)
        if listing is None:
            plan.fates[message_id] = Finished("the listing is gone")
            continue
        compare_at = Decimal(check.compare_at) if check.compare_at else None
        update = PriceUpdate(listing, Decimal(check.price), compare_at, check.currency)
        known.append((message_id, receives, check, update))
    if not known:
        return
    try:
        answers = checker.check_prices([(u, PendingStock(c.reference)) for _, _, c, u in known])
    except ChannelError as failure:
        for message_id, receives, _, update in known:
            plan.fates[message_id] = _fate(update, failure, receives, plan)
        return
    for (message_id, _, check, update), answer in zip(known, answers, strict=True):
        plan.fates[message_id] = _after_check(check, update, answer, out, plan, message_id)


def _after_check(
    check: ConfirmPrice,
    update: PriceUpdate,
    answer: PendingCheck,
    out: PriceOutbound,
    plan: BatchPlan,
    message_id: str,
) -> Fate:
    delays = out.policy.confirm_delays_s
    if answer.state is PendingState.APPLIED:
        out.book.record_shown(check.sku, check.listing, update.price, update.compare_at, out.now())
        plan.count("PricesPublished")
        return Finished("confirmed")
    if answer.state is PendingState.PENDING and check.checks + 1 < len(delays):
        again = check.model_copy(update={"checks": check.checks + 1})
        plan.sends.append(Send(again.model_dump_json(), delays[check.checks + 1], message_id))
        return Finished("checking")
    reason = answer.reason or "the channel did not apply the price in time"
    if check.attempt + 1 < out.policy.publish_attempts:
        plan.note("price write not applied: publishing again", "warning", sku=check.sku,
                  listing=check.listing, reason=reason[:500])  # fmt: skip
        plan.count("PriceWritesNotApplied")
        trigger = SyncPrice(
            channel=check.channel, sku=check.sku, listing=check.listing, attempt=check.attempt + 1
        )
        plan.sends.append(Send(trigger.model_dump_json(), 0, message_id))
        return Finished("republished")
    plan.count("PriceSyncPermanentFailures")
    return DeadLettered(
        f"price not applied after {check.attempt + 1} writes: {reason}",
        "-",
        {"sku": check.sku, "listing": check.listing, "price": check.price},
    )
