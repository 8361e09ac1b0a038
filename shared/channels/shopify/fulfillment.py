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
# Nothing more will be fulfilled on these: told before (CLOSED) or ended by the shop (CANCELLED;
# Keel skips ended orders too, and the cancellation reaches it by webhook or poll).
DONE = frozenset({"CLOSED", "CANCELLED"})


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
        wanted = {to_gid("LineItem", line_id): qty for line_id, qty in shipment.lines}
        by_order = self._open(order, wanted)
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
            # A retry that overlapped a slow first attempt finds its lines fulfilled meanwhile:
            # that is the first attempt's success, not a refusal.
            if not self._open(order, wanted):
                raise NothingToDo(
                    f"order {order.external_id}: fulfilled meanwhile", channel=CHANNEL
                )
            detail = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors)
            raise PermanentError(f"fulfillmentCreate refused: {detail}", channel=CHANNEL)

    def _open(self, order: Order, wanted: dict[str, int]) -> list[dict[str, Any]]:
        """What is still open to fulfil of the wanted lines, by fulfillment order. A wanted line
        on hold or scheduled in Shopify is a PermanentError: only the merchant can release it,
        and calling that "already fulfilled" would tell Keel the buyer was told."""
        data = self._post(
            documents.FULFILLMENT_ORDERS_QUERY, {"id": to_gid("Order", order.external_id)}
        )
        found = (data or {}).get("order")
        if found is None:
            raise PermanentError(f"Shopify has no order {order.external_id}", channel=CHANNEL)
        by_order: list[dict[str, Any]] = []
        blocked: list[str] = []
        for fo in found["fulfillmentOrders"]["nodes"]:
            items = [
                {
                    "id": li["id"],
                    "quantity": min(li["remainingQuantity"], wanted[li["lineItem"]["id"]]),
                }
                for li in fo["lineItems"]["nodes"]
                if li["remainingQuantity"] > 0 and wanted.get(li["lineItem"]["id"], 0) > 0
            ]
            if not items or fo["status"] in DONE:
                continue
            if fo["status"] not in FULFILLABLE:
                blocked.append(f"{fo['id']} is {fo['status']}")
                continue
            by_order.append({"fulfillmentOrderId": fo["id"], "fulfillmentOrderLineItems": items})
        if blocked:
            raise PermanentError(
                f"order {order.external_id}: cannot fulfil in Shopify ({', '.join(blocked)}); "
                "release it there, then redrive",
                channel=CHANNEL,
            )
        return by_order


def _tracking(shipment: ShipmentConfirmation) -> dict[str, Any]:
    info: dict[str, Any] = {"company": shipment.carrier, "number": shipment.tracking_number}
    if shipment.tracking_url:
        info["url"] = shipment.tracking_url
    return info


def fulfillment(secret: ShopifySecret, http: httpx.Client) -> ShopifyFulfillment:
    """The registry's confirm_shipment factory."""
    return ShopifyFulfillment(secret, http)
