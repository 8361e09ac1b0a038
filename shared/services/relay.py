"""Which stream changes matter to channels, and which channels to tell."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.domain.inventory import StockLevel
from shared.domain.listings import Listing
from shared.stores.inventory import LEVEL, level_from_item


def stock_change(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> str | None:
    """The SKU whose offerable quantity changed, from deserialized stream images; else None."""
    image = new or old
    if not image or image.get("sk") != LEVEL:
        return None
    before = _available(old)
    after = _available(new)
    return level_from_item(dict(image)).sku if before != after else None


def _available(image: Mapping[str, Any] | None) -> int | None:
    if not image:
        return None
    level: StockLevel = level_from_item(dict(image))
    return level.available


def channels_to_sync(listings: Iterable[Listing], queues: Mapping[str, str]) -> list[str]:
    """Channels that list this SKU and that Keel publishes stock to."""
    return sorted({listing.channel for listing in listings if listing.channel in queues})
