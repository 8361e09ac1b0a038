"""Publish the derived quantity of some SKUs to one channel, reading canonical stock now, and
decide per trigger what happens next: done, retry later, or dead-letter with the reason."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from shared.channels.errors import AuthError, ChannelError, NothingToDo, RetryableError
from shared.channels.port import PendingStock, SetsStock, StockUpdate
from shared.domain.listings import Listing, channel_quantity
from shared.stores.catalog import CatalogStore
from shared.stores.inventory import InventoryStore

MAX_ROUNDS = 3
ROUND_BUDGET_S = 15.0  # a further round starts only with this much invocation time left
AUTH_RECEIVES = 3  # receives of a trigger that may end in 401/403 before it is dead-lettered
MAX_DELAY_S = 43_200  # SQS's longest visibility timeout


@dataclass(frozen=True)
class SyncOutcome:
    sku: str
    quantity: int | None = None  # what was published last
    error: Exception | None = None  # ChannelError subclass, or NothingToDo
    rounds: int = 1
    # Accepted, not applied (port.PendingStock): recorded as pending, confirmed later by a
    # check on the channel's sync queue (shared/services/stock_confirm.py).
    pending: PendingStock | None = None
    # False: the channel already showed `quantity` (or had a write of it in flight): not sent.
    sent: bool = True
    # Still moving after the last round: the caller queues a trigger that is always sent.
    unsettled: bool = False


@dataclass(frozen=True)
class Done:
    pass


@dataclass(frozen=True)
class Retry:
    """Come back through the queue; `delay_s` None: after the queue's visibility timeout."""

    delay_s: int | None


@dataclass(frozen=True)
class DeadLetter:
    reason: str


Decision = Done | Retry | DeadLetter


def publish_stock(
    skus: Iterable[str],
    publisher: SetsStock,
    catalog: CatalogStore,
    inventory: InventoryStore,
    now: Callable[[], datetime],
    remaining_s: Callable[[], float] = lambda: float("inf"),
    only_moved: Collection[str] = (),
    in_flight_for: timedelta = timedelta(0),
    max_quantity: int | None = None,
) -> dict[str, SyncOutcome]:
    """Publish, then check that the canonical level did not move meanwhile; if it did, publish
    again. Two consumers can run at once: one that read the level earlier may write after one
    that read it later. Whoever writes last has then verified that what it wrote is current;
    one that runs out of rounds marks the SKU `unsettled` (its caller queues a trigger that is
    always sent), so no later trigger can take a stale write for the channel's figure.

    SKUs in `only_moved` were triggered only because Keel's stock moved: when the channel
    already shows the quantity derived now, or a write of it is in flight, nothing is sent (a
    burst of changes costs one write per SKU and batch, not one per change). Every other
    trigger (a resync, a listing change, an order the channel moved itself) always sends.
    `max_quantity`: the most the channel can show (SyncPolicy.max_quantity)."""
    channel = publisher.channel
    outcomes: dict[str, SyncOutcome] = {}
    listings: dict[str, Listing] = {}
    for sku in sorted(set(skus)):
        listing = catalog.listing(sku, channel)
        if listing is None:
            outcomes[sku] = SyncOutcome(
                sku, error=NothingToDo("SKU not listed here", channel=channel)
            )
        else:
            listings[sku] = listing
    pending = list(listings)
    for round_number in range(1, MAX_ROUNDS + 1):
        versions: dict[str, int] = {}
        updates: list[StockUpdate] = []
        for sku in pending:
            level = inventory.get(sku)
            versions[sku] = level.version if level else -1
            available = level.available if level else 0
            quantity = channel_quantity(available, listings[sku].rules)
            if max_quantity is not None:
                quantity = min(quantity, max_quantity)
            if round_number == 1 and sku in only_moved:
                shows = catalog.channel_shows(sku, channel)
                if shows.settled_on(quantity, now(), in_flight_for):
                    outcomes[sku] = SyncOutcome(sku, quantity, sent=False)
                    continue
                known = shows.confirmed.quantity if shows.confirmed else None
            else:
                known = catalog.shown(sku, channel)
            updates.append(StockUpdate(listings[sku], quantity, known))
        results = publisher.set_stock(updates) if updates else []
        for update, result in zip(updates, results, strict=True):
            sku = update.listing.sku
            outcomes[sku] = SyncOutcome(
                sku, update.quantity, result.error, round_number, result.pending
            )
            if result.error is not None:
                continue
            if result.pending is not None:  # not shown yet: only a confirmed check says so
                catalog.record_pending(
                    sku, channel, update.quantity, result.pending.reference, now()
                )
            else:
                shown = update.quantity if result.shown is None else result.shown
                catalog.record_shown(sku, channel, shown, now())
        pending = [
            update.listing.sku
            for update in updates
            if outcomes[update.listing.sku].error is None
            and _moved(inventory, update.listing.sku, versions[update.listing.sku])
        ]
        if not pending or remaining_s() < ROUND_BUDGET_S:
            break
    for sku in pending:  # moved after its last write, and no round left to send it again
        outcomes[sku] = replace(outcomes[sku], unsettled=True)
    return outcomes


def _moved(inventory: InventoryStore, sku: str, version: int) -> bool:
    level = inventory.get(sku)
    return (level.version if level else -1) != version


def needs_fresh_credentials(outcomes: Iterable[SyncOutcome]) -> bool:
    return any(isinstance(o.error, AuthError) for o in outcomes)


def decide(error: Exception | None, receive_count: int) -> Decision:
    """What happens to one trigger after a publish. Unknown exceptions retry (a bug or an
    outage, not the channel's word); a ChannelError says for itself. Retries never come back
    sooner than an exponential backoff on the receive count, so a short Retry-After does not
    burn the few receives left; a longer Retry-After is honoured."""
    if error is None or isinstance(error, NothingToDo):
        return Done()
    backoff = min(900, 30 * 2 ** max(0, receive_count - 1))
    if isinstance(error, AuthError):
        if receive_count < AUTH_RECEIVES:
            return Retry(backoff)
        return DeadLetter(f"auth: {error}")
    if isinstance(error, RetryableError):
        if error.retry_after_s is not None:  # 0.0 too: the bucket has refilled
            return Retry(min(MAX_DELAY_S, max(backoff, int(error.retry_after_s + 0.999))))
        return Retry(None)
    if isinstance(error, ChannelError):
        return DeadLetter(f"{type(error).__name__}: {error}")
    return Retry(None)
