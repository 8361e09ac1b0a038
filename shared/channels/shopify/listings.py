"""Read a Shopify shop's listings through Admin GraphQL `productVariants` pages (100 a page,
paced by the one Admin client's cost bucket), with what the shop's primary location shows.

A listing is a variant: Keel's listing holds its variant id, inventory item and the location
stock is published to (the shop's primary location). The GTIN is the variant's `barcode` when
it is one (shops also put internal codes there). Reads are live: every row is confirmed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import Any

import httpx

from shared.channels import shown
from shared.channels.errors import RetryableError
from shared.channels.retry import with_retries
from shared.channels.shopify import graphql as documents
from shared.channels.shopify.admin import AdminClient
from shared.channels.shopify.secret import ShopifySecret
from shared.domain.gtin import gtin_or_none
from shared.domain.matching import ChannelListing

CHANNEL = "shopify"
PAGE = 100


class ShopifyListings:
    channel = CHANNEL

    def __init__(
        self, secret: ShopifySecret, http: httpx.Client, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._client = AdminClient(secret, http, sleep=sleep)
        self._sleep = sleep
        self._location: str | None = None

    def read_listings(self, marketplace: str = "") -> Iterator[ChannelListing]:
        location = self.location()
        variables: dict[str, Any] = {"first": PAGE, "after": None, "locationId": _gid(location)}
        while True:
            data = self._read(documents.LISTINGS_QUERY, variables)
            found = data.get("productVariants") or {}
            for node in found.get("nodes") or []:
                yield _listing(node, location)
            page = found.get("pageInfo") or {}
            if not page.get("hasNextPage"):
                return
            variables = {**variables, "after": page.get("endCursor")}

    def read_listing(self, refs: Mapping[str, str], marketplace: str = "") -> ChannelListing | None:
        location = refs.get("location_id") or self.location()
        variables = {
            "id": f"gid://shopify/ProductVariant/{int(refs['variant_id'])}",
            "locationId": _gid(location),
        }
        node = self._read(documents.LISTING_QUERY, variables).get("productVariant")
        return _listing(node, location) if node else None

    def location(self) -> str:
        """The shop's primary location (where Keel publishes stock), read once."""
        if self._location is None:
            found = self._read(documents.PRIMARY_LOCATION_QUERY, {}).get("location")
            if not found:
                raise RetryableError(
                    "the shop answered without a primary location", channel=CHANNEL
                )
            self._location = str(found["legacyResourceId"])
        return self._location

    def _read(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        data = with_retries(partial(self._client.post, query, variables), sleep=self._sleep)
        return data if isinstance(data, dict) else {}


def _gid(location: str) -> str:
    return f"gid://shopify/Location/{location}"


def _listing(node: dict[str, Any], location: str) -> ChannelListing:
    variant = str(node["legacyResourceId"])
    item = node.get("inventoryItem") or {}
    product = node.get("product") or {}
    sku = str(node.get("sku") or "") or None
    refs = {"variant_id": variant, "inventory_item_id": str(item.get("legacyResourceId", "")),
            "location_id": location, **({"sku": sku} if sku else {})}  # fmt: skip
    quantity = None
    if item.get("tracked"):
        level = item.get("inventoryLevel") or {}
        quantity = next(
            (int(q["quantity"]) for q in level.get("quantities") or [] if q["name"] == "available"),
            0,
        )
    title = str(product.get("title") or "")
    if node.get("title") and node["title"] != "Default Title":
        title = f"{title} - {node['title']}" if title else str(node["title"])
    return ChannelListing(
        listing_id=variant,
        refs=refs,
        sku=sku,
        gtin=gtin_or_none(node.get("barcode")),
        product_id=str(product.get("legacyResourceId") or "") or None,
        quantity=quantity,
        price=shown.amount(node.get("price")),
        status=str(product.get("status") or "ACTIVE").lower(),
        title=title,
    )


def listings(secret: ShopifySecret, http: httpx.Client) -> ShopifyListings:
    """The registry's listing reader factory."""
    return ShopifyListings(secret, http)
