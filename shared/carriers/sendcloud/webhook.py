"""Sendcloud webhooks: `Sendcloud-Signature` is the lower-case hex HMAC-SHA256 of the raw body
with the signing key; `parcel_status_changed` says a parcel's status moved.

The event's `timestamp` and `carrier_status_change_timestamp` are epoch milliseconds. The
documented sample (specs/sendcloud/webhooks) names the shop's ids `external_order_id` and
`external_shipment_id`; the v3 `external_reference_id` a shipment was announced with is read
when present, and nothing else is taken for it."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, ValidationError

from shared.carriers.spec import ParcelEvent

SIGNATURE_HEADER = "sendcloud-signature"


def sign(secret: str, raw_body: bytes) -> str:
    return hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()


def verify(secret: str, raw_body: bytes, header_value: str | None) -> bool:
    if not secret or not header_value:
        return False
    return hmac.compare_digest(sign(secret, raw_body), header_value.strip().lower())


def verify_headers(secret: str, raw_body: bytes, headers: Mapping[str, str]) -> bool:
    return verify(secret, raw_body, headers.get(SIGNATURE_HEADER))


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Status(_Model):
    id: int
    message: str = ""


class _Parcel(_Model):
    id: int
    status: _Status
    external_reference_id: str | None = None


class _Event(_Model):
    action: str
    timestamp: int | None = None
    carrier_status_change_timestamp: int | None = None
    parcel: _Parcel | None = None


def _utc(epoch_ms: int | None) -> datetime | None:
    if epoch_ms is None:
        return None
    try:
        return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):  # out of datetime's range: not a time
        return None


def parse_event(raw_body: bytes) -> ParcelEvent | None:
    """None for other actions (integration updates, returns); ValueError for a body that is
    not a Sendcloud event at all."""
    try:
        event = _Event.model_validate_json(raw_body)
    except ValidationError as exc:
        raise ValueError(f"not a Sendcloud event: {exc.error_count()} problem(s)") from exc
    if event.action != "parcel_status_changed" or event.parcel is None:
        return None
    parcel = event.parcel
    return ParcelEvent(
        parcel_id=str(parcel.id),
        status_id=parcel.status.id,
        message=parcel.status.message,
        at=_utc(event.carrier_status_change_timestamp or event.timestamp),
        external_reference=parcel.external_reference_id or None,
    )
