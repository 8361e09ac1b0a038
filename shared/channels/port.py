"""The channel port: the capabilities an adapter may offer. The hub asks before it calls."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from shared.domain.listings import Listing
from shared.domain.orders import Order


@dataclass(frozen=True)
class StockUpdate:
    listing: Listing
    quantity: int
    known_quantity: int | None = None  # what Keel last saw the channel show; None: never read


@dataclass(frozen=True)
class StockResult:
    listing: Listing
    error: Exception | None = None  # a ChannelError subclass when this item failed
    shown: int | None = None  # what the channel shows now, when the adapter knows it


@runtime_checkable
class ParsesWebhooks(Protocol):
    channel: str

    def parse_webhook(
        self, headers: Mapping[str, str], raw_body: bytes, account: str
    ) -> Order | None:
        """A canonical order of `account` (the one the channel's secret serves: the webhook
        refused any other), or None when the topic is not one Keel acts on."""
        ...


@runtime_checkable
class SetsStock(Protocol):
    channel: str

    def set_stock(self, items: Sequence[StockUpdate]) -> list[StockResult]:
        """One result per item, in order; raises RetryableError when the whole call failed."""
        ...


@runtime_checkable
class FetchesOrders(Protocol):
    channel: str
    account: str  # the account its secret serves: the poll's watermark is per account

    def fetch_orders(self, since: datetime) -> Iterator[Order]:
        """Every order changed after `since`, oldest change first; raises a ChannelError when a
        page cannot be read (what was yielded before it stands)."""
        ...


@dataclass(frozen=True)
class ShipmentConfirmation:
    carrier: str  # as the buyer should read it (PostNL, DHL), not the booking platform
    tracking_number: str
    tracking_url: str | None
    lines: tuple[tuple[str, int], ...]  # (channel line id, quantity) that left


@runtime_checkable
class ConfirmsShipments(Protocol):
    channel: str

    def confirm_shipment(self, order: Order, shipment: ShipmentConfirmation) -> None:
        """Tell the channel the order shipped. Raises NothingToDo when the channel already
        shows it shipped (a retry after a lost answer), else the classified errors."""
        ...
