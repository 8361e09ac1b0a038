"""Tell bol.com an order shipped (the workflow's Confirm step): `POST /retailer/shipments` with
the order items and quantities, Keel's shipment reference and the transport (`transporterCode`,
`trackAndTrace`). bol answers 202 with a process status, read here until SUCCESS (a few short
waits); still PENDING is a RetryableError (the step retries).

Idempotent on a retry after a lost answer: the order is read first, and items bol already
shows shipped are not sent again (all of them: NothingToDo). A FAILURE whose order then shows
the items shipped (a second POST racing the first) is NothingToDo too."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from shared.channels.bol import process
from shared.channels.bol.client import CHANNEL, BolClient
from shared.channels.bol.secret import BolSecret
from shared.channels.errors import NothingToDo, PermanentError, RetryableError
from shared.channels.port import ShipmentConfirmation
from shared.domain.orders import Order

# Carrier names as Keel's carrier reports them -> bol.com transporter codes.
TRANSPORTERS = {
    "postnl": "TNT",
    "dhl": "DHL",
    "dhlforyou": "DHLFORYOU",
    "dpd": "DPD-NL",
    "ups": "UPS",
    "gls": "GLS",
    "bpost": "BPOST_BE",
    "fedex": "FEDEX_NL",
}
WAITS_S = (0.5, 1.0, 2.0, 4.0)  # process-status reads after the 202


def transporter_code(carrier: str) -> str:
    name = carrier.lower().replace(" ", "").replace("_", "")
    for prefix, code in sorted(TRANSPORTERS.items(), key=lambda kv: -len(kv[0])):
        if name.startswith(prefix):
            return code
    return "OTHER"


class BolFulfillment:
    channel = CHANNEL

    def __init__(
        self, secret: BolSecret, http: httpx.Client, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.client = BolClient(secret, http, sleep=sleep)
        self._sleep = sleep

    def confirm_shipment(self, order: Order, shipment: ShipmentConfirmation) -> None:
        items = self._unshipped(order, shipment)
        if not items:
            raise NothingToDo(f"bol.com shows order {order.external_id} shipped", channel=CHANNEL)
        body = {
            "orderItems": items,
            "shipmentReference": f"keel-{order.external_id}"[:90],
            "transport": {
                "transporterCode": transporter_code(shipment.carrier),
                "trackAndTrace": shipment.tracking_number,
            },
        }
        accepted = process.accepted(self.client.call("POST", "/retailer/shipments", json=body))
        status = accepted
        for wait in WAITS_S:
            if status.status in process.TERMINAL:
                break
            self._sleep(wait)
            status = process.read(self.client, accepted.id)
        if status.status == "SUCCESS":
            return
        if status.status == "PENDING":
            raise RetryableError(
                f"shipment {accepted.id} still pending at bol.com", channel=CHANNEL
            )
        if not self._unshipped(order, shipment):  # a racing confirmation got there first
            raise NothingToDo(f"bol.com shows order {order.external_id} shipped", channel=CHANNEL)
        raise PermanentError(f"bol.com refused the shipment: {status.reason}", channel=CHANNEL)

    def _unshipped(self, order: Order, shipment: ShipmentConfirmation) -> list[dict[str, Any]]:
        """The lines to confirm, less what bol.com already shows shipped."""
        current = self.client.call(
            "GET", f"/retailer/orders/{order.external_id}", endpoint="/retailer/orders/{order-id}"
        ).json()
        shipped = {
            str(i.get("orderItemId")): int(i.get("quantityShipped") or 0)
            for i in current.get("orderItems", [])
        }
        items = []
        for line_id, quantity in shipment.lines:
            left = quantity - shipped.get(line_id, 0)
            if left > 0:
                items.append({"orderItemId": line_id, "quantity": left})
        return items


def fulfillment(secret: BolSecret, http: httpx.Client) -> BolFulfillment:
    """The registry's confirm_shipment factory."""
    return BolFulfillment(secret, http)
