"""Publish the derived quantity of some SKUs to one channel, reading canonical stock now."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shared.channels.errors import ChannelError, NothingToDo, RetryableError
from shared.channels.port import SetsStock, StockUpdate
from shared.domain.listings import channel_quantity
from shared.stores.catalog import CatalogStore
from shared.stores.inventory import InventoryStore


@dataclass(frozen=True)
class SyncOutcome:
    sku: str
    quantity: int | None = None  # what was published
    error: Exception | None = None  # ChannelError subclass, or NothingToDo


def publish_stock(
    skus: Iterable[str],
    publisher: SetsStock,
    catalog: CatalogStore,
    inventory: InventoryStore,
) -> dict[str, SyncOutcome]:
    outcomes: dict[str, SyncOutcome] = {}
    updates: list[StockUpdate] = []
    for sku in sorted(set(skus)):
        listing = catalog.listing(sku, publisher.channel)
        if listing is None:
            outcomes[sku] = SyncOutcome(
                sku, error=NothingToDo("SKU not listed here", channel=publisher.channel)
            )
            continue
        level = inventory.get(sku)
        available = level.available if level else 0
        updates.append(StockUpdate(listing, channel_quantity(available, listing.rules)))
    for update, result in zip(updates, publisher.set_stock(updates), strict=True):
        sku = update.listing.sku
        outcomes[sku] = SyncOutcome(sku, update.quantity, result.error)
    return outcomes


def is_retryable(error: Exception | None) -> bool:
    """Unknown exceptions retry; a ChannelError says for itself."""
    if error is None or isinstance(error, NothingToDo):
        return False
    return isinstance(error, RetryableError) or not isinstance(error, ChannelError)
