"""An order's parcel: what the carrier made of it and where it is in its journey."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ShipmentState(StrEnum):
    ANNOUNCED = "announced"  # the carrier has the parcel's label; nobody has picked it up yet
    HANDED_OVER = "handed_over"  # the carrier has it: from here on nothing is compensated
    CANCELLED = "cancelled"  # the parcel was cancelled at the carrier (the order was)


@dataclass(frozen=True)
class Shipment:
    carrier: str  # the booking platform (sendcloud)
    shipment_id: str  # the platform's id of the booking (what is cancelled)
    parcel_id: str  # the parcel's id, as the platform's status events name it
    tracking_number: str
    carrier_service: str = ""  # who carries it (PostNL, DHL, ...), as the channel shows it
    tracking_url: str | None = None
    label_url: str | None = None
    state: ShipmentState = ShipmentState.ANNOUNCED
