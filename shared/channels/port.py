"""The channel port: the capabilities an adapter may offer. The hub asks before it calls."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Protocol, runtime_checkable

from shared.domain.listings import Listing
from shared.domain.matching import ChannelListing
from shared.domain.orders import Order
from shared.domain.oversell import LineCut
from shared.domain.pricing import Offer


@dataclass(frozen=True)
class StockUpdate:
    listing: Listing
    quantity: int
    known_quantity: int | None = None  # what Keel last saw the channel show; None: never read


@dataclass(frozen=True)
class PendingStock:
    """A stock write the channel accepted but has not applied yet (bol.com answers 202 with a
    process status, Amazon's listings patch answers ACCEPTED): confirmed later, never assumed."""

    reference: str  # the adapter's handle to ask about it again (a process-status id, ...)


@dataclass(frozen=True)
class StockResult:
    listing: Listing
    error: Exception | None = None  # a ChannelError subclass when this item failed
    shown: int | None = None  # what the channel shows now, when the adapter knows it
    pending: PendingStock | None = None  # accepted, not applied: `shown` is not known yet


class PendingState(Enum):
    APPLIED = "applied"  # the channel shows the quantity: it becomes the last confirmed one
    FAILED = "failed"  # the channel refused or gave up (bol FAILURE/TIMEOUT): retry or DLQ
    PENDING = "pending"  # ask again later


@dataclass(frozen=True)
class PendingCheck:
    state: PendingState
    reason: str | None = None  # why it failed, in the channel's words
    shown: int | None = None  # what the channel shows, when the answer says


@runtime_checkable
class ConfirmsStock(Protocol):
    """Offered by a SetsStock adapter whose writes are accepted before they are applied."""

    channel: str

    def check_stock(
        self, pending: Sequence[tuple[StockUpdate, PendingStock]]
    ) -> list[PendingCheck]:
        """One check per item, in order; raises RetryableError when the whole call failed."""
        ...


_ORDER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


@dataclass(frozen=True)
class OrderNotice:
    """A delivery that names an order without carrying it (bol.com's thin push, Amazon's
    ORDER_CHANGE notification): ingest fetches the order through the channel's FetchesOrder."""

    order_id: str  # the channel's own order id
    # The channel says the order was deleted (WooCommerce `order.deleted`, trashed or gone):
    # when the channel no longer knows it, Keel's copy ends as cancelled.
    deleted: bool = False

    def __post_init__(self) -> None:
        """An id goes into the channel's URL: one that cannot (control characters, slashes,
        100,000 characters) is refused here, so ingest holds the delivery with the reason
        instead of failing on the URL until the message is dead-lettered."""
        if not _ORDER_ID.fullmatch(self.order_id):
            raise ValueError(f"not an order id: {self.order_id[:60]!r}")


@dataclass(frozen=True)
class ListingChanged:
    """A channel's news that one of the account's listings changed on its side (a hand edit in
    the admin, another app): ingest reads that listing again and compares it with what Keel
    derives (reconciliation for one listing). The news's own values are never acted on: Keel's
    own writes come back as the same news, and a read that agrees ends there (no loop)."""

    refs: tuple[tuple[str, str], ...]  # (listing ref kind, value): ("inventory_item_id", "7")
    marketplace: str = ""  # "" where the channel has none, or the news names none

    def __post_init__(self) -> None:
        if not self.refs or any(not value for _, value in self.refs):
            raise ValueError("a listing change names no listing")


@runtime_checkable
class ParsesWebhooks(Protocol):
    """Parses what a channel delivered (a webhook body, or a notification from a queue)."""

    channel: str

    def parse_webhook(
        self, headers: Mapping[str, str], raw_body: bytes, account: str
    ) -> Order | OrderNotice | ListingChanged | None:
        """A canonical order of `account` (the one the channel's secret serves: the webhook
        refused any other), a notice naming an order to fetch, news of a listing changed on the
        channel, or None when the topic is not one Keel acts on."""
        ...


@runtime_checkable
class FetchesOrder(Protocol):
    channel: str
    account: str

    def fetch_order(self, order_id: str) -> Order | None:
        """The order as the channel shows it now; None when the channel does not know it
        (NothingToDo is not raised for that). Raises the classified ChannelErrors."""
        ...


@runtime_checkable
class SetsStock(Protocol):
    channel: str

    def set_stock(self, items: Sequence[StockUpdate]) -> list[StockResult]:
        """One result per item, in order; raises RetryableError when the whole call failed."""
        ...


@dataclass(frozen=True)
class PriceUpdate:
    """The price a listing must show (VAT included, in the listing's currency), and the
    regular price struck through beside it during a sale (None: no sale)."""

    listing: Listing
    price: Decimal
    compare_at: Decimal | None = None
    currency: str = "EUR"


@dataclass(frozen=True)
class PriceResult:
    listing: Listing
    error: Exception | None = None  # a ChannelError subclass when this item failed
    pending: PendingStock | None = None  # accepted, not applied (bol.com 202, Amazon ACCEPTED)


@runtime_checkable
class SetsPrices(Protocol):
    channel: str

    def set_prices(self, items: Sequence[PriceUpdate]) -> list[PriceResult]:
        """One result per item, in order; raises RetryableError when the whole call failed."""
        ...


@runtime_checkable
class ConfirmsPrices(Protocol):
    """Offered by a SetsPrices adapter whose writes are accepted before they are applied."""

    channel: str

    def check_prices(
        self, pending: Sequence[tuple[PriceUpdate, PendingStock]]
    ) -> list[PendingCheck]:
        """One check per item, in order; raises RetryableError when the whole call failed."""
        ...


@dataclass(frozen=True)
class CompetingOffers:
    """A channel's news that the offers beside one of Keel's listings changed (Amazon
    ANY_OFFER_CHANGED, bol COMPETING_OFFER): the repricer's input. `product_ref` is the value of
    the listing ref the channel names products by (Channel.offer_ref: the ASIN, the EAN)."""

    product_ref: str
    marketplace: str  # "" where the channel has none
    offers: tuple[Offer, ...]  # Keel's own offer included when the channel lists it
    changed_at: datetime
    currency: str = "EUR"
    ignore: str | None = None  # why Keel must not act on it (an External change, a used item)


@runtime_checkable
class ReadsOfferChanges(Protocol):
    """Reads a delivery that tells of competing offers (the same doors orders come through)."""

    channel: str

    def parse_offers(self, raw_body: bytes, account: str) -> CompetingOffers | None:
        """None: not an offer notification (an order one, say). Raises ValueError when it is one
        but cannot be read, or names another seller than `account`."""
        ...


@runtime_checkable
class ReadsCompetition(Protocol):
    """Reads the offers beside one of Keel's listings on demand (bol's products offers): the
    repricer's scheduled backstop where the channel's own events do not reach Keel."""

    channel: str

    def competing_offers(self, listing: Listing) -> CompetingOffers:
        """Raises the classified ChannelErrors."""
        ...


@dataclass(frozen=True)
class ChannelFee:
    """What the channel takes of a sale at a price: a percentage of the price and an amount per
    item (what a listing's floor must leave the margin after)."""

    percent: Decimal
    fixed: Decimal
    said: str  # the channel's own figures, for the record


@runtime_checkable
class EstimatesFees(Protocol):
    """The channel's fee for selling a listing at a price (bol's commission, Amazon's fees
    estimate)."""

    channel: str

    def fee(self, listing: Listing, price: Decimal, currency: str) -> ChannelFee:
        """Raises the classified ChannelErrors."""
        ...


__all__ = ["ChannelListing"]  # onboarding's and reconciliation's unit, from the domain


@runtime_checkable
class ReadsListings(Protocol):
    """Enumerates an account's listings as the channel shows them (onboarding's discovery,
    reconciliation), through the channel's bulk path and within its rate limits."""

    channel: str

    def read_listings(self, marketplace: str = "") -> Iterator[ChannelListing]:
        """Every listing of the account (in `marketplace`, where the channel has them). Rows
        from a report that may be hours old (Amazon, bol) say `confirmed=False`: candidates,
        read again with `read_listing` before acting on them. Raises the classified errors."""
        ...

    def read_listing(self, refs: Mapping[str, str], marketplace: str = "") -> ChannelListing | None:
        """One listing as the channel shows it now, by the refs Keel's listing holds; None
        when the channel no longer has it."""
        ...


@dataclass(frozen=True)
class Subscription:
    """One thing Keel asked the channel to deliver (a webhook topic, a notification type)."""

    id: str
    topic: str
    address: str  # where it delivers: a webhook URL, a queue ARN
    active: bool
    detail: str = ""  # the channel's own word on its state (Woo "disabled", bol "enabled")
    ours: bool = True  # Keel made it (a store's webhook list also holds other plugins')


@runtime_checkable
class ManagesSubscriptions(Protocol):
    """Registers the deliveries Keel needs (Channel.subscriptions) and reports on them:
    `keel channels connect | status`, and reconciliation's re-arming."""

    channel: str

    def subscriptions(self) -> list[Subscription]:
        """What the account has registered now (Keel's and any other app's)."""
        ...

    def subscribe(self, topic: str, address: str) -> Subscription:
        """Register `topic` to deliver to `address`."""
        ...

    def repair(self, subscription: Subscription, address: str) -> Subscription:
        """Point an existing subscription at `address` and make it active again (a webhook
        the channel disabled after failed deliveries, an old endpoint)."""
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


@runtime_checkable
class CancelsLines(Protocol):
    """The oversell policy "cancel the short lines": the channel cuts lines of an order Keel
    cannot supply, and tells the buyer (`note`) where it can."""

    channel: str

    def cancel_lines(self, order: Order, cuts: Sequence[LineCut], note: str) -> None:
        """Set each cut line to its `keep` quantity (0: remove it). Raises NothingToDo when the
        channel already shows the cut (a retry) or the order is over there, else the
        classified errors."""
        ...


@runtime_checkable
class AcceptsCancellations(Protocol):
    """Offered by channels where the buyer only asks to cancel and the merchant decides (bol.com
    `cancellationRequest`). Keel's policy is to accept while nothing has shipped: the intake has
    already released those lines' stock (the parser left them out)."""

    channel: str

    def accept_cancellation(self, order: Order, line_ids: Sequence[str]) -> None:
        """Accept the buyer's cancellation of these channel lines. Raises NothingToDo when the
        channel already shows them cancelled, else the classified errors."""
        ...
