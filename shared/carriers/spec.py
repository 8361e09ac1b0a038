"""What a carrier declares about itself, as data, like a channel does (shared/channels/spec.py):
its secret, how its webhooks are verified and read, and which of its parcel statuses mean the
carrier has the parcel. Stdlib only: the carriers' webhook imports this."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ParcelEvent:
    parcel_id: str
    status_id: int
    message: str = ""
    # When the carrier changed the status (else when the event was sent), UTC: events can
    # arrive out of order, and this is what orders them.
    at: datetime | None = None
    # The reference Keel announced the parcel under, when the event carries it. Informational:
    # the parcel id is what Keel matches on.
    external_reference: str | None = None


@dataclass(frozen=True)
class CarrierSpec:
    name: str
    secret_schema: str  # "module:Model"
    sandbox: str  # "module:Class" under local_stack/sandboxes/
    # "module:function" (signing secret, raw body, lower-cased headers) -> bool
    verify: str
    secret_field: str  # the secret's field holding the webhook signing key
    # "module:function" (raw body) -> ParcelEvent | None (None: not a parcel status event)
    parse_event: str
    handed_over: frozenset[int]  # status ids that mean the carrier has the parcel
    client: str  # "module:factory" (secret model, httpx.Client) -> services.workflow.Carrier
