"""A SKU as one channel sells it, and the quantity that channel is shown.

A listing is (SKU, channel, account, marketplace): a second Shopify shop is another account, an
Amazon marketplace another marketplace of the same seller. Stock is shown once per (SKU,
channel, account) — the listing's *slot*: Amazon's quantity for a seller SKU is one number
across a region's marketplaces (`fulfillment_availability` has no marketplace), a bol offer
sells in all its countries at once — so listings that share a slot share one quantity.

An empty account is the channel's first account (the one every listing had before accounts
were), so its keys are spelled as the channel alone and older records stay valid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal


@dataclass(frozen=True)
class ListingRules:
    """Per-channel publishing rules: offer a share of stock, hold back a buffer, cap the rest."""

    share: Decimal = Decimal(1)
    buffer: int = 0
    cap: int | None = None

    def __post_init__(self) -> None:
        if not Decimal(0) <= self.share <= Decimal(1):
            raise ValueError(f"share must be between 0 and 1, got {self.share}")
        if self.buffer < 0:
            raise ValueError(f"buffer must not be negative, got {self.buffer}")
        if self.cap is not None and self.cap < 0:
            raise ValueError(f"cap must not be negative, got {self.cap}")


def stock_slot(channel: str, account: str = "") -> str:
    """Where one quantity is shown: `channel` for the channel's first account, else
    `channel@account`."""
    return f"{channel}@{account}" if account else channel


def listing_key(channel: str, account: str = "", marketplace: str = "") -> str:
    """A listing's key among its SKU's: its slot, then `/marketplace` when it names one."""
    slot = stock_slot(channel, account)
    return f"{slot}/{marketplace}" if marketplace else slot


def split_listing_key(key: str) -> tuple[str, str, str]:
    """(channel, account, marketplace) of a `listing_key`."""
    slot, _, marketplace = key.partition("/")
    channel, _, account = slot.partition("@")
    return channel, account, marketplace


@dataclass(frozen=True)
class Listing:
    """`refs` holds the channel's own ids (e.g. Shopify variant_id, Woo product_id).
    `countries`: where one offer is visible (bol.com: NL and BE), shown, not a key."""

    sku: str
    channel: str
    refs: dict[str, str] = field(default_factory=dict)
    rules: ListingRules = ListingRules()
    account: str = ""
    marketplace: str = ""
    countries: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for part, value in (("account", self.account), ("marketplace", self.marketplace)):
            if any(c in value for c in "@/#") or value != value.strip():
                raise ValueError(f"{part} {value!r} may not hold '@', '/', '#' or spaces")

    @property
    def slot(self) -> str:
        return stock_slot(self.channel, self.account)

    @property
    def key(self) -> str:
        return listing_key(self.channel, self.account, self.marketplace)


def one_quantity(listings: Sequence[Listing]) -> Listing:
    """The listing a slot's quantity is derived for, when several listings share it (one
    Amazon seller SKU in several marketplaces): the first by key, with the strictest of their
    rules (smallest share and cap, largest buffer), so no listing shows more than its own
    rules allow."""
    if not listings:
        raise ValueError("no listings to derive a quantity for")
    ordered = sorted(listings, key=lambda listing: listing.key)
    if len(ordered) == 1:
        return ordered[0]
    caps = [x.rules.cap for x in ordered if x.rules.cap is not None]
    rules = ListingRules(
        share=min(x.rules.share for x in ordered),
        buffer=max(x.rules.buffer for x in ordered),
        cap=min(caps) if caps else None,
    )
    return replace(ordered[0], rules=rules)


def pick_listing(
    listings: Sequence[Listing],
    channel: str,
    account: str | None = None,
    marketplace: str | None = None,
) -> Listing:
    """The one listing of a SKU that (channel[, account][, marketplace]) names, as a person
    names it: leaving out the account or the marketplace is fine while only one listing fits.
    ValueError says which listings there are when none or several fit."""
    fitting = [
        x
        for x in listings
        if x.channel == channel
        and (account is None or x.account == account)
        and (marketplace is None or x.marketplace == marketplace)
    ]
    if len(fitting) == 1:
        return fitting[0]
    on_channel = sorted(x.key for x in listings if x.channel == channel)
    if not fitting:
        there = f"; it has {', '.join(on_channel)}" if on_channel else ""
        raise ValueError(f"no such {channel} listing{there}")
    raise ValueError(
        f"{len(fitting)} {channel} listings fit ({', '.join(sorted(x.key for x in fitting))}): "
        "name the account and/or the marketplace"
    )


def channel_quantity(available: int, rules: ListingRules, channel_max: int | None = None) -> int:
    """clamp(floor(available x share) - buffer, 0, cap), and never more than the channel can
    show (`channel_max`: bol.com's 999): derived, never stored as truth. The one rule for what a
    channel shows, for the sync, the CLI and the demo alike."""
    shared = math.floor(Decimal(max(0, available)) * rules.share)
    qty = max(0, shared - rules.buffer)
    for ceiling in (rules.cap, channel_max):
        if ceiling is not None:
            qty = min(qty, ceiling)
    return qty


@dataclass(frozen=True)
class Sent:
    """A quantity written to a channel, and when Keel recorded it."""

    quantity: int
    at: datetime


@dataclass(frozen=True)
class ChannelShows:
    """What Keel knows a listing's channel shows: the last confirmed quantity, and the last
    write the channel accepted but has not confirmed yet (bol.com, Amazon), if any."""

    confirmed: Sent | None = None
    accepted: Sent | None = None

    def settled_on(self, quantity: int, now: datetime, in_flight_for: timedelta) -> bool:
        """True when sending `quantity` would change nothing: the channel shows it, or a write
        of it is in flight. An accepted write newer than the confirmed quantity counts as in
        flight for `in_flight_for` (its checks' schedule): a lost check must not hold a SKU
        back; while it is in flight, it is what the channel will show."""
        accepted, confirmed = self.accepted, self.confirmed
        if accepted is not None and (confirmed is None or accepted.at >= confirmed.at):
            return accepted.quantity == quantity and now - accepted.at <= in_flight_for
        return confirmed is not None and confirmed.quantity == quantity

    def in_flight(self, now: datetime, in_flight_for: timedelta) -> bool:
        """A write the channel accepted is newer than the confirmed quantity and may still be
        applied: what the channel shows now says nothing yet (reconciliation skips it)."""
        accepted, confirmed = self.accepted, self.confirmed
        return (
            accepted is not None
            and (confirmed is None or accepted.at >= confirmed.at)
            and now - accepted.at <= in_flight_for
        )
