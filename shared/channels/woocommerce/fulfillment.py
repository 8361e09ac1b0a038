"""Tell WooCommerce an order shipped: status `completed` with the tracking in the order meta the
WooCommerce Shipment Tracking extension reads (`_wc_shipment_tracking_items`), and a customer
note with the carrier and tracking number (the buyer gets it by e-mail). A retry after a lost
answer finds the order completed with that tracking number and does nothing twice."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from shared.channels.errors import NothingToDo, classify_status
from shared.channels.http import request
from shared.channels.port import ShipmentConfirmation
from shared.channels.woocommerce.secret import WooSecret
from shared.channels.woocommerce.stock import API_PREFIX, CHANNEL, http_error
from shared.domain.orders import Order

TRACKING_META = "_wc_shipment_tracking_items"
ENDED = frozenset({"cancelled", "refunded", "failed", "trash"})


class WooFulfillment:
    channel = CHANNEL

    def __init__(self, secret: WooSecret, http: httpx.Client) -> None:
        self._base = f"{secret.base_url}{API_PREFIX}"
        self._http = http
        self._auth = httpx.BasicAuth(secret.consumer_key, secret.consumer_secret)

    def confirm_shipment(self, order: Order, shipment: ShipmentConfirmation) -> None:
        path = f"/orders/{order.external_id}"
        current = self._call("GET", path)
        if current.get("status") in ENDED:
            # The shop ended the order after the parcel left (Keel skips ended orders, and the
            # change reaches it by webhook or poll): completing it would undo the merchant's
            # decision in the shop, so nothing is told.
            raise NothingToDo(
                f"order {order.external_id} is {current.get('status')} in WooCommerce",
                channel=CHANNEL,
            )
        completed = current.get("status") == "completed"
        notes: Any = None
        if completed and not _tracked(current, shipment):
            # The note follows the completion, so a note with this tracking number also proves
            # it where the shop's API does not return the tracking meta. (A first confirmation
            # completes straight away: the shop's order.updated reaches Keel sooner.)
            notes = self._call("GET", f"{path}/notes")
        did = False
        if not completed or not (_tracked(current, shipment) or _noted(notes, shipment)):
            item = {
                "tracking_provider": "",
                "custom_tracking_provider": shipment.carrier,
                "custom_tracking_link": shipment.tracking_url or "",
                "tracking_number": shipment.tracking_number,
                "date_shipped": str(int(datetime.now(UTC).timestamp())),
            }
            self._call(
                "PUT",
                path,
                json={
                    "status": "completed",
                    "meta_data": [{"key": TRACKING_META, "value": [item]}],
                },
            )
            did = True
        if notes is None:
            notes = self._call("GET", f"{path}/notes")
        if not _noted(notes, shipment):
            text = f"Shipped with {shipment.carrier}, tracking number {shipment.tracking_number}"
            if shipment.tracking_url:
                text += f": {shipment.tracking_url}"
            self._call("POST", f"{path}/notes", json={"note": text, "customer_note": True})
            did = True
        if not did:
            raise NothingToDo(
                f"order {order.external_id} already shows it shipped", channel=CHANNEL
            )

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        response = request(
            self._http, method, f"{self._base}{path}", channel=CHANNEL, auth=self._auth, **kw
        )
        error_class = classify_status(response.status_code)
        if error_class is not None:
            raise http_error(error_class, response)
        return response.json()


def _tracked(order: Any, shipment: ShipmentConfirmation) -> bool:
    return any(
        i.get("tracking_number") == shipment.tracking_number
        for meta in order.get("meta_data") or []
        if meta.get("key") == TRACKING_META and isinstance(meta.get("value"), list)
        for i in meta["value"]
    )


def _noted(notes: Any, shipment: ShipmentConfirmation) -> bool:
    return any(shipment.tracking_number in str(n.get("note", "")) for n in _list(notes))


def _list(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def fulfillment(secret: WooSecret, http: httpx.Client) -> WooFulfillment:
    """The registry's confirm_shipment factory."""
    return WooFulfillment(secret, http)
