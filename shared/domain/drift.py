"""Drift: where a channel shows another quantity or price than Keel derives for a listing.

Reconciliation compares what each channel *shows now* with what Keel derives now (never with
what Keel last sent). It works in two stages because a bulk read can be old (Amazon's and bol's
reports lag by minutes to hours): the bulk read gives candidates; each candidate is read again,
alone, and compared again with Keel's value read again, and only a difference that survives both
is drift. Only drift is repaired.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from shared.domain.matching import ChannelListing

QUANTITY = "quantity"
PRICE = "price"


@dataclass(frozen=True)
class Expected:
    """What Keel derives for one of its listings now. `quantity` None: nothing to compare (a
    write the channel accepted is still in flight); `price` None: no price in force."""

    listing_key: str  # Keel's (channel[@account][/marketplace])
    listing_id: str  # the channel's, as its reader names it
    sku: str
    account: str  # the account key its reader is built for
    marketplace: str
    quantity: int | None
    price: Decimal | None

    @property
    def place(self) -> tuple[str, str, str]:
        return (self.account, self.marketplace, self.listing_id)


@dataclass(frozen=True)
class Drift:
    listing_key: str
    listing_id: str
    sku: str
    field: str  # QUANTITY or PRICE
    keel: str
    channel: str

    @property
    def id(self) -> str:
        """Stable across runs: what "the same drift, still there" means."""
        return f"{self.listing_key}#{self.sku}#{self.field}"

    def as_dict(self) -> dict[str, str]:
        return {
            "listing_id": self.listing_id,
            "sku": self.sku,
            "field": self.field,
            "keel": self.keel,
            "channel": self.channel,
            "listing": self.listing_key,
        }


def differences(expected: Expected, seen: ChannelListing) -> list[Drift]:
    """The fields on which `seen` differs from `expected` (a channel that does not track a
    quantity, or shows no price, is not compared on it)."""
    found: list[Drift] = []
    quantity, shown_quantity = expected.quantity, seen.quantity
    if quantity is not None and shown_quantity is not None and shown_quantity != quantity:
        found.append(_drift(expected, QUANTITY, quantity, shown_quantity))
    price, shown_price = expected.price, seen.price
    if price is not None and shown_price is not None and shown_price != price:
        found.append(_drift(expected, PRICE, price, shown_price))
    return found


def _drift(expected: Expected, field: str, keel: object, channel: object) -> Drift:
    return Drift(
        expected.listing_key, expected.listing_id, expected.sku, field, str(keel), str(channel)
    )


def candidates(
    expected: Iterable[Expected], seen: Iterable[ChannelListing]
) -> tuple[list[tuple[Expected, list[Drift]]], list[Expected]]:
    """Stage one, on the bulk read: each of Keel's listings that the channel shows otherwise
    (with how), and those the channel does not show at all (gone, or never created: reported,
    not repaired by a stock or price write)."""
    by_place = {(x.account, x.marketplace, x.listing_id): x for x in seen}
    differing: list[tuple[Expected, list[Drift]]] = []
    missing: list[Expected] = []
    for wanted in expected:
        found = by_place.get(wanted.place)
        if found is None:
            missing.append(wanted)
            continue
        if drifts := differences(wanted, found):
            differing.append((wanted, drifts))
    return differing, missing


def still_open(
    found: Iterable[Drift], before: Mapping[str, datetime], now: datetime
) -> dict[str, datetime]:
    """Drift id -> when it was first seen, after this run: what was there before keeps its
    first sighting, what is new starts now; what is gone is forgotten."""
    return {d.id: before.get(d.id, now) for d in found}
