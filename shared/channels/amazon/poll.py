"""The poll backstop: Orders API 2026-01-01 `searchOrders` with `lastUpdatedAfter` (the
watermark minus the overlap) for the account's marketplace, merchant-fulfilled orders only,
`paginationToken` page by page. ORDER_CHANGE does not announce every new order and carries no
prices, so this is how such an order still lands.

searchOrders allows about one call every three minutes (burst 20): a poll reads at most
MAX_PAGES pages; when Keel's bucket for it is spent the run fails retryable and the next
schedule goes on from the watermark. Pages are read whole before any order is taken, then
yielded oldest change first, so the watermark never passes an order not yet taken.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx

from shared.channels.amazon.client import CHANNEL, SpApiClient
from shared.channels.amazon.orders import INCLUDED_DATA, ORDERS, parse_order
from shared.channels.amazon.secret import AmazonSecret
from shared.channels.errors import RetryableError
from shared.domain.orders import Order, normalize_account

PAGE_SIZE = 100
MAX_PAGES = 20  # searchOrders' burst: a poll never waits minutes for a token


class AmazonOrdersPoll:
    channel = CHANNEL

    def __init__(self, api: SpApiClient) -> None:
        self._api = api
        self.account = normalize_account(api.secret.seller_id)

    def fetch_orders(self, since: datetime) -> Iterator[Order]:
        found: list[dict[str, Any]] = []
        token: str | None = None
        secret = self._api.secret
        markets = ",".join(dict.fromkeys((secret.marketplace_id, *secret.marketplace_ids)))
        for _ in range(MAX_PAGES):
            params: dict[str, Any] = {
                "marketplaceIds": markets,
                "lastUpdatedAfter": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "fulfilledBy": "MERCHANT",
                "maxResultsPerPage": PAGE_SIZE,
                "includedData": ",".join(INCLUDED_DATA),
            }
            if token:
                params["paginationToken"] = token
            page = self._api.call("searchOrders", "GET", ORDERS, params=params).json()
            found.extend(page.get("orders", []))
            token = (page.get("pagination") or {}).get("nextToken")
            if not token:
                break
        else:
            raise RetryableError(
                f"more than {MAX_PAGES} pages of changed orders: read again from the watermark",
                channel=CHANNEL,
            )
        currency = self._api.secret.currency
        orders = [parse_order(raw, self.account, currency) for raw in found]
        yield from sorted(orders, key=lambda o: o.channel_updated_at)


def poll(secret: AmazonSecret, http: httpx.Client) -> AmazonOrdersPoll:
    """The registry's poll factory."""
    return AmazonOrdersPoll(SpApiClient(secret, http))
