"""Prices out to Shopify: `productVariantsBulkUpdate` (`price`, and `compareAtPrice` for a sale:
null ends it), one product per call, as the mutation takes. A listing holds the variant, not
always its product, so the variants are read first (`nodes`): their product, and what they show
(a variant that already shows the price is not written again).

The mutation applies all of a call or nothing: a userError is the row's it names (a refused
price is permanent); the rest of that product's rows are sent again in a second call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from shared.channels.errors import PermanentError, RetryableError
from shared.channels.port import PriceResult, PriceUpdate
from shared.channels.shopify import graphql as documents
from shared.channels.shopify.admin import AdminClient
from shared.channels.shopify.secret import ShopifySecret
from shared.channels.shopify.stock import to_gid

CHANNEL = "shopify"
READ_CHUNK = 100  # nodes(ids:) takes up to 250; 100 keeps the requested cost low
# ProductVariantsBulkUpdateUserErrorCode values no retry fixes.
PERMANENT_CODES = frozenset(
    {
        "GREATER_THAN_OR_EQUAL_TO",
        "NEGATIVE_PRICE_VALUE",
        "INVALID_INPUT",
        "INVALID_VALUE",
        "MUST_BE_FOR_THIS_PRODUCT",
        "PRODUCT_DOES_NOT_EXIST",
        "PRODUCT_VARIANT_DOES_NOT_EXIST",
        "PRODUCT_VARIANT_ID_MISSING",
        "PRODUCT_SUSPENDED",
        "LOCAL_CURRENCY_GIFT_CARD_PRICE_MUST_BE_ZERO",
    }
)


def _money(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


class ShopifyPrices:
    """Outbound price half of the Shopify adapter."""

    channel = CHANNEL

    def __init__(
        self,
        secret: ShopifySecret,
        http: httpx.Client | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._post = AdminClient(secret, http, sleep=sleep).post

    def set_prices(self, items: Sequence[PriceUpdate]) -> list[PriceResult]:
        results: dict[int, PriceResult] = {}
        gids: dict[int, str] = {}
        for index, item in enumerate(items):
            try:
                gids[index] = to_gid("ProductVariant", item.listing.refs["variant_id"])
            except (KeyError, ValueError) as exc:
                message = f"listing has no usable Shopify variant id {item.listing.refs}: {exc}"
                results[index] = PriceResult(item.listing, PermanentError(message, channel=CHANNEL))
        nodes = self._read(list(dict.fromkeys(gids.values())))
        by_product: dict[str, list[int]] = {}
        for index, gid in gids.items():
            node = nodes.get(gid)
            item = items[index]
            if node is None:
                message = f"Shopify has no variant {gid}"
                results[index] = PriceResult(item.listing, PermanentError(message, channel=CHANNEL))
            elif (_money(node.get("price")), _money(node.get("compareAtPrice"))) == (
                item.price,
                item.compare_at,
            ):
                results[index] = PriceResult(item.listing)  # shows it already
            else:
                product = node.get("product") or {}
                by_product.setdefault(str(product.get("id")), []).append(index)
        for product, indexes in by_product.items():
            self._update(product, indexes, items, gids, results)
        return [results[index] for index in range(len(items))]

    def _read(self, gids: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(gids), READ_CHUNK):
            chunk = gids[start : start + READ_CHUNK]
            data = self._post(documents.VARIANT_PRICES_QUERY, {"ids": chunk})
            nodes = data.get("nodes") if isinstance(data, dict) else None
            if not isinstance(nodes, list) or len(nodes) != len(chunk):
                raise RetryableError(
                    "Shopify answered the variant read without nodes", channel=CHANNEL
                )
            for gid, node in zip(chunk, nodes, strict=True):
                if isinstance(node, dict) and node.get("id") == gid:
                    found[gid] = node
        return found

    def _update(
        self,
        product: str,
        indexes: list[int],
        items: Sequence[PriceUpdate],
        gids: dict[int, str],
        results: dict[int, PriceResult],
    ) -> None:
        for _ in range(2):  # a second call for the rows a refused row held back
            variants = [
                {
                    "id": gids[i],
                    "price": str(items[i].price),
                    "compareAtPrice": str(items[i].compare_at)
                    if items[i].compare_at is not None
                    else None,
                }
                for i in indexes
            ]
            data = self._post(
                documents.VARIANT_PRICES_MUTATION, {"productId": product, "variants": variants}
            )
            payload = data.get("productVariantsBulkUpdate") if isinstance(data, dict) else None
            if not isinstance(payload, dict):
                failure = RetryableError(
                    "Shopify answered without a mutation payload", channel=CHANNEL
                )
                for i in indexes:
                    results[i] = PriceResult(items[i].listing, failure)
                return
            errors = [e for e in payload.get("userErrors") or [] if isinstance(e, dict)]
            if not errors:
                for i in indexes:
                    results[i] = PriceResult(items[i].listing)
                return
            indexes = self._refused(errors, indexes, items, results)
            if not indexes:
                return
        for i in indexes:
            message = "Shopify kept refusing this product's call; try again"
            results[i] = PriceResult(items[i].listing, RetryableError(message, channel=CHANNEL))

    @staticmethod
    def _refused(
        errors: list[dict[str, Any]],
        indexes: list[int],
        items: Sequence[PriceUpdate],
        results: dict[int, PriceResult],
    ) -> list[int]:
        """Record each row a userError names; the rows left to send again (none when an error
        names no row: the whole call is then each row's failure)."""
        named: set[int] = set()
        for error in errors:
            where = error.get("field")
            position = (
                int(where[1])
                if isinstance(where, list) and len(where) > 1 and str(where[1]).isdigit()
                else None
            )
            detail = f"{error.get('code')}: {error.get('message')}"
            kind = PermanentError if error.get("code") in PERMANENT_CODES else RetryableError
            if position is None or position >= len(indexes):
                for i in indexes:
                    results[i] = PriceResult(items[i].listing, kind(detail, channel=CHANNEL))
                return []
            i = indexes[position]
            named.add(i)
            results[i] = PriceResult(items[i].listing, kind(detail, channel=CHANNEL))
        return [i for i in indexes if i not in named]


def prices(secret: ShopifySecret, http: httpx.Client) -> ShopifyPrices:
    """The registry's outbound price factory."""
    return ShopifyPrices(secret, http)
