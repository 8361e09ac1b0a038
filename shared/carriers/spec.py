"""What a carrier declares about itself, as data, like a channel does (shared/channels/spec.py):
its secret, how its webhooks are verified and read, and which of its parcel statuses mean the
carrier has the parcel. Stdlib only: the carriers' webhook imports this."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ParcelEvent:
    parcel_id: str
    status_id: int
    message: str = ""


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
