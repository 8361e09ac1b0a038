"""Amazon: the poll backstop (searchOrders from a watermark, page by page) and shipment
confirmation (v0 confirmShipment, idempotent on a retry); and every request body Keel sends,
captured on the wire, validated against Amazon's models."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from local_stack.sandboxes import amazon_models
from local_stack.sandboxes.amazon import AmazonSandbox
from local_stack.sandboxes.base import SandboxLine
from shared.channels.amazon import poll as poll_module
from shared.channels.amazon.client import SpApiClient
from shared.channels.amazon.poll import AmazonOrdersPoll
from shared.channels.amazon.secret import AmazonSecret
from shared.channels.amazon.shipments import AmazonShipments
from shared.channels.amazon.stock import FEED_THRESHOLD, AmazonStock
from shared.channels.errors import NothingToDo
from shared.channels.port import ShipmentConfirmation, StockUpdate
from shared.domain.listings import Listing
from tests.unit.amazon_support import BASE, connect, fresh_buckets, transport


def place(sandbox: AmazonSandbox, qty: int = 1, sku: str = "MUG") -> str:
    refs = sandbox.add_listing(sku, sku, Decimal("12.50"), 10)
    line = SandboxLine(refs, sku, sku, qty, Decimal("12.50"))
    return sandbox.place_order(sandbox.order_body([line]), notify=False)


def test_the_poll_reads_every_page_changed_since_the_watermark_oldest_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(poll_module, "PAGE_SIZE", 2)
    sandbox = AmazonSandbox()
    ids = [place(sandbox, sku=f"S{n}") for n in range(5)]
    sandbox._orders[ids[0]]["lastUpdatedTime"] = "2020-01-01T00:00:00Z"  # before the window
    api, _ = connect(sandbox)
    orders = list(AmazonOrdersPoll(api).fetch_orders(datetime.now(UTC) - timedelta(hours=1)))
    assert sorted(o.external_id for o in orders) == sorted(ids[1:])
    assert [o.channel_updated_at for o in orders] == sorted(o.channel_updated_at for o in orders)
    searches = [p for op, p, _ in sandbox.requests if op == "searchOrders"]
    assert len(searches) == 2  # two pages of two


def shipment(
    order_id: str, sandbox: AmazonSandbox, carrier: str = "PostNL"
) -> ShipmentConfirmation:
    items = sandbox.order(order_id)["orderItems"]
    return ShipmentConfirmation(
        carrier=carrier,
        tracking_number="3SKEEL000001",
        tracking_url=None,
        lines=tuple((i["orderItemId"], i["quantityOrdered"]) for i in items),
    )


def test_a_shipment_is_confirmed_once_and_a_retry_after_a_lost_answer_does_nothing() -> None:
    from shared.channels.amazon.orders import AmazonOrderReader

    sandbox = AmazonSandbox()
    order_id = place(sandbox, qty=2)
    api, _ = connect(sandbox)
    order = AmazonOrderReader(api).fetch_order(order_id)
    assert order is not None
    shipments = AmazonShipments(api)
    shipments.confirm_shipment(order, shipment(order_id, sandbox))
    assert sandbox.shipments() == [
        {"order_id": order_id, "tracking_number": "3SKEEL000001", "carrier": "PostNL"}
    ]
    assert sandbox.order(order_id)["fulfillment"]["fulfillmentStatus"] == "SHIPPED"
    with pytest.raises(NothingToDo):
        shipments.confirm_shipment(order, shipment(order_id, sandbox))
    assert len(sandbox.shipments()) == 1


def test_a_cancelled_order_is_not_confirmed() -> None:
    from shared.channels.amazon.orders import AmazonOrderReader

    sandbox = AmazonSandbox()
    order_id = place(sandbox)
    api, _ = connect(sandbox)
    order = AmazonOrderReader(api).fetch_order(order_id)
    assert order is not None
    sandbox.cancel(order_id, notify=False)
    with pytest.raises(NothingToDo, match="CANCELLED"):
        AmazonShipments(api).confirm_shipment(order, shipment(order_id, sandbox))
    assert sandbox.shipments() == []


MODELS = {
    "patchListingsItem": ("listingsItems_2021-08-01", "ListingsItemPatchRequest"),
    "createFeedDocument": ("feeds_2021-06-30", "CreateFeedDocumentSpecification"),
    "createFeed": ("feeds_2021-06-30", "CreateFeedSpecification"),
    "confirmShipment": ("ordersV0", "ConfirmShipmentRequest"),
    "feedDocument": ("schemas/feeds/listings-feed-schema-v2.json", None),
}


def _operation(request: httpx.Request) -> str | None:
    path, method = request.url.path, request.method
    if method == "PATCH" and path.startswith("/listings/"):
        return "patchListingsItem"
    if method == "POST" and path.endswith("/documents"):
        return "createFeedDocument"
    if method == "POST" and path.endswith("/feeds"):
        return "createFeed"
    if method == "POST" and path.endswith("/shipmentConfirmation"):
        return "confirmShipment"
    if method == "PUT" and path.startswith("/__uploads/"):
        return "feedDocument"
    return None


def test_every_request_body_keel_sends_validates_against_amazons_models() -> None:
    """Captured on the wire from the adapters (not rebuilt by the test), checked against the
    models and schemas in ../shared/specs/amazon-sp-api."""
    from shared.channels.amazon.orders import AmazonOrderReader

    sandbox = AmazonSandbox(apply_delay_s=0)
    sent: list[tuple[str, Any]] = []
    inner = transport(sandbox)

    def spy(request: httpx.Request) -> httpx.Response:
        operation = _operation(request)
        if operation is not None:
            sent.append((operation, json.loads(request.content)))
        return inner.handle_request(request)

    secret = AmazonSecret.model_validate(sandbox.keel_secret(BASE))
    http = httpx.Client(transport=httpx.MockTransport(spy))
    api = SpApiClient(secret, http, buckets=fresh_buckets())
    listings = [
        Listing(f"S{n}", "amazon", sandbox.add_listing(f"S{n}", "t", Decimal(1), 5))
        for n in range(FEED_THRESHOLD + 1)
    ]
    stock = AmazonStock(api, http)
    stock.set_stock([StockUpdate(listings[0], 1)])  # a patch
    stock.set_stock([StockUpdate(listing, 2) for listing in listings])  # a feed
    order_id = place(sandbox)
    order = AmazonOrderReader(api).fetch_order(order_id)
    assert order is not None
    AmazonShipments(api).confirm_shipment(order, shipment(order_id, sandbox, carrier="DHL"))
    assert {op for op, _ in sent} == set(MODELS)
    for operation, body in sent:
        model, definition = MODELS[operation]
        assert amazon_models.errors(body, model, definition) == [], operation
