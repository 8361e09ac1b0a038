"""Tell Shopify an order shipped: read the order's fulfillment orders, then `fulfillmentCreate`
for the lines that left, with the carrier's tracking (the buyer is notified). Nothing left open
to fulfil means it was told before (a retry after a lost answer): NothingToDo."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from shared.channels.errors import NothingToDo, PermanentError
from shared.channels.port import ShipmentConfirmation
from shared.channels.shopify import graphql as documents
from shared.channels.shopify.admin import AdminClient
from shared.channels.shopify.secret import ShopifySecret
from shared.channels.shopify.stock import to_gid
from shared.domain.orders import Order

CHANNEL = "shopify"
FULFILLABLE = frozenset({"OPEN", "IN_PROGRESS"})


class ShopifyFulfillment:
    channel = CHANNEL

    def __init__(
        self,
        secret: ShopifySecret,
        http: httpx.Client | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._post = AdminClient(secret, http, sleep=sleep).post

    def confirm_shipment(self, order: Order, shipment: ShipmentConfirmation) -> None:
        data = self._post(
            documents.FULFILLMENT_ORDERS_QUERY, {"id": to_gid("Order", order.external_id)}
        )
        found = (data or {}).get("order")
        if found is None:
            raise PermanentError(f"Shopify has no order {order.external_id}", channel=CHANNEL)
        wanted = {to_gid("LineItem", line_id): qty for line_id, qty in shipment.lines}
        by_order = []
        for fo in found["fulfillmentOrders"]["nodes"]:
            if fo["status"] not in FULFILLABLE:
                continue
            items = [
                {
                    "id": li["id"],
                    "quantity": min(li["remainingQuantity"], wanted[li["lineItem"]["id"]]),
                }
                for li in fo["lineItems"]["nodes"]
                if li["remainingQuantity"] > 0 and wanted.get(li["lineItem"]["id"], 0) > 0
            ]
            if items:
                by_order.append(
                    {"fulfillmentOrderId": fo["id"], "fulfillmentOrderLineItems": items}
                )
        if not by_order:
            raise NothingToDo(f"order {order.external_id}: nothing open to fulfil", channel=CHANNEL)
        result = self._post(
            documents.FULFILLMENT_CREATE_MUTATION,
            {
                "fulfillment": {
                    "lineItemsByFulfillmentOrder": by_order,
                    "notifyCustomer": True,
                    "trackingInfo": _tracking(shipment),
                }
            },
        )
        errors = ((result or {}).get("fulfillmentCreate") or {}).get("userErrors") or []
        if errors:
            detail = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors)
            raise PermanentError(f"fulfillmentCreate refused: {detail}", channel=CHANNEL)


def _tracking(shipment: ShipmentConfirmation) -> dict[str, Any]:
    info: dict[str, Any] = {"company": shipment.carrier, "number": shipment.tracking_number}
    if shipment.tracking_url:
        info["url"] = shipment.tracking_url
    return info


def fulfillment(secret: ShopifySecret, http: httpx.Client) -> ShopifyFulfillment:
    """The registry's confirm_shipment factory."""
    return ShopifyFulfillment(secret, http)
