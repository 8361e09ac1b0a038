"""Publish the derived quantity of some SKUs to one channel, reading canonical stock now."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from shared.channels.errors import ChannelError, NothingToDo, RetryableError
from shared.channels.port import SetsStock, StockUpdate
from shared.domain.listings import Listing, channel_quantity
from shared.stores.catalog import CatalogStore
from shared.stores.inventory import InventoryStore

MAX_ROUNDS = 3
ROUND_BUDGET_S = 15.0  # a further round starts only with this much invocation time left


@dataclass(frozen=True)
class SyncOutcome:
    sku: str
    quantity: int | None = None  # what was published last
    error: Exception | None = None  # ChannelError subclass, or NothingToDo
    rounds: int = 1


def publish_stock(
    skus: Iterable[str],
    publisher: SetsStock,
    catalog: CatalogStore,
    inventory: InventoryStore,
    remaining_s: Callable[[], float] = lambda: float("inf"),
) -> dict[str, SyncOutcome]:
    """Publish, then check that the canonical level did not move meanwhile; if it did, publish
    again. Two consumers can run at once: one that read the level earlier may write after one
    that read it later. Whoever writes last has then verified that what it wrote is current."""
    outcomes: dict[str, SyncOutcome] = {}
    listings: dict[str, Listing] = {}
    for sku in sorted(set(skus)):
        listing = catalog.listing(sku, publisher.channel)
        if listing is None:
            outcomes[sku] = SyncOutcome(
                sku, error=NothingToDo("SKU not listed here", channel=publisher.channel)
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
            updates.append(
                StockUpdate(listings[sku], channel_quantity(available, listings[sku].rules))
            )
        for update, result in zip(updates, publisher.set_stock(updates), strict=True):
            sku = update.listing.sku
            outcomes[sku] = SyncOutcome(sku, update.quantity, result.error, round_number)
        pending = [
            sku
            for sku in pending
            if outcomes[sku].error is None and _moved(inventory, sku, versions[sku])
        ]
        if not pending or remaining_s() < ROUND_BUDGET_S:
            break  # a change that is still moving has its own trigger queued
    return outcomes


def _moved(inventory: InventoryStore, sku: str, version: int) -> bool:
    level = inventory.get(sku)
    return (level.version if level else -1) != version


def is_retryable(error: Exception | None) -> bool:
    """Unknown exceptions retry; a ChannelError says for itself."""
    if error is None or isinstance(error, NothingToDo):
        return False
    return isinstance(error, RetryableError) or not isinstance(error, ChannelError)
