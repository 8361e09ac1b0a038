"""Shopify's news of a listing changed in the admin: `inventory_levels/update` names the
inventory item and location whose available quantity moved, `products/update` the product
with its variants (a price edit). Ingest reads the listing again (port.ListingChanged)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from shared.channels.port import ListingChanged

LEVEL_TOPIC = "inventory_levels/update"
PRODUCT_TOPIC = "products/update"
TOPICS = frozenset({LEVEL_TOPIC, PRODUCT_TOPIC})

_Id = Annotated[StrictInt, Field(gt=0)]


class _Level(BaseModel):
    model_config = ConfigDict(extra="ignore")
    inventory_item_id: _Id
    location_id: _Id


class _Variant(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: _Id


class _Product(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: _Id
    variants: Annotated[list[_Variant], Field(max_length=2048)] = []


def listing_changed(topic: str, raw_body: bytes) -> ListingChanged | None:
    """None: a product without variants (nothing Keel lists). Raises ValidationError."""
    if topic == LEVEL_TOPIC:
        level = _Level.model_validate_json(raw_body)
        return ListingChanged((("inventory_item_id", str(level.inventory_item_id)),))
    product = _Product.model_validate_json(raw_body)
    refs = tuple(("variant_id", str(v.id)) for v in product.variants)
    return ListingChanged(refs) if refs else None
