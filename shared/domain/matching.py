"""Discovery: which of a channel's listings is which Keel SKU.

A merchant arrives with listings Keel has never seen. Each is matched to a SKU by, in order,
its exact SKU, its GTIN (compared as GTIN-14), then the channel's own product id (an ASIN, a bol
EAN) that a listing of the SKU already holds on that channel (one Amazon SKU shared across
marketplaces). Listings are grouped by (account, marketplace): one SKU has at most one listing
per group. Anything ambiguous is a conflict, reported and never linked:

- `duplicate_sku_on_channel`: several listings of one group resolve to one SKU (Shopify lets
  two variants share a SKU), or the SKU is already linked to another listing there;
- `gtin_on_several_skus`: the listing's GTIN (or product id) is several Keel SKUs';
- `listing_matches_two_skus`: its SKU says one Keel SKU, its GTIN another.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

DUPLICATE_SKU = "duplicate_sku_on_channel"
SHARED_GTIN = "gtin_on_several_skus"
TWO_SKUS = "listing_matches_two_skus"

Group = tuple[str, str]  # (account key, marketplace)


@dataclass(frozen=True)
class ChannelListing:
    """One listing as the channel shows it. `refs` are the ids Keel's listing holds to write
    to it (what the channel's adapters need); `confirmed` False: read from a report that may be
    hours old (Amazon, bol), a candidate to read again before acting on it."""

    listing_id: str
    refs: Mapping[str, str]
    sku: str | None
    gtin: str | None  # GTIN-14 (shared/domain/gtin.py), None when the channel shows none
    product_id: str | None = None  # the channel's own product id (ASIN, bol EAN, product gid)
    quantity: int | None = None  # None: not tracked
    price: Decimal | None = None
    status: str = "active"
    account: str = ""
    marketplace: str = ""
    countries: tuple[str, ...] = ()
    title: str = ""
    confirmed: bool = True

    @property
    def group(self) -> Group:
        return (self.account, self.marketplace)


@dataclass(frozen=True)
class KeelSku:
    sku: str
    gtin: str | None = None  # GTIN-14
    product_ids: frozenset[str] = frozenset()  # the channel's product ids its listings hold


@dataclass(frozen=True)
class Match:
    sku: str
    listing: ChannelListing
    by: str  # "sku", "gtin" or "product_id"


@dataclass(frozen=True)
class Conflict:
    kind: str
    skus: tuple[str, ...]
    listings: tuple[ChannelListing, ...]
    detail: str


@dataclass
class Discovery:
    matched: list[Match] = field(default_factory=list)
    already_linked: list[Match] = field(default_factory=list)
    unmatched_in_keel: list[tuple[str, Group]] = field(default_factory=list)
    unmatched_on_channel: list[ChannelListing] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)


def discover(
    skus: Iterable[KeelSku],
    listings: Iterable[ChannelListing],
    linked: Mapping[Group, Mapping[str, str]] | None = None,
    groups: Iterable[Group] = (),
) -> Discovery:
    """Match a channel's listings to Keel's SKUs. `linked`: per group, the listing ids Keel
    already holds -> their SKU; `groups`: every (account, marketplace) Keel lists in on this
    channel (for `unmatched_in_keel`; the listings' own groups are added)."""
    by_sku = {s.sku: s for s in skus}
    by_gtin: dict[str, set[str]] = defaultdict(set)
    by_product: dict[str, set[str]] = defaultdict(set)
    for s in by_sku.values():
        if s.gtin:
            by_gtin[s.gtin].add(s.sku)
        for pid in s.product_ids:
            by_product[pid].add(s.sku)
    linked = linked or {}
    seen = list(listings)
    found = Discovery()
    taken: dict[Group, dict[str, list[ChannelListing]]] = defaultdict(lambda: defaultdict(list))
    how: dict[tuple[Group, str], str] = {}  # (group, listing id) -> by
    later: list[ChannelListing] = []
    for listing in seen:
        owner = linked.get(listing.group, {}).get(listing.listing_id)
        if owner is not None:
            found.already_linked.append(Match(owner, listing, "linked"))
            continue
        sku_hit = {listing.sku} & by_sku.keys() if listing.sku else set()
        gtin_hit = set(by_gtin.get(listing.gtin, ())) if listing.gtin else set()
        if sku_hit and gtin_hit and not sku_hit & gtin_hit:
            found.conflicts.append(
                Conflict(
                    TWO_SKUS,
                    tuple(sorted(sku_hit | gtin_hit)),
                    (listing,),
                    f"its SKU is {listing.sku}, its GTIN {listing.gtin} is "
                    f"{', '.join(sorted(gtin_hit))}'s",
                )
            )
            continue
        if sku_hit:
            _take(taken, how, listing, sku_hit.pop(), "sku")
        elif len(gtin_hit) > 1:
            found.conflicts.append(_shared(listing, gtin_hit, f"GTIN {listing.gtin}"))
        elif gtin_hit:
            _take(taken, how, listing, gtin_hit.pop(), "gtin")
        else:
            later.append(listing)
    for group_taken in taken.values():  # product ids the matches hold (an ASIN on .nl and .de)
        for sku, hits in group_taken.items():
            for hit in hits:
                if hit.product_id:
                    by_product[hit.product_id].add(sku)
    for listing in later:
        product_hit = set(by_product.get(listing.product_id, ())) if listing.product_id else set()
        if len(product_hit) > 1:
            found.conflicts.append(_shared(listing, product_hit, f"product {listing.product_id}"))
        elif product_hit:
            _take(taken, how, listing, product_hit.pop(), "product_id")
        else:
            found.unmatched_on_channel.append(listing)
    for group, group_taken in sorted(taken.items()):
        held = {sku for sku in linked.get(group, {}).values()}
        for sku, hits in sorted(group_taken.items()):
            if len(hits) == 1 and sku not in held:
                found.matched.append(Match(sku, hits[0], how[(group, hits[0].listing_id)]))
                continue
            also = " (and it is already linked there)" if sku in held else ""
            found.conflicts.append(
                Conflict(
                    DUPLICATE_SKU,
                    (sku,),
                    tuple(hits),
                    f"{len(hits)} listing(s) in one place resolve to {sku}{also}",
                )
            )
    every_group = {*groups, *(lst.group for lst in seen)}
    present = {(m.sku, m.listing.group) for m in (*found.matched, *found.already_linked)}
    present |= {(sku, g) for g, ids in linked.items() for sku in ids.values()}
    in_conflict = {(sku, c.listings[0].group) for c in found.conflicts for sku in c.skus}
    found.unmatched_in_keel = [
        (sku, g)
        for g in sorted(every_group)
        for sku in sorted(by_sku)
        if (sku, g) not in present and (sku, g) not in in_conflict
    ]
    return found


def _take(
    taken: dict[Group, dict[str, list[ChannelListing]]],
    how: dict[tuple[Group, str], str],
    listing: ChannelListing,
    sku: str,
    by: str,
) -> None:
    taken[listing.group][sku].append(listing)
    how[(listing.group, listing.listing_id)] = by


def _shared(listing: ChannelListing, skus: set[str], what: str) -> Conflict:
    return Conflict(
        SHARED_GTIN,
        tuple(sorted(skus)),
        (listing,),
        f"{what} is {len(skus)} SKUs' ({', '.join(sorted(skus))})",
    )
