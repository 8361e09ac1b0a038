"""Messages between functions. The webhook function writes InboundDelivery with plain json
(no pydantic on the ack path); ingest validates it here."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class InboundDelivery(BaseModel):
    """A verified webhook delivery, raw body untouched, waiting for ingest."""

    model_config = ConfigDict(frozen=True)

    channel: str
    delivery_id: str
    topic: str
    received_at: str
    headers: dict[str, str] = Field(default_factory=dict)
    body: str  # the exact bytes received, decoded with body_encoding; "" when in S3
    body_encoding: str = "utf-8"
    body_ref: str | None = None  # S3 key in the raw-bodies bucket, for bodies too large inline

    def inline_body(self) -> bytes:
        return self.body.encode(self.body_encoding)


class SyncListing(BaseModel):
    """A trigger, not a value: "listing of SKU on CHANNEL needs syncing"."""

    model_config = ConfigDict(frozen=True)

    channel: str
    # None: every account of the channel (the sync fans it out to each); a value: that
    # account only ("" the channel's first).
    account: str | None = None
    sku: str
    # Publishes of this SKU whose write the channel accepted and then failed (bol FAILURE,
    # TIMEOUT): a bounded number are retried, then the reason goes to the DLQ.
    attempt: int = 0
    # True: only "Keel's stock moved" (the relay). Nothing is sent when the channel already
    # shows, or is being sent, the quantity derived then. False (a resync, a listing change,
    # an order the channel moved itself, a republish): always sent.
    stock_moved: bool = False
    # Set on a trigger the sync held back because the SKU was hot (shared/services/
    # stock_hold.py): since when it is held, and when the SKU last changed.
    held_since: datetime | None = None
    changed_at: datetime | None = None


class ConfirmStock(BaseModel):
    """A check, on the channel's own sync queue (delayed): "is the stock write the channel
    accepted for SKU applied yet?" (port.PendingStock). Only an applied one becomes the
    listing's last confirmed quantity."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["confirm"] = "confirm"
    channel: str
    account: str = ""  # the account whose write this checks ("" the channel's first)
    sku: str
    quantity: int  # what was written
    reference: str  # the adapter's handle (PendingStock.reference)
    checks: int = 0  # checks made before this one
    attempt: int = 0  # as SyncListing.attempt


class SyncPrice(BaseModel):
    """A trigger on the channel's sync queue: "the price in force for this listing changed"
    (the price book's PRICETARGET# item, by the catalog's stream). The sync reads the price in
    force when it publishes, so a stale or repeated trigger cannot publish an old price."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["price"] = "price"
    channel: str
    sku: str
    listing: str  # the listing's key (channel[@account][/marketplace])
    attempt: int = 0  # as SyncListing.attempt


class ConfirmPrice(BaseModel):
    """A delayed check: "is the price write the channel accepted applied yet?" Only an
    applied one becomes what the listing shows."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["confirm-price"] = "confirm-price"
    channel: str
    sku: str
    listing: str
    price: str  # what was written, a decimal string
    compare_at: str | None = None
    currency: str = "EUR"
    reference: str
    checks: int = 0
    attempt: int = 0


SyncMessage = SyncListing | ConfirmStock | SyncPrice | ConfirmPrice
_KINDS: dict[str, type[ConfirmStock | SyncPrice | ConfirmPrice]] = {
    '"confirm-price"': ConfirmPrice,
    '"price"': SyncPrice,
    '"confirm"': ConfirmStock,
}


def sync_message(body: str) -> SyncMessage:
    """What arrived on a sync queue: a stock trigger, a price trigger, or a check of either."""
    if '"kind"' in body:  # cheap pre-check; the model decides
        for marker, model in _KINDS.items():
            if marker in body:
                try:
                    return model.model_validate_json(body)
                except ValueError:
                    pass
    return SyncListing.model_validate_json(body)


class RetryHeld(BaseModel):
    """A trigger: stock of SKU arrived (or a listing for it appeared), try the order held
    waiting for it again."""

    model_config = ConfigDict(frozen=True)

    order_key: str
    sku: str
    because: Literal["stock", "listing"] = "stock"


def stock_message(body: str) -> SyncListing | ConfirmStock:
    """A stock trigger or check; ValueError for anything else (a price message included)."""
    message = sync_message(body)
    if isinstance(message, SyncPrice | ConfirmPrice):
        raise ValueError(f"a {message.kind} message is not a stock one")
    return message
