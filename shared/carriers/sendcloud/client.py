"""Sendcloud API v3, what the order workflow needs: announce an order's parcel (synchronous:
label and tracking number in the answer), find it again by Keel's order key (a retried announce
after a lost answer must not book a second parcel), and cancel it.

Errors are the channels' classes: 429/5xx/timeouts retryable (Retry-After kept), 401/403 auth,
400/422 permanent with Sendcloud's own error details, 404 on cancel nothing to do."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from shared.carriers.sendcloud.secret import SendcloudSecret
from shared.channels.errors import (
    ChannelError,
    NothingToDo,
    PermanentError,
    RetryableError,
    classify_status,
)
from shared.domain.orders import Order
from shared.domain.shipments import Shipment, ShipmentState

CARRIER = "sendcloud"
ITEM_WEIGHT_KG = Decimal("0.5")  # per unit, until the catalog knows weights
CANCELLED_STATUSES = frozenset({"CANCELLED", "CANCELLATION_REQUESTED"})


class SendcloudCarrier:
    name = CARRIER

    def __init__(self, secret: SendcloudSecret, http: httpx.Client) -> None:
        self._secret = secret
        self._http = http
        self._auth = httpx.BasicAuth(secret.public_key, secret.secret_key)

    def announce(self, order: Order) -> Shipment:
        found = self._find(order.key)
        if found is not None:
            return found
        body = self._request(order)
        data = self._call("POST", "/shipments/announce", json=body).get("data") or {}
        return _shipment(data)

    def cancel(self, shipment: Shipment) -> None:
        try:
            self._call("POST", f"/shipments/{shipment.shipment_id}/cancel")
        except PermanentError as exc:
            if exc.status == 404:
                raise NothingToDo(str(exc), channel=CARRIER, status=404) from exc
            raise

    def _find(self, order_key: str) -> Shipment | None:
        answer = self._call("GET", "/shipments", params={"external_reference_id": order_key})
        for data in answer.get("data") or []:
            statuses = {
                str((p.get("status") or {}).get("code", "")) for p in data.get("parcels", [])
            }
            if not statuses & CANCELLED_STATUSES:
                return _shipment(data)
        return None

    def _request(self, order: Order) -> dict[str, Any]:
        to = order.shipping_address
        if to is None:
            raise PermanentError(f"{order.key} has no shipping address", channel=CARRIER)
        s = self._secret
        units = sum(ln.quantity for ln in order.lines if ln.stock)
        return {
            "external_reference_id": order.key,
            "order_number": order.name,
            "ship_with": {
                "type": "shipping_option_code",
                "properties": {"shipping_option_code": s.shipping_option_code},
            },
            "from_address": _drop_empty(
                {
                    "name": s.sender_name,
                    "company_name": s.sender_company,
                    "address_line_1": s.sender_address_line_1,
                    "house_number": s.sender_house_number,
                    "postal_code": s.sender_postal_code,
                    "city": s.sender_city,
                    "country_code": s.sender_country_code,
                    "email": s.sender_email,
                    "phone_number": s.sender_phone,
                }
            ),
            "to_address": _drop_empty(
                {
                    "name": to.name,
                    "company_name": to.company,
                    "address_line_1": to.address_line_1,
                    "address_line_2": to.address_line_2,
                    "postal_code": to.postal_code,
                    "city": to.city,
                    "state_province_code": to.region,
                    "country_code": to.country_code,
                    "email": to.email,
                    "phone_number": to.phone,
                }
            ),
            "total_order_price": {
                "currency": order.total.currency,
                "value": f"{order.total.amount:.2f}",
            },
            "parcels": [
                {
                    "weight": {"value": f"{ITEM_WEIGHT_KG * max(units, 1):.3f}", "unit": "kg"},
                    "parcel_items": [
                        {
                            "item_id": ln.line_id,
                            "description": ln.title[:255] or (ln.sku or ln.line_id),
                            "quantity": ln.quantity,
                            "sku": ln.sku or "",
                            "weight": {"value": f"{ITEM_WEIGHT_KG:.3f}", "unit": "kg"},
                            "price": {
                                "value": f"{ln.unit_price.amount:.2f}",
                                "currency": ln.unit_price.currency,
                            },
                        }
                        for ln in order.lines
                        if ln.stock
                    ],
                }
            ],
        }

    def _call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        try:
            response = self._http.request(
                method, f"{self._secret.base_url}{path}", auth=self._auth, **kw
            )
        except httpx.TransportError as exc:
            raise RetryableError(f"{type(exc).__name__}: {exc}", channel=CARRIER) from exc
        error_class = classify_status(response.status_code)
        if error_class is not None:
            raise _error(error_class, response)
        if not response.content:
            return {}
        payload = response.json()
        return payload if isinstance(payload, dict) else {}


def _shipment(data: dict[str, Any]) -> Shipment:
    parcels = data.get("parcels") or []
    if not parcels:
        raise RetryableError("Sendcloud answered a shipment without parcels", channel=CARRIER)
    parcel = parcels[0]
    label = next(
        (d.get("link") for d in parcel.get("documents") or [] if d.get("type") == "label"), None
    )
    ship_with = (data.get("ship_with") or {}).get("properties") or {}
    code = str(ship_with.get("shipping_option_code") or "")
    return Shipment(
        carrier=CARRIER,
        shipment_id=str(data["id"]),
        parcel_id=str(parcel["id"]),
        tracking_number=str(parcel.get("tracking_number") or ""),
        carrier_service=code.split(":", 1)[0],
        tracking_url=parcel.get("tracking_url"),
        label_url=label,
        state=ShipmentState.ANNOUNCED,
    )


def _error(error_class: type[ChannelError], response: httpx.Response) -> ChannelError:
    try:
        errors = response.json().get("errors") or []
        detail = "; ".join(
            f"{(e.get('source') or {}).get('pointer', '')} {e.get('detail', '')}".strip()
            for e in errors
        )
    except (ValueError, AttributeError):
        detail = response.text[:200]
    message = f"HTTP {response.status_code} from Sendcloud: {detail or response.reason_phrase}"
    if error_class is RetryableError:
        after = response.headers.get("retry-after")
        return RetryableError(
            message,
            channel=CARRIER,
            status=response.status_code,
            retry_after_s=float(after) if after and after.isdigit() else None,
        )
    return error_class(message, channel=CARRIER, status=response.status_code)


def _drop_empty(values: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in values.items() if v}


def carrier(secret: SendcloudSecret, http: httpx.Client) -> SendcloudCarrier:
    """The registry's client factory."""
    return SendcloudCarrier(secret, http)
