"""A SKU as one channel sells it, and the quantity that channel is shown."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal


@dataclass(frozen=True)
class ListingRules:
    """Per-channel publishing rules: offer a share of stock, hold back a buffer, cap the rest."""

    share: Decimal = Decimal(1)
    buffer: int = 0
    cap: int | None = None

    def __post_init__(self) -> None:
        if not Decimal(0) <= self.share <= Decimal(1):
            raise ValueError(f"share must be between 0 and 1, got {self.share}")
        if self.buffer < 0:
            raise ValueError(f"buffer must not be negative, got {self.buffer}")
        if self.cap is not None and self.cap < 0:
            raise ValueError(f"cap must not be negative, got {self.cap}")


@dataclass(frozen=True)
class Listing:
    """`refs` holds the channel's own ids (e.g. Shopify variant_id, Woo product_id)."""

    sku: str
    channel: str
    refs: dict[str, str] = field(default_factory=dict)
    rules: ListingRules = ListingRules()


def channel_quantity(available: int, rules: ListingRules, channel_max: int | None = None) -> int:
    """clamp(floor(available x share) - buffer, 0, cap), and never more than the channel can
    show (`channel_max`: bol.com's 999): derived, never stored as truth. The one rule for what a
    channel shows, for the sync, the CLI and the demo alike."""
    shared = math.floor(Decimal(max(0, available)) * rules.share)
    qty = max(0, shared - rules.buffer)
    for ceiling in (rules.cap, channel_max):
        if ceiling is not None:
            qty = min(qty, ceiling)
    return qty


@dataclass(frozen=True)
class Sent:
    """A quantity written to a channel, and when Keel recorded it."""

    quantity: int
    at: datetime


@dataclass(frozen=True)
class ChannelShows:
    """What Keel knows a listing's channel shows: the last confirmed quantity, and the last
    write the channel accepted but has not confirmed yet (bol.com, Amazon), if any."""

    confirmed: Sent | None = None
    accepted: Sent | None = None

    def settled_on(self, quantity: int, now: datetime, in_flight_for: timedelta) -> bool:
        """True when sending `quantity` would change nothing: the channel shows it, or a write
        of it is in flight. An accepted write newer than the confirmed quantity counts as in
        flight for `in_flight_for` (its checks' schedule): a lost check must not hold a SKU
        back; while it is in flight, it is what the channel will show."""
        accepted, confirmed = self.accepted, self.confirmed
        if accepted is not None and (confirmed is None or accepted.at >= confirmed.at):
            return accepted.quantity == quantity and now - accepted.at <= in_flight_for
        return confirmed is not None and confirmed.quantity == quantity
