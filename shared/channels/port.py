"""The channel port: the capabilities an adapter may offer. The hub asks before it calls."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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

    def parse_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> Order | None:
        """A canonical order, or None when the topic is not one Keel acts on."""
        ...


@runtime_checkable
class SetsStock(Protocol):
    channel: str

    def set_stock(self, items: Sequence[StockUpdate]) -> list[StockResult]:
        """One result per item, in order; raises RetryableError when the whole call failed."""
        ...
