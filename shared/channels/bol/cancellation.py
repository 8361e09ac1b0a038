"""Accept the buyer's cancellation requests on bol.com (port.AcceptsCancellations):
`PUT /retailer/orders/cancellation`, one order item per request (the schema allows one),
reason REQUESTED_BY_CUSTOMER. bol answers 202 with a process status; an item bol already shows
cancelled is not sent again (a replayed push, a retried record)."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from shared.channels.bol import process
from shared.channels.bol.client import CHANNEL, BolClient
from shared.channels.bol.secret import BolSecret
from shared.channels.errors import NothingToDo
from shared.domain.orders import Order

REASON = "REQUESTED_BY_CUSTOMER"


class BolCancellations:
    channel = CHANNEL

    def __init__(self, secret: BolSecret, http: httpx.Client) -> None:
        self.client = BolClient(secret, http)
        self.accepted: list[str] = []  # process-status ids of the requests sent (for logs)

    def accept_cancellation(self, order: Order, line_ids: Sequence[str]) -> None:
        current = self.client.call(
            "GET", f"/retailer/orders/{order.external_id}", endpoint="/retailer/orders/{order-id}"
        ).json()
        open_requests = {
            str(i.get("orderItemId"))
            for i in current.get("orderItems", [])
            if i.get("cancellationRequest")
            and int(i.get("quantity") or 0)
            > int(i.get("quantityShipped") or 0) + int(i.get("quantityCancelled") or 0)
        }
        todo = [line_id for line_id in line_ids if line_id in open_requests]
        if not todo:
            raise NothingToDo(f"nothing left to cancel on {order.external_id}", channel=CHANNEL)
        for line_id in todo:
            body = {"orderItems": [{"orderItemId": line_id, "reasonCode": REASON}]}
            response = self.client.call("PUT", "/retailer/orders/cancellation", json=body)
            self.accepted.append(process.accepted(response).id)


def cancellations(secret: BolSecret, http: httpx.Client) -> BolCancellations:
    """The registry's accept_cancellation factory."""
    return BolCancellations(secret, http)
