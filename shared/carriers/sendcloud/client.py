"""Sendcloud API v3, what the order workflow needs: announce an order's parcel (synchronous:
label and tracking number in the answer), find it again by Keel's order key (a retried announce
after a lost answer must not book a second parcel), and cancel it.

`external_reference_id` is unique per Sendcloud account (v3 spec: a second use answers 409 with
the shipment that holds it), so the order key is both the lookup (`GET /shipments?
external_reference_id=`) and the last guard when a lookup ran before the first call landed.

A synchronous announce can answer 201 with the parcel's status ANNOUNCEMENT_FAILED (the carrier
could not be reached; the spec's own example): that shipment has no label and holds the
reference, so it is a PermanentError with Sendcloud's words, whether announce or a later lookup
meets it. A person re-announces it in Sendcloud, then redrives: the lookup finds it announced.

Errors are the channels' classes: 429/5xx/timeouts retryable (Retry-After kept, seconds or an
HTTP date), 401/403 auth, 400/422 permanent with Sendcloud's own error details; on cancel, 404
and a 409 for a shipment already cancelled are nothing to do."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Annotated, Any, TypeVar

import httpx
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from shared.carriers.sendcloud.secret import SendcloudSecret
from shared.channels.errors import (
    ChannelError,
    NothingToDo,
    PermanentError,
    RetryableError,
    classify_status,
)
from shared.channels.http import request
from shared.domain.orders import Order
from shared.domain.shipments import Shipment, ShipmentState

CARRIER = "sendcloud"
ITEM_WEIGHT_KG = Decimal("0.5")  # per unit, until the catalog knows weights
CANCELLED_STATUSES = frozenset({"CANCELLED", "CANCELLATION_REQUESTED"})
ANNOUNCEMENT_FAILED = "ANNOUNCEMENT_FAILED"


T = TypeVar("T")
# JSON null where a list is expected reads as empty (the spec's examples omit what is empty).
OrEmpty = Annotated[list[T], BeforeValidator(lambda v: [] if v is None else v)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)


class ApiError(_Model):
    """One entry of Sendcloud's `{"errors": [...]}` (v3 ErrorObject)."""

    status: str = ""
    code: str = ""
    detail: str = ""
    source: dict[str, str] | None = None

    def __str__(self) -> str:
        pointer = (self.source or {}).get("pointer", "")
        return f"{pointer} {self.detail or self.code}".strip()


class ParcelStatus(_Model):
    code: str = ""
    message: str = ""


class ParcelDocument(_Model):
    type: str = ""
    link: str | None = None


class ShipmentParcel(_Model):
    """What Keel reads of a v3 parcels-array-response."""

    id: int
    status: ParcelStatus = ParcelStatus()
    tracking_number: str | None = None
    tracking_url: str | None = None
    documents: OrEmpty[ParcelDocument] = []


class ShipWith(_Model):
    type: str = ""
    properties: Annotated[dict[str, Any], BeforeValidator(lambda v: v or {})] = {}


class ShipmentData(_Model):
    """What Keel reads of a v3 shipment (announce's `data`, one item of `GET /shipments`)."""

    id: str
    external_reference_id: str | None = None
    ship_with: ShipWith | None = None
    parcels: OrEmpty[ShipmentParcel] = []
    errors: OrEmpty[ApiError] = []

    @property
    def cancelled(self) -> bool:
        return any(p.status.code in CANCELLED_STATUSES for p in self.parcels)

    @property
    def announcement_failed(self) -> bool:
        return any(p.status.code == ANNOUNCEMENT_FAILED for p in self.parcels)


class SendcloudCarrier:
    name = CARRIER

    def __init__(self, secret: SendcloudSecret, http: httpx.Client) -> None:
        self._secret = secret
        self._http = http
        self._auth = httpx.BasicAuth(secret.public_key, secret.secret_key)

    def announce(self, order: Order, reference: str | None = None) -> Shipment:
        """`reference` (the order key by default) is unique per Sendcloud account for good: an
        order re-planned after an edit is announced under a new one."""
        reference = reference or order.key
        found = self.find(reference)
        if found is not None:
            return found
        body = self._request(order, reference)
        try:
            answer = self._call("POST", "/shipments/announce", json=body)
        except PermanentError as exc:
            if exc.status != 409:
                raise
            return self._holder_of(reference, exc)
        return _shipment(_read(answer.get("data")))

    def find(self, external_reference: str) -> Shipment | None:
        """The live (not cancelled) shipment announced under this reference, if any."""
        for data in self._by_reference(external_reference):
            if not data.cancelled:
                return _shipment(data)
        return None

    def cancel(self, shipment: Shipment) -> None:
        """200 (cancelled) and 202 (queued: Sendcloud cancels it unless it moves within 14
        days) both mean Sendcloud took the request."""
        path = f"/shipments/{shipment.shipment_id}"
        try:
            self._call("POST", f"{path}/cancel")
        except PermanentError as exc:
            if exc.status == 404:
                raise NothingToDo(str(exc), channel=CARRIER, status=404) from exc
            # 409 is "already cancelled" (a retry after a lost answer) but also "delivered" or
            # "older than 42 days": only the shipment's own state tells them apart.
            if exc.status == 409 and _read(self._call("GET", path).get("data")).cancelled:
                raise NothingToDo(str(exc), channel=CARRIER, status=409) from exc
            raise

    def _by_reference(self, external_reference: str) -> list[ShipmentData]:
        # Unique per account, so one page holds every match; no cursor is ever sent, so a 404
        # (the spec's "invalid cursor") can only mean nothing matched.
        try:
            answer = self._call(
                "GET", "/shipments", params={"external_reference_id": external_reference}
            )
        except PermanentError as exc:
            if exc.status == 404:
                return []
            raise
        return [_read(d) for d in answer.get("data") or []]

    def _holder_of(self, external_reference: str, conflict: PermanentError) -> Shipment:
        """409 on announce: the reference is taken. Ours, announced between our lookup and our
        call (a concurrent retry), is the answer; a cancelled one cannot be booked again."""
        holders = self._by_reference(external_reference)
        live = [d for d in holders if not d.cancelled]
        if live:
            return _shipment(live[0])
        if holders:
            raise PermanentError(
                f"{external_reference} was announced before and that shipment is cancelled:"
                " Sendcloud refuses the reference again",
                channel=CARRIER,
                status=409,
            ) from conflict
        raise conflict

    def _request(self, order: Order, reference: str) -> dict[str, Any]:
        to = order.shipping_address
        if to is None:
            raise PermanentError(f"{order.key} has no shipping address", channel=CARRIER)
        s = self._secret
        units = sum(ln.quantity for ln in order.lines if ln.stock)
        return {
            "external_reference_id": reference,
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
                    "name": to.name or to.company,  # required: a business may give only its name
                    "company_name": to.company,
                    "address_line_1": to.address_line_1,
                    "address_line_2": to.address_line_2,
                    "postal_code": to.postal_code,
                    "city": to.city,
                    "state_province_code": _subdivision(to.country_code, to.region),
                    "country_code": to.country_code,
                    "email": to.email,
                    "phone_number": to.phone,
                }
            ),
            "total_order_price": {
                "currency": order.total.currency,
                "value": f"{order.total.amount:.2f}",
            },
            # No parcel_items: the spec requires an hs_code on every item, which Keel's catalog
            # does not hold; Sendcloud needs them only for customs, where a made-up code would
            # be a false declaration. A destination needing customs fails (400) and is recorded.
            "parcels": [
                {"weight": {"value": f"{ITEM_WEIGHT_KG * max(units, 1):.3f}", "unit": "kg"}}
            ],
        }

    def _call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        response = request(
            self._http,
            method,
            f"{self._secret.base_url}{path}",
            channel=CARRIER,
            auth=self._auth,
            **kw,
        )
        error_class = classify_status(response.status_code)
        if error_class is not None:
            raise _error(error_class, response)
        if not response.content:
            return {}
        payload = response.json()
        return payload if isinstance(payload, dict) else {}


def _subdivision(country_code: str, region: str) -> str:
    """Sendcloud wants ISO 3166-2 ("US-NY"); channels give the part after the dash ("NY")."""
    if not region or "-" in region:
        return region
    return f"{country_code}-{region}"


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date (RFC 9110); None if unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def _read(data: Any) -> ShipmentData:
    """Sendcloud's shipment as Keel reads it. An answer without what Keel needs (an id, a
    parcel) is permanent: retrying would read the same; a redrive after a fix finds it."""
    try:
        shipment = ShipmentData.model_validate(data)
    except ValidationError as exc:
        raise PermanentError(
            f"unreadable Sendcloud shipment: {exc.error_count()} problem(s)", channel=CARRIER
        ) from exc
    if not shipment.parcels:
        raise PermanentError(f"Sendcloud shipment {shipment.id} has no parcel", channel=CARRIER)
    return shipment


def _shipment(data: ShipmentData) -> Shipment:
    if data.announcement_failed:
        reasons = "; ".join(str(e) for e in data.errors) or "no reason given"
        raise PermanentError(
            f"Sendcloud could not announce shipment {data.id} at the carrier ({reasons}):"
            " re-announce or cancel it in Sendcloud, then redrive",
            channel=CARRIER,
        )
    parcel = data.parcels[0]
    label = next((d.link for d in parcel.documents if d.type == "label"), None)
    code = str(
        (data.ship_with.properties if data.ship_with else {}).get("shipping_option_code") or ""
    )
    return Shipment(
        carrier=CARRIER,
        shipment_id=data.id,
        parcel_id=str(parcel.id),
        tracking_number=parcel.tracking_number or "",
        carrier_service=code.split(":", 1)[0],
        tracking_url=parcel.tracking_url,
        label_url=label,
        state=ShipmentState.ANNOUNCED,
    )


def _error(error_class: type[ChannelError], response: httpx.Response) -> ChannelError:
    try:
        errors = [ApiError.model_validate(e) for e in response.json().get("errors") or []]
        detail = "; ".join(str(e) for e in errors)
    except (ValueError, AttributeError, TypeError):  # not Sendcloud's error shape
        detail = response.text[:200]
    message = f"HTTP {response.status_code} from Sendcloud: {detail or response.reason_phrase}"
    if error_class is RetryableError:
        return RetryableError(
            message,
            channel=CARRIER,
            status=response.status_code,
            retry_after_s=retry_after_seconds(response.headers.get("retry-after")),
        )
    return error_class(message, channel=CARRIER, status=response.status_code)


def _drop_empty(values: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in values.items() if v}


def carrier(secret: SendcloudSecret, http: httpx.Client) -> SendcloudCarrier:
    """The registry's client factory."""
    return SendcloudCarrier(secret, http)
