"""The canonical order: lines in SKUs, money in the shop's currency, and why it is held if it is."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from shared.domain import accounts
from shared.domain.listings import stock_slot


class OrderStatus(StrEnum):
    RESERVED = "reserved"  # every line's stock is promised to this order
    HELD = "held"  # accepted, but needs a person or more stock before it can go on
    CANCELLED = "cancelled"  # the channel cancelled it: nothing stays reserved
    # Money went back for part of it; what is still ordered goes on (reserved as it stands).
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"  # refunded in full: an end, like a cancellation
    # Handed to the carrier, confirmed on the channel, its stock taken off the shelf: what
    # the channel says later (a cancellation, a refund) is recorded, never un-ships it.
    SHIPPED = "shipped"


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError("money amounts are Decimal")
        if len(self.currency) != 3:
            raise ValueError(f"currency must be an ISO 4217 code, got {self.currency!r}")


@dataclass(frozen=True)
class OrderCharges:
    """What besides the lines makes up the total (shop currency), so a total can be checked
    against its lines before Keel trusts the order."""

    discounts: Decimal = Decimal(0)  # taken off, as a positive amount
    shipping: Decimal = Decimal(0)
    tax: Decimal = Decimal(0)
    taxes_included: bool = True  # line prices already include the tax
    fees: Decimal = Decimal(0)  # tips, payment surcharges, duties: added to the total


@dataclass(frozen=True)
class OrderLine:
    line_id: str  # the channel's line id
    quantity: int
    unit_price: Money  # shop currency
    presentment_unit_price: Money  # what the buyer saw
    title: str = ""
    channel_sku: str | None = None  # the SKU the channel reported
    channel_variant_id: str | None = None
    sku: str | None = None  # Keel's SKU, once matched to a listing
    stock: bool = True  # False: not goods from stock (a tip, a gift card, a custom item)


@dataclass(frozen=True)
class ShippingAddress:
    """Where the parcel goes, as the channel has it. Customer data: kept in the order document
    (the system of record), never logged."""

    name: str
    address_line_1: str
    postal_code: str
    city: str
    country_code: str  # ISO 3166-1 alpha-2
    address_line_2: str = ""
    company: str = ""
    region: str = ""
    phone: str = ""
    email: str = ""

    def __repr__(self) -> str:
        """Redacted: an order (or this) put in a log line by accident must not carry who the
        buyer is and where they live. Country stays: it explains carrier choices."""
        return f"ShippingAddress(<redacted>, country_code={self.country_code!r})"


@dataclass(frozen=True)
class RefundLine:
    line_id: str  # the order line it takes back
    quantity: int
    restock: bool  # the merchant put the goods back (or never took them off the shelf)


@dataclass(frozen=True)
class Refund:
    """Money the channel returned, and which lines it took back. Immutable at the channel, so
    its id is enough to know it was seen."""

    refund_id: str
    created_at: datetime
    amount: Money
    lines: tuple[RefundLine, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Order:
    channel: str
    account: str  # the shop / store / marketplace the order came from (normalized)
    external_id: str
    name: str
    created_at: datetime
    channel_updated_at: datetime
    total: Money
    presentment_total: Money
    lines: tuple[OrderLine, ...]
    status: OrderStatus = OrderStatus.RESERVED
    hold_reason: str | None = None
    history: tuple[tuple[datetime, str, str], ...] = field(default_factory=tuple)
    charges: OrderCharges | None = None  # None: the channel did not say; totals go unchecked
    cancelled_at: datetime | None = None  # the channel says the order is cancelled
    refunds: tuple[Refund, ...] = ()
    fully_refunded: bool = False  # the channel says every amount went back
    shipping_address: ShippingAddress | None = None  # None: nothing to ship to (yet)
    # False while the channel has not released the order for shipment (Amazon PENDING: payment
    # not yet verified, no address): its stock is reserved, its workflow waits for the version
    # that says so.
    ready_to_ship: bool = True
    # Channel line ids the buyer asked to cancel, waiting for the merchant (bol.com
    # `cancellationRequest`): the parser already left them out of what is reserved; Keel
    # accepts them on the channel (port.AcceptsCancellations). Not stored: what the channel
    # says now.
    cancellation_requested: tuple[str, ...] = field(default=(), compare=False)
    # Which stored write this is (0: never stored): a change is written only over the one it
    # was planned against, whoever wrote in between (a channel version, a workflow step).
    revision: int = field(default=0, compare=False)
    # The account as listings key it (shared/domain/listings.py; "" the channel's first):
    # where the order's lines are matched and its channel is told of shipments.
    listing_account: str = ""

    @property
    def slot(self) -> str:
        """The listing slot (channel and account) whose refs the order's lines match."""
        return stock_slot(self.channel, self.listing_account)

    @property
    def key(self) -> str:
        """Business key: ids are explicit about their channel and account, so two shops of
        one channel never collide."""
        return order_key(self.channel, self.account, self.external_id)

    def held(self, reason: str, at: datetime, cause: str = "") -> Order:
        """`cause`: what brought the change (a delivery, a poll, a stock arrival)."""
        return replace(
            self,
            status=OrderStatus.HELD,
            hold_reason=reason,
            history=(*self.history, (at, OrderStatus.HELD.value, _noted(reason, cause))),
        )

    def cancelled(self, at: datetime, cause: str) -> Order:
        return replace(
            self,
            status=OrderStatus.CANCELLED,
            hold_reason=None,
            history=(*self.history, (at, OrderStatus.CANCELLED.value, cause)),
        )

    def reserved(self, at: datetime, cause: str = "") -> Order:
        """Accepted with what it still orders reserved: partially refunded if money went back."""
        status = OrderStatus.PARTIALLY_REFUNDED if self.refunds else OrderStatus.RESERVED
        return replace(
            self,
            status=status,
            hold_reason=None,
            history=(*self.history, (at, status.value, _noted("stock reserved", cause))),
        )

    def refunded(self, at: datetime, cause: str) -> Order:
        return replace(
            self,
            status=OrderStatus.REFUNDED,
            hold_reason=None,
            history=(*self.history, (at, OrderStatus.REFUNDED.value, cause)),
        )

    @property
    def accepted(self) -> bool:
        """Its stock is reserved and it goes on (possibly with money partly returned)."""
        return self.status in (OrderStatus.RESERVED, OrderStatus.PARTIALLY_REFUNDED)

    @property
    def ended(self) -> bool:
        return self.status in (OrderStatus.CANCELLED, OrderStatus.REFUNDED)

    def shipped(self, at: datetime, note: str) -> Order:
        return replace(
            self,
            status=OrderStatus.SHIPPED,
            hold_reason=None,
            history=(*self.history, (at, OrderStatus.SHIPPED.value, note)),
        )

    def noted(self, at: datetime, note: str) -> Order:
        """A history entry that does not change the status (a workflow step, a late change)."""
        return replace(self, history=(*self.history, (at, self.status.value, note)))

    def new_refunds(self, before: Order | None) -> tuple[Refund, ...]:
        """Refunds this version carries that `before` did not."""
        seen = {r.refund_id for r in before.refunds} if before else set()
        return tuple(r for r in self.refunds if r.refund_id not in seen)


def order_key(channel: str, account: str, external_id: str) -> str:
    return f"{channel}#{account}#{external_id}"


def normalize_account(value: str) -> str:
    """One spelling per account (shared.domain.accounts, where the webhook's path takes it)."""
    return accounts.normalize_account(value)


def _noted(what: str, cause: str) -> str:
    return f"{what} ({cause})" if cause else what
