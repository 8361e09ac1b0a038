"""The bol.com poll backstop (port.FetchesOrders): `GET /retailer/orders?fulfilment-method=FBR&
status=ALL&change-interval-minute=N` (N <= 60, bol's limit) paged until a page is empty; a
window longer than an hour (the first poll, an outage) asks per day with `latest-change-date`.
The list is reduced (no prices, no address): each order is read in full as ingest reads it
(`GET /retailer/orders/{id}`), oldest change first, so the watermark never passes an order not
taken. bol retries a push 10 times over ~10 minutes, then disables the subscription: this is
how an order whose push never arrived still lands."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx

from shared.channels.bol.client import CHANNEL, BolClient
from shared.channels.bol.orders import BolOrderReader
from shared.channels.bol.secret import BolSecret
from shared.channels.retry import with_retries
from shared.domain.orders import Order, normalize_account

MAX_INTERVAL_MINUTES = 60
MAX_PAGES = 100
MAX_DAYS = 90


class BolOrdersPoll:
    channel = CHANNEL

    def __init__(
        self,
        secret: BolSecret,
        http: httpx.Client,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.account = normalize_account(secret.retailer_id)
        self._reader = BolOrderReader(secret, http)
        self._client: BolClient = self._reader.client
        self._now = now
        self._sleep = sleep

    def fetch_orders(self, since: datetime) -> Iterator[Order]:
        changed: dict[str, datetime] = {}
        for params in self._windows(since):
            for reduced in self._pages(params):
                stamps = [
                    datetime.fromisoformat(str(i["latestChangedDateTime"]))
                    for i in reduced.get("orderItems", [])
                    if i.get("latestChangedDateTime")
                ] or [datetime.fromisoformat(str(reduced["orderPlacedDateTime"]))]
                order_id = str(reduced["orderId"])
                changed[order_id] = max([*stamps, changed.get(order_id, stamps[0])])
        for order_id in sorted(changed, key=lambda o: changed[o]):
            order = with_retries(partial(self._reader.fetch_order, order_id), sleep=self._sleep)
            if order is not None:
                yield order

    def _windows(self, since: datetime) -> list[dict[str, Any]]:
        base: dict[str, Any] = {"fulfilment-method": "FBR", "status": "ALL"}
        now = self._now()
        minutes = math.ceil((now - since).total_seconds() / 60)
        if minutes <= MAX_INTERVAL_MINUTES:
            return [{**base, "change-interval-minute": max(1, minutes)}]
        first = max(since.astimezone(UTC).date(), (now - timedelta(days=MAX_DAYS)).date())
        days = (now.astimezone(UTC).date() - first).days
        return [
            {**base, "latest-change-date": (first + timedelta(days=d)).isoformat()}
            for d in range(days + 1)
        ]

    def _pages(self, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        for page in range(1, MAX_PAGES + 1):
            response = with_retries(
                partial(
                    self._client.call,
                    "GET",
                    "/retailer/orders",
                    params={**params, "page": page},
                ),
                sleep=self._sleep,
            )
            orders = response.json().get("orders") or []
            if not orders:
                return
            yield from orders


def poll(secret: BolSecret, http: httpx.Client) -> BolOrdersPoll:
    """The registry's poll factory."""
    return BolOrdersPoll(secret, http)
