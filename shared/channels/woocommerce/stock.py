"""Publish stock to WooCommerce with REST v3 batch updates (<= 100 items a request).

Simple products go to `products/batch`; variations to `products/{parent}/variations/batch`.
A 200 can still carry per-item errors: each item gets its own result.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import httpx

from shared.channels.errors import ChannelError, PermanentError, RetryableError, classify_status
from shared.channels.http import request, retry_after_s
from shared.channels.port import StockResult, StockUpdate
from shared.channels.woocommerce import CHANNEL as SPEC
from shared.channels.woocommerce.secret import WooSecret
from shared.domain.listings import Listing

CHANNEL = "woocommerce"
BATCH_LIMIT = SPEC.sync.rows_per_call  # 100, declared on the channel's SyncPolicy
API_PREFIX = "/wp-json/wc/v3"


def batch_path(listing: Listing) -> str:
    """Where a listing's batch update goes: its parent's variations, or the products."""
    refs = listing.refs
    if refs.get("variation_id"):
        return f"{API_PREFIX}/products/{int(refs['product_id'])}/variations/batch"
    return f"{API_PREFIX}/products/batch"


def item_id(listing: Listing) -> int:
    refs = listing.refs
    return int(refs.get("variation_id") or refs["product_id"])


class WooStockPublisher:
    """Outbound stock half of the WooCommerce adapter."""

    channel = CHANNEL

    def __init__(self, credentials: WooSecret, http: httpx.Client | None = None) -> None:
        self._base = credentials.base_url
        self._http = http or httpx.Client(timeout=httpx.Timeout(10.0, connect=3.0))
        self._auth = httpx.BasicAuth(credentials.consumer_key, credentials.consumer_secret)

    def set_stock(self, items: Sequence[StockUpdate]) -> list[StockResult]:
        by_path: dict[str, list[StockUpdate]] = defaultdict(list)
        results: dict[int, StockResult] = {}
        for item in items:
            try:
                item_id(item.listing)
                by_path[batch_path(item.listing)].append(item)
            except (KeyError, ValueError) as exc:  # a listing without usable Woo ids
                message = f"listing has no usable WooCommerce ids {item.listing.refs}: {exc!r}"
                results[id(item)] = StockResult(
                    item.listing, PermanentError(message, channel=CHANNEL)
                )
        for path, group in by_path.items():
            for start in range(0, len(group), BATCH_LIMIT):
                chunk = group[start : start + BATCH_LIMIT]
                for item, result in zip(chunk, self._post_batch(path, chunk), strict=True):
                    results[id(item)] = result
        return [results[id(item)] for item in items]

    def _post_batch(self, path: str, chunk: Sequence[StockUpdate]) -> list[StockResult]:
        body = {
            "update": [
                {"id": item_id(u.listing), "manage_stock": True, "stock_quantity": u.quantity}
                for u in chunk
            ]
        }
        try:
            response = request(
                self._http, "POST", self._base + path, channel=CHANNEL, json=body, auth=self._auth
            )
        except ChannelError as failure:  # the call was never answered
            return [StockResult(u.listing, failure) for u in chunk]
        error_class = classify_status(response.status_code)
        if error_class is not None:
            http_failure = http_error(error_class, response)
            return [StockResult(u.listing, http_failure) for u in chunk]
        return _per_item(chunk, response)


def http_error(error_class: type[ChannelError], response: httpx.Response) -> ChannelError:
    """A failed answer as the ChannelError its status means (Retry-After kept): for every call."""
    detail = _error_detail(response)
    message = f"HTTP {response.status_code} from WooCommerce: {detail}"
    if error_class is RetryableError:
        return RetryableError(
            message,
            channel=CHANNEL,
            status=response.status_code,
            retry_after_s=retry_after_s(response.headers.get("retry-after")),
        )
    return error_class(message, channel=CHANNEL, status=response.status_code)


def _error_detail(response: httpx.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(payload, dict) and "code" in payload:
        return f"{payload.get('code')}: {payload.get('message')}"
    return str(payload)[:200]


def _per_item(chunk: Sequence[StockUpdate], response: httpx.Response) -> list[StockResult]:
    errors = item_errors([item_id(u.listing) for u in chunk], response)
    return [StockResult(u.listing, e) for u, e in zip(chunk, errors, strict=True)]


def item_errors(ids: Sequence[int], response: httpx.Response) -> list[ChannelError | None]:
    """Each batch item's failure (None: updated), from a 200 answer that may carry per-item
    errors: every batch call (stock, prices) reads its answer so."""
    try:
        answered = response.json().get("update", [])
    except (ValueError, AttributeError):
        failure = RetryableError("WooCommerce answered 200 without a batch body", channel=CHANNEL)
        return [failure for _ in ids]
    by_id = {int(a["id"]): a for a in answered if isinstance(a, dict) and "id" in a}
    errors: list[ChannelError | None] = []
    for item_id in ids:
        answer = by_id.get(item_id)
        if answer is None:
            message = "WooCommerce returned no result for this item"
            errors.append(RetryableError(message, channel=CHANNEL))
        elif "error" in answer:
            err = answer["error"] or {}
            status = int((err.get("data") or {}).get("status", 400))
            error_class = classify_status(status) or PermanentError
            message = f"{err.get('code')}: {err.get('message')}"
            errors.append(error_class(message, channel=CHANNEL, status=status))
        else:
            errors.append(None)
    return errors


def publisher(secret: WooSecret, http: httpx.Client) -> WooStockPublisher:
    """The registry's outbound factory."""
    return WooStockPublisher(secret, http)
