"""The WooCommerce poll backstop: orders changed since a moment, through REST v3
`GET /orders?modified_after=…&dates_are_gmt=true`, oldest change first, page by page.

WooCommerce never retries a failed webhook delivery, so this is how an order whose webhook was
lost still lands. Each order is parsed exactly as a webhook body is (same model, same checks).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial

import httpx
from pydantic import ValidationError

from shared.channels.errors import RetryableError, classify_status
from shared.channels.http import request
from shared.channels.retry import with_retries
from shared.channels.woocommerce.orders import WooOrder, to_order
from shared.channels.woocommerce.secret import WooSecret
from shared.channels.woocommerce.stock import API_PREFIX, CHANNEL, http_error
from shared.domain.orders import Order, normalize_account
from shared.validation import describe

PER_PAGE = 100  # REST v3's largest page
MAX_PAGES = 200  # 20,000 changed orders per poll: a bound, not a goal


class Unreadable(Exception):
    """An order in a page that does not parse: the poll stops before it (nothing skipped)."""


class WooOrdersPoll:
    channel = CHANNEL

    def __init__(
        self,
        secret: WooSecret,
        http: httpx.Client,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._sleep = sleep
        self._base = secret.base_url
        self.account = normalize_account(secret.base_url)
        self._http = http
        self._auth = httpx.BasicAuth(secret.consumer_key, secret.consumer_secret)

    def fetch_orders(self, since: datetime) -> Iterator[Order]:
        after = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        for page in range(1, MAX_PAGES + 1):
            params: dict[str, str | int] = {
                "modified_after": after,
                "dates_are_gmt": "true",
                "orderby": "modified",
                "order": "asc",
                "per_page": PER_PAGE,
                "page": page,
            }
            response = with_retries(partial(self._page, params), sleep=self._sleep)
            orders = response.json()
            if not isinstance(orders, list):
                raise RetryableError("WooCommerce answered without a list", channel=CHANNEL)
            for raw in orders:
                try:
                    yield to_order(WooOrder.model_validate(raw), self.account)
                except ValidationError as exc:
                    # Logged with its traceback: where and why, not the values (customer data),
                    # and not chained (the ValidationError's text would print its inputs).
                    raise Unreadable(f"order {raw.get('id', '?')}: {describe(exc)}") from None
            if page >= int(response.headers.get("x-wp-totalpages", "1") or 1):
                return

    def _page(self, params: dict[str, str | int]) -> httpx.Response:
        response = request(
            self._http,
            "GET",
            f"{self._base}{API_PREFIX}/orders",
            channel=CHANNEL,
            params=params,
            auth=self._auth,
        )
        error_class = classify_status(response.status_code)
        if error_class is not None:
            raise http_error(error_class, response)
        return response


class WooOrderReader:
    """`GET /orders/{id}` -> the canonical order (port.FetchesOrder): an `order.deleted`
    names the order without carrying it. A trashed order answers with status `trash`."""

    channel = CHANNEL

    def __init__(self, secret: WooSecret, http: httpx.Client) -> None:
        self._base = secret.base_url
        self.account = normalize_account(secret.base_url)
        self._http = http
        self._auth = httpx.BasicAuth(secret.consumer_key, secret.consumer_secret)

    def fetch_order(self, order_id: str) -> Order | None:
        url = f"{self._base}{API_PREFIX}/orders/{order_id}"
        response = request(self._http, "GET", url, channel=CHANNEL, auth=self._auth)
        if response.status_code == 404:
            return None
        error_class = classify_status(response.status_code)
        if error_class is not None:
            raise http_error(error_class, response)
        return to_order(WooOrder.model_validate_json(response.content), self.account)


def fetch_order(secret: WooSecret, http: httpx.Client) -> WooOrderReader:
    """The registry's order reader factory."""
    return WooOrderReader(secret, http)


def poll(secret: WooSecret, http: httpx.Client) -> WooOrdersPoll:
    """The registry's poll factory."""
    return WooOrdersPoll(secret, http)
