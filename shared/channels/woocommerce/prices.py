"""Prices out to WooCommerce: REST v3 batch updates (<= 100 items a request) of
`regular_price` and `sale_price`, both strings; `sale_price` "" ends a sale. Keel starts and ends
sales itself (WooCommerce's scheduled sales run on a daily cron, up to a day late), so no
`date_on_sale_*` is sent. Simple products go to `products/batch`, variations to their parent's
`variations/batch`, as stock does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import httpx

from shared.channels.errors import ChannelError, PermanentError, classify_status
from shared.channels.http import request
from shared.channels.port import PriceResult, PriceUpdate
from shared.channels.woocommerce.secret import WooSecret
from shared.channels.woocommerce.stock import (
    BATCH_LIMIT,
    CHANNEL,
    batch_path,
    http_error,
    item_errors,
    item_id,
)


def price_fields(update: PriceUpdate) -> dict[str, str]:
    """During a sale the regular price is the one struck through (compare_at)."""
    if update.compare_at is not None and update.compare_at > update.price:
        return {"regular_price": str(update.compare_at), "sale_price": str(update.price)}
    return {"regular_price": str(update.price), "sale_price": ""}


class WooPrices:
    """Outbound price half of the WooCommerce adapter."""

    channel = CHANNEL

    def __init__(self, credentials: WooSecret, http: httpx.Client | None = None) -> None:
        self._base = credentials.base_url
        self._http = http or httpx.Client(timeout=httpx.Timeout(10.0, connect=3.0))
        self._auth = httpx.BasicAuth(credentials.consumer_key, credentials.consumer_secret)

    def set_prices(self, items: Sequence[PriceUpdate]) -> list[PriceResult]:
        by_path: dict[str, list[int]] = defaultdict(list)
        results: dict[int, PriceResult] = {}
        for index, item in enumerate(items):
            try:
                item_id(item.listing)
                by_path[batch_path(item.listing)].append(index)
            except (KeyError, ValueError) as exc:
                message = f"listing has no usable WooCommerce ids {item.listing.refs}: {exc!r}"
                results[index] = PriceResult(item.listing, PermanentError(message, channel=CHANNEL))
        for path, indexes in by_path.items():
            for start in range(0, len(indexes), BATCH_LIMIT):
                chunk = indexes[start : start + BATCH_LIMIT]
                errors = self._post_batch(path, [items[i] for i in chunk])
                for i, error in zip(chunk, errors, strict=True):
                    results[i] = PriceResult(items[i].listing, error)
        return [results[index] for index in range(len(items))]

    def _post_batch(self, path: str, chunk: Sequence[PriceUpdate]) -> list[ChannelError | None]:
        body = {"update": [{"id": item_id(u.listing), **price_fields(u)} for u in chunk]}
        try:
            response = request(
                self._http, "POST", self._base + path, channel=CHANNEL, json=body, auth=self._auth
            )
        except ChannelError as failure:
            return [failure for _ in chunk]
        error_class = classify_status(response.status_code)
        if error_class is not None:
            refused = http_error(error_class, response)
            return [refused for _ in chunk]
        return item_errors([item_id(u.listing) for u in chunk], response)


def prices(secret: WooSecret, http: httpx.Client) -> WooPrices:
    """The registry's outbound price factory."""
    return WooPrices(secret, http)
