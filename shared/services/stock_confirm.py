"""Confirm stock writes a channel accepted before applying them (port.PendingStock).

Channel-agnostic: any adapter whose `set_stock` answers `pending` offers `port.ConfirmsStock`.
The sync function records such a write as pending (not as shown) and puts a delayed
`ConfirmStock` check on the channel's own sync queue. Each check asks the adapter once:

- APPLIED: the quantity becomes the listing's last confirmed quantity and time;
- PENDING: check again after the next delay of `SyncPolicy.confirm_delays_s`; when they are
  spent, the write counts as timed out;
- FAILED or timed out: publish again (the canonical level read then), up to
  `SyncPolicy.publish_attempts` publishes in all (the n-th after the n-th check delay), then
  dead-letter with the reason.

A check of a write a newer publish has superseded does nothing: the newer one has its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.channels.errors import ChannelError
from shared.channels.port import (
    ConfirmsStock,
    PendingCheck,
    PendingState,
    PendingStock,
    SetsStock,
    StockUpdate,
)
from shared.channels.spec import SyncPolicy
from shared.messages import ConfirmStock, SyncListing
from shared.services.stock_sync import DeadLetter, Done, Retry
from shared.stores.ports import StockCatalog


@dataclass(frozen=True)
class CheckAgain:
    """Send `check` to the sync queue, delayed by `delay_s`."""

    check: ConfirmStock
    delay_s: int


@dataclass(frozen=True)
class Republish:
    """The write failed or timed out: publish the SKU again (its level read then)."""

    trigger: SyncListing
    delay_s: int
    reason: str


ConfirmDecision = Done | Retry | DeadLetter | CheckAgain | Republish


def first_check(
    channel: str,
    sku: str,
    quantity: int,
    pending: PendingStock,
    attempt: int,
    policy: SyncPolicy,
    account: str = "",
) -> CheckAgain:
    """The check a publish that came back pending schedules."""
    return CheckAgain(
        ConfirmStock(
            channel=channel,
            account=account,
            sku=sku,
            quantity=quantity,
            reference=pending.reference,
            attempt=attempt,
        ),
        _delay(policy, 0),
    )


def confirm_stock(
    checks: Sequence[ConfirmStock],
    adapter: SetsStock,
    catalog: StockCatalog,
    policy: SyncPolicy,
    now: Callable[[], datetime],
    slot: str | None = None,
    marketplaces: Sequence[str] = (),
) -> list[ConfirmDecision]:
    """One decision per check, in order; all of one slot (`adapter.channel` unless given: the
    channel's first account) and its account's `marketplaces`. A failure of the whole call
    retries every check through the queue (its visibility timeout): the channel did not answer
    about them."""
    where = slot or adapter.channel
    decisions: list[ConfirmDecision | None] = [None] * len(checks)
    asked: list[tuple[int, StockUpdate, PendingStock]] = []
    known = catalog.listed_and_pending((c.sku for c in checks), where, marketplaces)
    for n, check in enumerate(checks):
        listing, latest = known[check.sku]
        if listing is None or latest is None or latest[1] != check.reference:
            decisions[n] = Done()  # no longer listed, or superseded by a newer write
        else:
            asked.append((n, StockUpdate(listing, check.quantity), PendingStock(check.reference)))
    if asked:
        if not isinstance(adapter, ConfirmsStock):
            reason = f"{adapter.channel} answered pending but cannot confirm stock writes"
            for n, _, _ in asked:
                decisions[n] = DeadLetter(reason)
        else:
            try:
                answers = adapter.check_stock([(u, p) for _, u, p in asked])
            except ChannelError as exc:
                for n, _, _ in asked:
                    decisions[n] = Retry(_retry_delay(exc))
            else:
                for (n, _, _), answer in zip(asked, answers, strict=True):
                    decisions[n] = _decide(checks[n], where, answer, catalog, policy, now)
    for n, _, pending in asked:
        if isinstance(decisions[n], DeadLetter):  # never applied: no longer in flight
            catalog.clear_pending(checks[n].sku, where, pending.reference, now())
    return [d if d is not None else Done() for d in decisions]


def _decide(
    check: ConfirmStock,
    slot: str,
    answer: PendingCheck,
    catalog: StockCatalog,
    policy: SyncPolicy,
    now: Callable[[], datetime],
) -> ConfirmDecision:
    if answer.state is PendingState.APPLIED:
        shown = check.quantity if answer.shown is None else answer.shown
        catalog.record_shown(check.sku, slot, shown, now())
        return Done()
    if answer.state is PendingState.PENDING:
        if check.checks + 1 < len(policy.confirm_delays_s):
            again = check.model_copy(update={"checks": check.checks + 1})
            return CheckAgain(again, _delay(policy, check.checks + 1))
        reason = f"not applied after {check.checks + 1} checks (timed out)"
    else:
        reason = answer.reason or "the channel did not apply the write"
    return failed(check, reason, policy)


def failed(check: ConfirmStock, reason: str, policy: SyncPolicy) -> Republish | DeadLetter:
    """Publish again while attempts are left, else dead-letter with the reason."""
    if check.attempt + 1 < policy.publish_attempts:
        trigger = SyncListing(
            channel=check.channel, account=check.account, sku=check.sku, attempt=check.attempt + 1
        )
        return Republish(trigger, _delay(policy, check.attempt), reason)  # grows per attempt
    return DeadLetter(
        f"stock write of {check.quantity} not applied after {check.attempt + 1} publishes: {reason}"
    )


def _delay(policy: SyncPolicy, checks_made: int) -> int:
    delays = policy.confirm_delays_s or (30,)
    return max(0, min(900, delays[min(checks_made, len(delays) - 1)]))


def _retry_delay(exc: ChannelError) -> int | None:
    retry_after = getattr(exc, "retry_after_s", None)
    return None if retry_after is None else min(900, int(retry_after + 0.999))
