"""Deliveries that name an order instead of carrying it (bol.com's push, Amazon's
ORDER_CHANGE): ingest fetches the order through the channel's FetchesOrder, then takes it
through the one upsert. A fake thin channel stands in for them: Shopify's parser behind a
notice."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from functions.ingest.handler import handler as ingest
from shared.channels import registry
from shared.channels.errors import PermanentError, RetryableError
from shared.channels.port import OrderNotice
from shared.channels.shopify.orders import ShopifyOrdersInbound
from shared.domain.orders import Order
from shared.runtime import reset as reset_runtime
from shared.stores.catalog import CatalogStore
from shared.stores.inventory import InventoryStore
from shared.stores.orders import OrderStore
from tests.integration.conftest import context, sqs_event
from tests.integration.test_handlers import an_order_body, envelope, seed

# What the fake channel "serves" when asked for an order: set per test.
CHANNEL_ORDERS: dict[str, bytes | Exception | None] = {}


class NoticeParser:
    channel = "shopify"

    def parse_webhook(
        self, headers: Mapping[str, str], raw_body: bytes, account: str
    ) -> OrderNotice | None:
        body = json.loads(raw_body)
        return OrderNotice(str(body["order_id"])) if "order_id" in body else None


class FakeFetcher:
    channel = "shopify"

    def __init__(self, secret: Any, http: Any) -> None:
        self.account = secret.shop_domain

    def fetch_order(self, order_id: str) -> Order | None:
        served = CHANNEL_ORDERS[order_id]
        if isinstance(served, Exception):
            raise served
        if served is None:
            return None
        headers = {"x-shopify-topic": "orders/create"}
        parsed = ShopifyOrdersInbound().parse_webhook(headers, served, self.account)
        assert isinstance(parsed, Order)
        return parsed


@pytest.fixture(autouse=True)
def thin_shopify(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    thin = dataclasses.replace(
        registry.BY_NAME["shopify"],
        fetch_order=f"{__name__}:FakeFetcher",
        inbound=f"{__name__}:NoticeParser",
    )
    monkeypatch.setitem(registry.BY_NAME, "shopify", thin)
    reset_runtime()  # channel adapters are built from the registry as it is now
    CHANNEL_ORDERS.clear()
    yield
    reset_runtime()


def notice(order_id: str, delivery_id: str) -> str:
    return envelope(json.dumps({"order_id": order_id}).encode(), delivery_id)


def test_a_notice_is_fetched_and_taken_like_a_full_delivery(
    catalog: CatalogStore, inventory: InventoryStore, orders: OrderStore
) -> None:
    seed(catalog, inventory)
    CHANNEL_ORDERS["820982911946154508"] = an_order_body(2)
    result = ingest(sqs_event(notice("820982911946154508", "n1")), context("ingest"))
    assert result == {"batchItemFailures": []}
    (order,) = orders.orders()
    assert order.status.value == "reserved" and order.lines[0].sku == "MUG"
    assert inventory.get("MUG").reserved == 2  # type: ignore[union-attr]
    # The same notice again (at least once delivery): fetched again, reserved once.
    ingest(sqs_event(notice("820982911946154508", "n2")), context("ingest"))
    assert inventory.get("MUG").reserved == 2  # type: ignore[union-attr]


def test_a_channel_outage_brings_the_notice_back_and_stores_nothing(
    catalog: CatalogStore, inventory: InventoryStore, orders: OrderStore
) -> None:
    seed(catalog, inventory)
    CHANNEL_ORDERS["7"] = RetryableError("503", channel="shopify", status=503)
    result = ingest(sqs_event(notice("7", "n1")), context("ingest"))
    assert result == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert orders.orders() == [] and orders.held_deliveries() == []


def test_an_order_the_channel_refuses_or_does_not_know_is_held_with_the_reason(
    catalog: CatalogStore, inventory: InventoryStore, orders: OrderStore
) -> None:
    seed(catalog, inventory)
    CHANNEL_ORDERS["8"] = PermanentError("404 order not found", channel="shopify", status=404)
    CHANNEL_ORDERS["9"] = None
    result = ingest(sqs_event(notice("8", "n1"), notice("9", "n2")), context("ingest"))
    assert result == {"batchItemFailures": []}
    reasons = sorted(h.reason for h in orders.held_deliveries())
    assert reasons == [
        "order 8 unreadable: 404 order not found",
        "shopify does not know order 9",
    ]
    assert orders.orders() == []
