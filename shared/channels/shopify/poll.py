"""The Shopify poll backstop: orders changed since a moment, through Admin GraphQL
`orders(sortKey: UPDATED_AT, query: "updated_at:>='…'")`, oldest change first, by cursor.

Shopify retries a failed webhook for 4 hours and then gives up (and removes a subscription
that keeps failing): this is how such an order still lands. Each node becomes the order the
webhook parser would have made of the same order (orders_graphql.py). Every call goes through
the one Admin client (cost pacing, THROTTLED and HTTP errors classified) and is retried within
the run when the failure passes (429, 5xx, THROTTLED).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from shared.channels.errors import RetryableError
from shared.channels.retry import with_retries
from shared.channels.shopify import graphql as documents
from shared.channels.shopify.admin import AdminClient
from shared.channels.shopify.orders_graphql import (
    LineItem,
    LineItems,
    OrderNode,
    Refund,
    to_polled_order,
)
from shared.channels.shopify.secret import ShopifySecret
from shared.domain.orders import Order, normalize_account

CHANNEL = "shopify"
# Requested cost of a page ~ 2 + PAGE x (30 + 5 x LINES_PER_ORDER) points: under the
# 1000-point single-query limit, and most orders have fewer lines than that.
PAGE = 10
LINES_PER_ORDER = 10
MORE_LINES = 100  # the rest of a long order's lines, a read at a time
REFUNDS, REFUND_LINES, REFUND_TRANSACTIONS = 15, 15, 3  # one read: ~660 points
# The poll function has 300 s; stop reading pages in time for the watermark to be saved (an
# unfinished run continues from there next time instead of being killed part-way, forever).
RUN_BUDGET_S = 200.0

M = TypeVar("M", bound=BaseModel)


class Unreadable(Exception):
    """An order Keel cannot read whole: the poll stops before it (nothing skipped)."""


class ShopifyOrdersPoll:
    channel = CHANNEL

    def __init__(
        self,
        secret: ShopifySecret,
        http: httpx.Client | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        budget_s: float = RUN_BUDGET_S,
    ) -> None:
        self.account = normalize_account(secret.shop_domain)
        self._client = AdminClient(secret, http, sleep=sleep)
        self._sleep = sleep
        self._clock = clock
        self._budget_s = budget_s

    def fetch_orders(self, since: datetime) -> Iterator[Order]:
        # Shopify's search compares whole seconds: round down, never past an order.
        moment = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        variables: dict[str, Any] = {
            "first": PAGE,
            "after": None,
            "query": f"updated_at:>='{moment}'",
            "lines": LINES_PER_ORDER,
        }
        deadline = self._clock() + self._budget_s
        while True:
            orders = self._read(documents.ORDERS_QUERY, variables, "orders")
            for raw in _listed(orders.get("nodes")):
                node = _parse(OrderNode, raw)
                order = self._complete(node)
                if order is None:
                    return  # it changed while being read: the next run takes it whole
                yield order
            page = orders.get("pageInfo") or {}
            if not page.get("hasNextPage") or self._clock() >= deadline:
                return
            variables = {**variables, "after": page.get("endCursor")}

    def _complete(self, node: OrderNode) -> Order | None:
        """The order with every line and refund; None when it changed between the reads."""
        lines: list[LineItem] = list(node.line_items.nodes)
        page = node.line_items.page_info
        while page.has_next_page:
            more = self._read_order(
                documents.ORDER_LINES_QUERY,
                {"id": node.id, "first": MORE_LINES, "after": page.end_cursor},
                node,
            )
            if more is None:
                return None
            got = _parse(LineItems, more.get("lineItems"), node)
            lines.extend(got.nodes)
            page = got.page_info
        refunds: list[Refund] = []
        if node.refunds:
            found = self._read_order(
                documents.ORDER_REFUNDS_QUERY,
                {
                    "id": node.id,
                    "refunds": REFUNDS,
                    "lines": REFUND_LINES,
                    "transactions": REFUND_TRANSACTIONS,
                },
                node,
            )
            if found is None:
                return None
            refunds = [_parse(Refund, r, node) for r in _listed(found.get("refunds"))]
            if len(refunds) >= REFUNDS or not all(r.complete for r in refunds):
                raise Unreadable(
                    f"order {node.legacy_resource_id}: more refunds, or refund lines, than "
                    f"one read takes ({REFUNDS} refunds of {REFUND_LINES} lines)"
                )
        try:
            return to_polled_order(node, lines, refunds, self.account)
        except ValidationError as exc:
            raise Unreadable(f"order {node.legacy_resource_id}: {exc}") from exc

    def _read_order(
        self, query: str, variables: dict[str, Any], node: OrderNode
    ) -> dict[str, Any] | None:
        order = self._read(query, variables, "order")
        if order.get("updatedAt") != node.updated_at:
            return None
        return order

    def _read(self, query: str, variables: dict[str, Any], field: str) -> dict[str, Any]:
        """`data[field]`; a call that fails for a passing reason is tried again (backoff,
        never sooner than Shopify's Retry-After or the bucket's refill)."""
        data = with_retries(partial(self._client.post, query, variables), sleep=self._sleep)
        found = data.get(field) if isinstance(data, dict) else None
        if not isinstance(found, dict):
            raise RetryableError(f"Shopify answered without {field!r}", channel=CHANNEL)
        return found


def _listed(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise RetryableError("Shopify answered without a list of nodes", channel=CHANNEL)
    return value


def _parse(model: type[M], raw: Any, node: OrderNode | None = None) -> M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        which = node.legacy_resource_id if node else _id_of(raw)
        raise Unreadable(f"order {which}: {exc}") from exc


def _id_of(raw: Any) -> str:
    if not isinstance(raw, dict):
        return "?"
    return str(raw.get("legacyResourceId") or raw.get("id") or "?")


def poll(secret: ShopifySecret, http: httpx.Client) -> ShopifyOrdersPoll:
    """The registry's poll factory."""
    return ShopifyOrdersPoll(secret, http)
