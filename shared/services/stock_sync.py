"""Publish the derived quantity of some SKUs to one channel, reading canonical stock now, and
decide per trigger what happens next: done, retry later, or dead-letter with the reason."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from shared.channels.errors import AuthError, ChannelError, NothingToDo, RetryableError
from shared.channels.port import (
    ConfirmsStock,
    PendingStock,
    SetsStock,
    StockResult,
    StockUpdate,
)
from shared.domain.inventory import StockLevel
from shared.domain.listings import ChannelShows, Listing, channel_quantity
from shared.services.stock_hold import Heat, HoldPolicy, hold_for
from shared.stores.ports import Inventory, StockCatalog

MAX_ROUNDS = 3
ROUND_BUDGET_S = 15.0  # a further round starts only with this much invocation time left
AUTH_RECEIVES = 3  # receives of a trigger that may end in 401/403 before it is dead-lettered
MAX_DELAY_S = 43_200  # SQS's longest visibility timeout
# A write the channel applied below what Keel derives (Shopify's compare-and-set retry keeps a
# level that dropped under a sale Keel has not taken in yet): looked at again this much later,
# when the order has arrived (and its own trigger agrees) or Keel's number stands.
SHORT_RECHECK_S = 30


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
    # Hot (stock_hold): not sent now; the caller queues one trigger delayed this long.
    hold_s: int | None = None
    # The channel took less than was derived (`quantity` is what it shows): with `unsettled`,
    # the caller queues a trigger that is always sent, delayed this long.
    recheck_s: int | None = None


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
    catalog: StockCatalog,
    inventory: Inventory,
    now: Callable[[], datetime],
    remaining_s: Callable[[], float] = lambda: float("inf"),
    only_moved: Collection[str] = (),
    in_flight_for: timedelta = timedelta(0),
    max_quantity: int | None = None,
    heat: Mapping[str, Heat] | None = None,
    hold: HoldPolicy | None = None,
    slot: str | None = None,
    marketplaces: Sequence[str] = (),
) -> dict[str, SyncOutcome]:
    """Publish, then check that the canonical level did not move meanwhile. Two consumers can
    run at once: one that read the level earlier may write after one that read it later, so a
    write the level has moved past is not left as it is:

    - the level now derives less than was written (a sale): the channel may show stock that is
      gone, so the SKU is published again at once (another round);
    - it derives more (a receipt, a release): the channel shows less than there is, which
      sells nothing twice; the SKU is marked `unsettled` and its caller queues a trigger that
      is always sent, so the next batch carries it with whatever else moved (a burst of
      receipts costs one write per batch, not one per round);
    - it derives the same: nothing to send; the level is checked again.

    Rounds run out (or the invocation's time does) with a SKU still moving: `unsettled` too.
    So whoever wrote last has verified that what it wrote is current, or left a trigger that
    will send the current quantity: no later trigger can take a stale write for the figure.

    SKUs in `only_moved` were triggered only because Keel's stock moved: when the channel
    already shows the quantity derived now, or a write of it is in flight, nothing is sent (a
    burst of changes costs one write per SKU and batch, not one per change). Every other
    trigger (a resync, a listing change, an order the channel moved itself) always sends.
    `max_quantity`: the most the channel can show (SyncPolicy.max_quantity).

    A SKU that is hot (`heat`: its recent changes, for stock-moved triggers and held ones;
    `hold`: the channel's policy) and whose channel shows no more than is available is not
    sent either: its outcome says how long to hold it (shared/services/stock_hold.py). An
    `unsettled` rise says so too: its trigger is held (and still always sent).

    One slot is published (`publisher.channel` unless given: the channel's first account); its
    listings are those of the account's `marketplaces` (shared/domain/listings.py)."""
    where = slot or publisher.channel
    outcomes: dict[str, SyncOutcome] = {}
    accepts = isinstance(publisher, ConfirmsStock)  # may answer "accepted, not applied"
    levels, listings, shown = _first_reads(
        skus, inventory, catalog, (where, marketplaces), accepts, outcomes
    )

    def derived(level: StockLevel | None, sku: str) -> int:
        return channel_quantity(level.available if level else 0, listings[sku].rules, max_quantity)

    pending = list(listings)
    written: dict[str, int] = {}  # what this call last put (or had accepted) on the channel
    versions: dict[str, int] = {}
    unsettled: set[str] = set()
    short: set[str] = set()  # the channel applied less than was derived
    for round_number in range(1, MAX_ROUNDS + 1):
        updates: list[StockUpdate] = []
        if round_number > 1:
            shown = catalog.channel_shows_many(pending, where, accepts)
        for sku in pending:
            level = levels[sku]
            versions[sku] = level.version if level else -1
            quantity = derived(level, sku)
            if written.get(sku) == quantity:
                continue  # what this call wrote is current again: checked below
            shows = shown[sku]
            if round_number == 1 and (sku in only_moved or (heat and sku in heat)):
                skipped = _not_now(
                    sku, quantity, level, shows, now(), in_flight_for, sku in only_moved, heat, hold
                )
                if skipped is not None:
                    outcomes[sku] = skipped
                    continue
            known = shows.confirmed.quantity if shows.confirmed else None
            updates.append(StockUpdate(listings[sku], quantity, known))
        results = publisher.set_stock(updates) if updates else []
        for update, result in zip(updates, results, strict=True):
            _take_result(
                update, result, round_number, (catalog, where), now, outcomes, written, short
            )
        again = []
        levels = inventory.get_many(s for s in pending if s in written)
        for sku in pending:
            if sku not in written:
                continue  # not sent (already shown), or failed: its decision is the caller's
            level = levels[sku]
            if (level.version if level else -1) == versions[sku]:
                continue
            if derived(level, sku) > written[sku]:
                unsettled.add(sku)  # shows less than there is: the next batch sends it
            else:
                again.append(sku)  # shows more than there is (or the same): now
        pending = again
        if not pending or remaining_s() < ROUND_BUDGET_S:
            break
    _unsettle(outcomes, unsettled, set(pending), hold)
    for sku in short - unsettled - set(pending):
        outcomes[sku] = replace(outcomes[sku], unsettled=True, recheck_s=SHORT_RECHECK_S)
    return outcomes


def _take_result(
    update: StockUpdate,
    result: StockResult,
    round_number: int,
    catalog_and_slot: tuple[StockCatalog, str],
    now: Callable[[], datetime],
    outcomes: dict[str, SyncOutcome],
    written: dict[str, int],
    short: set[str],
) -> None:
    """Record one write's result: its outcome, what it put on the channel, and whether the
    channel took less than was derived."""
    sku = update.listing.sku
    catalog, slot = catalog_and_slot
    put = _record(catalog, slot, update, result, now)
    quantity = update.quantity if put is None else put
    outcomes[sku] = SyncOutcome(sku, quantity, result.error, round_number, result.pending)
    if put is None:
        written.pop(sku, None)
    else:
        written[sku] = put
    if put is not None and put < update.quantity:
        short.add(sku)
    else:
        short.discard(sku)


def _unsettle(
    outcomes: dict[str, SyncOutcome], rose: set[str], fell: set[str], hold: HoldPolicy | None
) -> None:
    """Still moving after the rounds. A rise overtook the write: the SKU is hot and shows less
    than there is, so its trigger (always sent) may wait like a held one. A fall (or a SKU
    the rounds ran out on) goes again at once."""
    wait = hold.quiet_s if hold is not None and hold.quiet_s > 0 and hold.max_hold_s > 0 else None
    for sku in rose | fell:
        held = wait if sku not in fell else None
        outcomes[sku] = replace(outcomes[sku], unsettled=True, hold_s=held)


def _not_now(
    sku: str,
    quantity: int,
    level: StockLevel | None,
    shows: ChannelShows,
    now: datetime,
    in_flight_for: timedelta,
    moved: bool,
    heat: Mapping[str, Heat] | None,
    hold: HoldPolicy | None,
) -> SyncOutcome | None:
    """A SKU not sent now: a stock-moved one the channel shows (or has in flight), or a hot
    one that may wait (stock_hold). None: send it."""
    if moved and shows.settled_on(quantity, now, in_flight_for):
        return SyncOutcome(sku, quantity, sent=False)
    if hold is None or not heat or sku not in heat:
        return None
    held = hold_for(heat[sku], shows, level.available if level else 0, now, hold)
    return None if held is None else SyncOutcome(sku, quantity, sent=False, hold_s=held)


def _first_reads(
    skus: Iterable[str],
    inventory: Inventory,
    catalog: StockCatalog,
    where: tuple[str, Sequence[str]],
    accepts: bool,
    outcomes: dict[str, SyncOutcome],
) -> tuple[dict[str, StockLevel | None], dict[str, Listing], dict[str, ChannelShows]]:
    """A batch's first two reads: the levels, then the SKUs' listings in the slot with what
    it shows of each (after the levels, as every later round reads them). One not listed there
    has nothing to do."""
    slot, marketplaces = where
    wanted = sorted(set(skus))
    levels = inventory.get_many(wanted)
    found, shown = catalog.listings_and_shows(wanted, slot, accepts, marketplaces)
    for sku in wanted:
        if sku not in found:
            outcomes[sku] = SyncOutcome(
                sku, error=NothingToDo("SKU not listed here", channel=slot.partition("@")[0])
            )
    return levels, {sku: found[sku] for sku in wanted if sku in found}, shown


def _record(
    catalog: StockCatalog,
    slot: str,
    update: StockUpdate,
    result: StockResult,
    now: Callable[[], datetime],
) -> int | None:
    """Keep what a write did; the quantity it put (or had accepted) on the channel, None when
    it failed."""
    sku = update.listing.sku
    if result.error is not None:
        return None
    if result.pending is not None:  # not shown yet: only a confirmed check says so
        catalog.record_pending(sku, slot, update.quantity, result.pending.reference, now())
        return update.quantity
    shown = update.quantity if result.shown is None else result.shown
    catalog.record_shown(sku, slot, shown, now())
    return shown


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
