"""Tell Amazon an order shipped: Orders API v0 `confirmShipment`
(`POST /orders/v0/orders/{orderId}/shipmentConfirmation`, 204) with the carrier, the tracking
number and the order items that left. The order is read first (Orders API 2026-01-01): a retry
after a lost answer finds it shipped and does nothing twice; a cancelled order is not confirmed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from shared.channels.amazon.client import CHANNEL, SpApiClient
from shared.channels.amazon.orders import AmazonOrderReader
from shared.channels.amazon.secret import AmazonSecret
from shared.channels.errors import NothingToDo, PermanentError
from shared.channels.port import ShipmentConfirmation
from shared.domain.orders import Order

# Amazon's CarrierCode values for carriers Keel books through Sendcloud; any other is sent as
# "Other" with its name (Amazon requires carrierName then).
CARRIER_CODES = {
    "dhl": "DHL",
    "dpd": "DPD",
    "gls": "GLS",
    "ups": "UPS",
    "fedex": "FedEx",
    "usps": "USPS",
    "royal mail": "Royal Mail",
}
DONE = frozenset({"SHIPPED"})
ENDED = frozenset({"CANCELLED", "UNFULFILLABLE"})


def confirm_body(
    marketplace_id: str, shipment: ShipmentConfirmation, ship_date: datetime
) -> dict[str, Any]:
    """The ConfirmShipmentRequest Keel sends (validated against the v0 model in a test)."""
    code = CARRIER_CODES.get(shipment.carrier.strip().lower(), "Other")
    detail: dict[str, Any] = {
        "packageReferenceId": "1",
        "carrierCode": code,
        "trackingNumber": shipment.tracking_number,
        "shipDate": ship_date.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "orderItems": [
            {"orderItemId": line_id, "quantity": quantity} for line_id, quantity in shipment.lines
        ],
    }
    if code == "Other":
        detail["carrierName"] = shipment.carrier
    return {"marketplaceId": marketplace_id, "packageDetail": detail}


class AmazonShipments:
    channel = CHANNEL

    def __init__(self, api: SpApiClient) -> None:
        self._api = api
        self._orders = AmazonOrderReader(api)

    def confirm_shipment(self, order: Order, shipment: ShipmentConfirmation) -> None:
        current = self._orders.raw_order(order.external_id)
        status = (current.get("fulfillment") or {}).get("fulfillmentStatus")
        if status in DONE or _lines_shipped(current, shipment):
            raise NothingToDo(f"order {order.external_id} is {status} on Amazon", channel=CHANNEL)
        if status in ENDED:
            raise NothingToDo(
                f"order {order.external_id} is {status} on Amazon: not confirmed",
                channel=CHANNEL,
            )
        marketplace = (current.get("salesChannel") or {}).get("marketplaceId")
        if not marketplace:
            raise PermanentError(f"order {order.external_id} names no marketplace", channel=CHANNEL)
        self._api.call(
            "confirmShipment",
            "POST",
            f"/orders/v0/orders/{order.external_id}/shipmentConfirmation",
            json=confirm_body(marketplace, shipment, datetime.now(UTC)),
            ok=(204,),
        )


def _lines_shipped(current: dict[str, Any], shipment: ShipmentConfirmation) -> bool:
    """Every line this shipment confirms already shows nothing left to fulfil (a partial
    shipment confirmed before, answer lost)."""
    unfulfilled = {
        str(item.get("orderItemId")): (item.get("fulfillment") or {}).get("quantityUnfulfilled")
        for item in current.get("orderItems", [])
    }
    return bool(shipment.lines) and all(unfulfilled.get(line) == 0 for line, _ in shipment.lines)


def fulfillment(secret: AmazonSecret, http: httpx.Client) -> AmazonShipments:
    """The registry's confirm_shipment factory."""
    return AmazonShipments(SpApiClient(secret, http))
