"""Which stream changes matter to channels, and which channels to tell.

Two streams feed the relay: the inventory's (a SKU's offerable quantity moved) and the
catalog's (a listing appeared, or its ids or publishing rules changed; a listing's price in force
changed). They end as triggers: "listing of SKU on CHANNEL needs syncing" (its stock, or its
price); the sync reads canonical state itself.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.domain.inventory import StockLevel
from shared.domain.listings import Listing
from shared.messages import RetryHeld, SyncListing, SyncPrice
from shared.stores.catalog import REF_SK, CatalogStore, is_listing_key, listing_from_item
from shared.stores.inventory import LEVEL, InventoryStore, level_from_item
from shared.stores.prices import TARGET


@dataclass
class Relayed:
    """What one stream record asks for: sync triggers (one per channel to tell) and a wake-up
    per held order that may go on now (stock arrived, or a listing now names a line's id)."""

    triggers: list[SyncListing | SyncPrice] = field(default_factory=list)
    wakes: list[RetryHeld] = field(default_factory=list)
    cause: str | None = None  # "stock", "listing" or "price", for the log


def relay_change(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    catalog: CatalogStore,
    publishing: Collection[str],
    waiting: InventoryStore | None,
) -> Relayed:
    """`publishing`: the channels Keel publishes stock to. `waiting`: where orders held for
    stock are found (None: this relay wakes nobody for stock, as the catalog's stream)."""
    relayed = Relayed()
    found = listing_found(old, new)
    if found is not None:
        ref_pk, sku = found
        for order_key in catalog.orders_waiting_for_ref(ref_pk):
            relayed.wakes.append(RetryHeld(order_key=order_key, sku=sku, because="listing"))
    arrived = stock_arrived(old, new)
    if arrived is not None and waiting is not None:
        for order_key in waiting.waiting_orders(arrived):
            relayed.wakes.append(RetryHeld(order_key=order_key, sku=arrived, because="stock"))
    price = price_change(old, new, publishing)
    if price is not None:
        relayed.triggers, relayed.cause = [price], "price"
        return relayed
    moved_sku = stock_change(old, new)
    if moved_sku is not None:
        sku, channels = moved_sku, channels_to_sync(catalog.listings_for(moved_sku), publishing)
        relayed.cause = "stock"
    else:
        listing = listing_change(old, new)
        if listing is None or listing.channel not in publishing:
            return relayed
        sku, channels, relayed.cause = listing.sku, [listing.channel], "listing"
    moved = relayed.cause == "stock"
    relayed.triggers = [SyncListing(channel=c, sku=sku, stock_moved=moved) for c in channels]
    return relayed


def price_change(
    old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, publishing: Collection[str]
) -> SyncPrice | None:
    """A listing's price in force was written (a decision published or approved) with another
    price than before: its channel must show it."""
    if not new or not str(new.get("sk", "")).startswith(TARGET):
        return None
    channel = str(new.get("channel", ""))
    if channel not in publishing:
        return None
    if old and (old.get("price"), old.get("compare_at")) == (
        new.get("price"),
        new.get("compare_at"),
    ):
        return None
    return SyncPrice(channel=channel, sku=str(new["sku"]), listing=str(new["listing"]))


def stock_change(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> str | None:
    """The SKU whose offerable quantity changed, from deserialized stream images; else None."""
    image = new or old
    if not image or image.get("sk") != LEVEL:
        return None
    before = _available(old)
    after = _available(new)
    return level_from_item(dict(image)).sku if before != after else None


def stock_arrived(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> str | None:
    """The SKU whose reservable stock grew (a receipt, a release): held orders may fit now."""
    if not old or not new or new.get("sk") != LEVEL:
        return None
    before, after = level_from_item(dict(old)), level_from_item(dict(new))
    return after.sku if after.reservable > before.reservable else None


def listing_found(
    old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> tuple[str, str] | None:
    """(REF item's key, SKU) when a channel id was first mapped to a SKU: orders held for an
    unmatched line with that id may go on now."""
    if old or not new or new.get("sk") != REF_SK:
        return None
    return str(new["pk"]), str(new["sku"])


def _available(image: Mapping[str, Any] | None) -> int | None:
    if not image:
        return None
    level: StockLevel = level_from_item(dict(image))
    return level.available


def listing_change(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> Listing | None:
    """The listing whose ids or rules changed (or that is new); None for anything else,
    including a removed listing (there is nothing left to publish to)."""
    if not new or not is_listing_key(str(new.get("sk", ""))):
        return None
    after = listing_from_item(dict(new))
    if old and listing_from_item(dict(old)) == after:
        return None
    return after


def channels_to_sync(listings: Iterable[Listing], publishing: Collection[str]) -> list[str]:
    """Channels that list this SKU and that Keel publishes stock to."""
    return sorted({listing.channel for listing in listings if listing.channel in publishing})
