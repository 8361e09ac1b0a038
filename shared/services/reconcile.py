"""Reconciliation: what every channel shows, compared with what Keel derives, repaired where it
drifted; the deliveries Keel needs re-armed where a channel disabled them; the orders they missed
polled in (`keel reconcile`, and each channel's schedule).

One run of one channel, in order:
1. **Subscriptions**: each one Keel needs is checked; one the channel disabled (WooCommerce
   after 5 failed deliveries), deleted or pointed elsewhere is re-armed (onboarding's fix).
2. **Orders**: the channel's poll runs, so orders a dead webhook missed land *before* stock is
   compared (a sale Keel has not taken in would look like drift, and be "repaired" back).
3. **Drift**, in two stages (shared/domain/drift.py): the bulk read gives candidates; each is
   read again alone, and compared with Keel's value read again. What survives is drift.
4. **Repair** through the normal outbound path: what the channel was just seen to show is
   recorded as the publish's base (Shopify's compare-and-set), and a trigger goes on the
   channel's sync queue, which publishes what Keel derives *then*. Never a value from here.

A dry run reads and compares only: no subscription, order, record or trigger changes.

`check_listing` is the same comparison and repair for the listings one channel's news names
(port.ListingChanged: a hand edit Shopify, WooCommerce or Amazon told of), run by ingest: the
edit is repaired in seconds; the schedule stays the backstop for news that never came.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from shared.channels.errors import AuthError, ChannelError, PermanentError
from shared.channels.port import ListingChanged
from shared.domain.drift import (
    PRICE,
    QUANTITY,
    Drift,
    Expected,
    candidates,
    differences,
    still_open,
)
from shared.domain.listings import Listing, stock_slot
from shared.domain.matching import ChannelListing
from shared.services.onboarding import (
    ChannelAccess,
    SubscriptionState,
    fix_subscription,
    listing_id,
    read_channel,
    subscription_status,
)
from shared.services.stock import derived_quantities
from shared.stores.ports import DriftLog, Inventory, Listings, Prices, StockCatalog


class ListingLookup(Protocol):
    """The catalog as a change signal finds Keel's listings by the channel's ids."""

    def find_sku(self, slot: str, kind: str, value: str) -> str | None: ...
    def listings_for(self, sku: str) -> list[Listing]: ...


class Repairs(Protocol):
    """Triggers on the channel's sync queue (the composition root sends them)."""

    def stock(self, listing: Listing) -> None: ...
    def price(self, listing: Listing) -> None: ...
    def flush(self) -> list[str]:
        """Send what was added; answers what could not be sent."""
        ...


@dataclass(frozen=True)
class Reconciler:
    """What one channel's reconciliation reads and writes, built by the composition root."""

    access: ChannelAccess
    listings: Listings
    shows: StockCatalog
    inventory: Inventory
    prices: Prices
    drift_log: DriftLog
    repairs: Repairs
    now: Callable[[], datetime]
    # Where the channel must deliver (a webhook URL, a queue ARN); None: not checked.
    address: str | None = None
    # Account key -> the keys of orders the poll took in that Keel did not have; None: the
    # channel has no poll.
    poll: Callable[[str], list[str]] | None = None
    # A stock write the channel accepted (bol, Amazon) is not compared while it may still be
    # applied (the sync's checks run this long).
    in_flight_for: timedelta = timedelta(minutes=15)


@dataclass
class ChannelReport:
    channel: str
    dry_run: bool
    checked: int = 0  # Keel's listings compared
    read: int = 0  # listings the bulk read returned
    drift: list[Drift] = field(default_factory=list)
    candidates: int = 0  # differences in the bulk read (before the per-item reads)
    confirming_reads: int = 0
    repaired: int = 0  # sync triggers sent
    in_flight: int = 0  # listings not compared: a stock write of Keel's still being applied
    missing: list[dict[str, str]] = field(default_factory=list)  # Keel lists, channel doesn't
    subscriptions: list[SubscriptionState] = field(default_factory=list)  # the unhealthy ones
    subscriptions_rearmed: int = 0
    orders_found: list[str] = field(default_factory=list)
    persisting: list[str] = field(default_factory=list)  # drift ids also open after last run
    oldest_drift_s: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "dry_run": self.dry_run,
            "checked": self.checked,
            "read": self.read,
            "candidates": self.candidates,
            "confirming_reads": self.confirming_reads,
            "drift": [d.as_dict() for d in self.drift],
            "repaired": self.repaired,
            "in_flight": self.in_flight,
            "missing_on_channel": self.missing,
            "subscriptions": [s.as_dict() for s in self.subscriptions],
            "subscriptions_rearmed": self.subscriptions_rearmed,
            "orders_found": len(self.orders_found),
            "orders": self.orders_found,
            "persisting": len(self.persisting),
            "oldest_drift_s": self.oldest_drift_s,
            "errors": self.errors,
        }


def reconcile_channel(r: Reconciler, dry_run: bool = False) -> ChannelReport:
    spec = r.access.spec
    report = ChannelReport(spec.name, dry_run)
    rearmed = _subscriptions(r, report, dry_run)
    if r.poll is not None and not dry_run:
        accounts = list(dict.fromkeys(account for account, _ in r.access.places))
        for account in accounts:
            try:
                report.orders_found += r.poll(account)
            except ChannelError as exc:
                report.errors.append(f"poll of {account or 'the first account'}: {exc}")
    report.subscriptions_rearmed = rearmed
    if spec.read_listings is None:
        return report
    try:
        _drift(r, report, dry_run)
    except ChannelError as exc:  # the bulk read failed: nothing compared, nothing forgotten
        report.errors.append(f"reading the channel's listings: {exc}")
    return report


def _subscriptions(r: Reconciler, report: ChannelReport, dry_run: bool) -> int:
    if r.address is None or r.access.spec.manage_subscriptions is None:
        return 0
    try:
        states = subscription_status(r.access, r.address)
    except ChannelError as exc:
        report.errors.append(f"reading subscriptions: {exc}")
        return 0
    rearmed = 0
    for state in states:
        if state.healthy:
            continue
        try:
            fixed = fix_subscription(r.access, state, dry_run)
        except ChannelError as exc:
            report.errors.append(f"re-arming {state.topic} ({state.account or 'first'}): {exc}")
            report.subscriptions.append(state)
            continue
        report.subscriptions.append(fixed)
        rearmed += 0 if dry_run else 1
    return rearmed


def _drift(r: Reconciler, report: ChannelReport, dry_run: bool) -> None:
    spec = r.access.spec
    places = set(r.access.places)
    mine = [
        x
        for x in r.listings.all_listings()
        if x.channel == spec.name and (x.account, x.marketplace) in places
    ]
    seen = read_channel(r.access)
    report.read = len(seen)
    expected = _expected(r, mine, report)  # Keel's values read after the channel's
    report.checked = len(expected)
    differing, missing = candidates(expected.values(), seen)
    report.missing = [
        {"listing_id": e.listing_id, "sku": e.sku, "listing": e.listing_key} for e in missing
    ]
    report.candidates = sum(len(drifts) for _, drifts in differing)
    by_key = {(x.key, x.sku): x for x in mine}
    read_again = [
        (listing, now_seen)
        for listing in (by_key[(wanted.listing_key, wanted.sku)] for wanted, _ in differing)
        if (now_seen := _read_again(r, listing, report)) is not None
    ]
    skus = {listing.sku for listing, _ in read_again}
    fresh = _expected(r, [x for x in mine if x.sku in skus], report, count=False)
    found: list[tuple[Drift, Listing, ChannelListing]] = [
        (d, listing, now_seen)
        for listing, now_seen in read_again
        if (again := fresh.get((listing.key, listing.sku))) is not None
        for d in differences(again, now_seen)
    ]
    report.drift = [d for d, _, _ in found]
    now = r.now()
    before = r.drift_log.open_drift(spec.name)
    after = still_open(report.drift, before, now)
    report.persisting = sorted(d for d in after if d in before)
    report.oldest_drift_s = int(max(((now - t).total_seconds() for t in after.values()), default=0))
    if dry_run:
        return
    _repair(r, found, report, now)
    r.drift_log.keep_drift(spec.name, after)


def _read_again(r: Reconciler, listing: Listing, report: ChannelReport) -> ChannelListing | None:
    """The candidate read alone, as the channel shows it now (None: gone, or not readable now:
    nothing is repaired on a read that failed)."""
    report.confirming_reads += 1
    try:
        return r.access.reader(listing.account).read_listing(listing.refs, listing.marketplace)
    except ChannelError as exc:
        report.errors.append(f"reading {listing.key} {listing.sku} again: {exc}")
        return None


def _expected(
    r: Reconciler, listings: Sequence[Listing], report: ChannelReport, count: bool = True
) -> dict[tuple[str, str], Expected]:
    """What Keel derives now for each listing ((key, sku) -> Expected)."""
    spec = r.access.spec
    skus = sorted({x.sku for x in listings})
    levels = r.inventory.get_many(skus)
    targets = r.prices.targets_many((x.sku, x.key) for x in listings)
    by_sku: dict[str, list[Listing]] = defaultdict(list)
    by_slot: dict[str, list[str]] = defaultdict(list)
    for x in listings:
        by_sku[x.sku].append(x)
        by_slot[x.slot].append(x.sku)
    shows = {
        (sku, slot): shown
        for slot, slot_skus in by_slot.items()
        for sku, shown in r.shows.channel_shows_many(slot_skus, slot).items()
    }
    now = r.now()
    found: dict[tuple[str, str], Expected] = {}
    for sku, of_sku in by_sku.items():
        level = levels.get(sku)
        derived = derived_quantities(of_sku, level.available if level else 0)
        for x in of_sku:
            quantity: int | None = derived[x.key]
            if shows[(sku, x.slot)].in_flight(now, r.in_flight_for):
                quantity = None
                report.in_flight += 1 if count else 0
            target = targets.get((sku, x.key))
            found[(x.key, sku)] = Expected(
                x.key,
                listing_id(spec, x),
                sku,
                x.account,
                x.marketplace,
                quantity,
                target.price if target else None,
            )
    return found


def _repair(
    r: Reconciler,
    found: Iterable[tuple[Drift, Listing, ChannelListing]],
    report: ChannelReport,
    now: datetime,
) -> None:
    """Record what the channel shows as the next publish's base, then trigger the publish (one
    trigger per SKU and slot: marketplaces of one Amazon account share their quantity)."""
    stock_done: set[tuple[str, str]] = set()
    price_done: set[tuple[str, str]] = set()
    for drift, listing, seen in found:
        if drift.field == QUANTITY and seen.quantity is not None:
            if (listing.sku, listing.slot) in stock_done:
                continue
            stock_done.add((listing.sku, listing.slot))
            r.shows.record_shown(listing.sku, listing.slot, seen.quantity, now)
            r.repairs.stock(listing)
        elif drift.field == PRICE and seen.price is not None:
            if (listing.sku, listing.key) in price_done:
                continue
            price_done.add((listing.sku, listing.key))
            r.prices.record_shown(listing.sku, listing.key, Decimal(seen.price), None, now)
            r.repairs.price(listing)
    if unsent := r.repairs.flush():
        report.errors.append(f"repair triggers not sent to {sorted(unsent)}")
    report.repaired = len(stock_done) + len(price_done)


@dataclass(frozen=True)
class ListingCheck:
    """What one listing change led to."""

    listings: tuple[str, ...]  # "<listing key> <sku>" of each of Keel's listings read
    drift: tuple[Drift, ...]
    repaired: int
    errors: tuple[str, ...]

    @property
    def said(self) -> str:
        if not self.listings:
            return "names no listing of Keel's"
        found = ", ".join(f"{d.sku} {d.field} {d.channel} (Keel {d.keel})" for d in self.drift)
        return f"read {len(self.listings)}: " + (f"{found}; {self.repaired} repaired" if found
                                                 else "as Keel derives")  # fmt: skip


def check_listing(
    r: Reconciler, lookup: ListingLookup, account: str, change: ListingChanged
) -> ListingCheck:
    """Read the listings `change` names (of `account`, its key) as the channel shows them now,
    compare with Keel's values read after, and repair what differs as a run would. A read that
    may succeed later (RetryableError, AuthError) raises: the delivery comes back."""
    spec = r.access.spec
    slot = stock_slot(spec.name, account)
    skus = sorted(
        {sku for kind, value in change.refs if (sku := lookup.find_sku(slot, kind, value))}
    )
    mine = [
        x
        for sku in skus
        for x in lookup.listings_for(sku)
        if x.channel == spec.name
        and x.account == account
        and change.marketplace in ("", x.marketplace)
    ]
    report = ChannelReport(spec.name, dry_run=False)
    read = [(x, seen) for x in mine if (seen := _read_now(r, x, report)) is not None]
    expected = _expected(r, [x for x, _ in read], report)  # Keel's values read after
    found = [(d, x, seen) for x, seen in read for d in differences(expected[(x.key, x.sku)], seen)]
    if found:
        _repair(r, found, report, r.now())
    return ListingCheck(
        tuple(f"{x.key} {x.sku}" for x in mine),
        tuple(d for d, _, _ in found),
        report.repaired,
        tuple(report.errors),
    )


def _read_now(r: Reconciler, listing: Listing, report: ChannelReport) -> ChannelListing | None:
    """None: gone from the channel, or refused for good (reported: the schedule reports it)."""
    try:
        return r.access.reader(listing.account).read_listing(listing.refs, listing.marketplace)
    except AuthError:
        raise
    except PermanentError as exc:
        report.errors.append(f"reading {listing.key} {listing.sku}: {exc}")
        return None
