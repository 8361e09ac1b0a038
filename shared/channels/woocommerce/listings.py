"""Read a WooCommerce store's listings: REST v3 `GET /products` pages, and each variable
product's `GET /products/{id}/variations` pages (100 a page, the API's largest).

A listing is a simple product or a variation (a variable parent is not sold itself). The GTIN
is core's `global_unique_id` (WooCommerce 9.2+). Reads are live, so every row is confirmed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import Any

import httpx

from shared.channels import shown
from shared.channels.errors import RetryableError, classify_status
from shared.channels.http import request
from shared.channels.retry import with_retries
from shared.channels.woocommerce.secret import WooSecret
from shared.channels.woocommerce.stock import API_PREFIX, CHANNEL, http_error
from shared.domain.gtin import gtin_or_none
from shared.domain.matching import ChannelListing
from shared.domain.orders import normalize_account

PER_PAGE = 100
MAX_PAGES = 1000  # 100,000 products: a bound, not a goal


class WooListings:
    channel = CHANNEL

    def __init__(
        self, secret: WooSecret, http: httpx.Client, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._base = secret.base_url
        self._http = http
        self._auth = httpx.BasicAuth(secret.consumer_key, secret.consumer_secret)
        self._sleep = sleep
        self.account = normalize_account(secret.base_url)

    def read_listings(self, marketplace: str = "") -> Iterator[ChannelListing]:
        for product in self._pages("/products"):
            if product.get("type") == "variable":
                parent = int(product["id"])
                for variation in self._pages(f"/products/{parent}/variations"):
                    yield _listing(variation, parent, str(product.get("name") or ""))
            elif product.get("type") != "grouped":  # a grouped product sells its children
                yield _listing(product, None, "")

    def read_listing(self, refs: Mapping[str, str], marketplace: str = "") -> ChannelListing | None:
        if refs.get("variation_id"):
            path = f"/products/{int(refs['product_id'])}/variations/{int(refs['variation_id'])}"
            parent: int | None = int(refs["product_id"])
        else:
            path, parent = f"/products/{int(refs['product_id'])}", None
        response = self._get(path, {})
        if response.status_code == 404:
            return None
        return _listing(response.json(), parent, "")

    def _pages(self, path: str) -> Iterator[dict[str, Any]]:
        for page in range(1, MAX_PAGES + 1):
            params = {"per_page": PER_PAGE, "page": page, "orderby": "id", "order": "asc"}
            response = with_retries(partial(self._get, path, params), sleep=self._sleep)
            rows = response.json()
            if not isinstance(rows, list):
                raise RetryableError("WooCommerce answered without a list", channel=CHANNEL)
            yield from rows
            if page >= int(response.headers.get("x-wp-totalpages", "1") or 1):
                return

    def _get(self, path: str, params: dict[str, Any]) -> httpx.Response:
        url = f"{self._base}{API_PREFIX}{path}"
        response = request(self._http, "GET", url, channel=CHANNEL, params=params, auth=self._auth)
        error_class = classify_status(response.status_code)
        if error_class is not None and response.status_code != 404:
            raise http_error(error_class, response)
        return response


def _listing(item: dict[str, Any], parent: int | None, parent_name: str) -> ChannelListing:
    item_id = str(item["id"])
    sku = str(item.get("sku") or "") or None
    refs = {"product_id": str(parent or item_id)}
    if parent:
        refs["variation_id"] = item_id
    refs = {**refs, "item_id": item_id, **({"sku": sku} if sku else {})}
    quantity = item.get("stock_quantity") if item.get("manage_stock") else None
    return ChannelListing(
        listing_id=item_id,
        refs=refs,
        sku=sku,
        gtin=gtin_or_none(str(item.get("global_unique_id") or "")),
        product_id=str(parent) if parent else item_id,
        quantity=int(quantity) if quantity is not None else None,
        price=shown.amount(item.get("price")),
        status=str(item.get("status") or "publish"),
        title=str(item.get("name") or parent_name),
    )


def listings(secret: WooSecret, http: httpx.Client) -> WooListings:
    """The registry's listing reader factory."""
    return WooListings(secret, http)
