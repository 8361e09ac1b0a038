"""WooCommerce's news of a product edited in wp-admin (`product.updated`, the product or
variation resource): ingest reads the listings it names again (port.ListingChanged). A variable
product names its variations too: its stock may be the one they share."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from shared.channels.port import ListingChanged

TOPIC = "product.updated"

_Id = Annotated[StrictInt, Field(gt=0)]


class _Product(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: _Id
    variations: Annotated[list[_Id], Field(max_length=4096)] = []


def listing_changed(raw_body: bytes) -> ListingChanged:
    """Raises ValidationError."""
    product = _Product.model_validate_json(raw_body)
    ids = dict.fromkeys((product.id, *product.variations))
    return ListingChanged(tuple(("item_id", str(i)) for i in ids))
