"""Shopify order webhooks (orders/create, orders/updated, orders/cancelled, ...) -> canonical
orders. Shapes: API 2026-10.

What a delivery means is read from its signed body, not from the unsigned topic header: every
orders/* body is the order as it is now (`cancelled_at` set: cancelled; `current_quantity`: the
lines after edits and removals; `refunds` and `financial_status`: what went back). The topic
only says whether the body is an order at all: `refunds/create` carries a refund without the
order's new version, so Keel takes the refund from the orders/updated Shopify sends with it
(and from the poll), where it comes with the lines it changed."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, field_validator

from shared.channels.port import ListingChanged
from shared.channels.shopify import listing_news
from shared.channels.shopify.signature import TOPIC_HEADER
from shared.domain.orders import (
    Money,
    Order,
    OrderCharges,
    OrderLine,
    Refund,
    RefundLine,
    ShippingAddress,
)

CHANNEL = "shopify"
# Topics whose body is the whole order (orders/edited and orders/delete carry other shapes).
ORDER_TOPICS = frozenset(
    {
        "orders/create",
        "orders/updated",
        "orders/cancelled",
        "orders/paid",
        "orders/fulfilled",
        "orders/partially_fulfilled",
    }
)
MAX_LINE_QUANTITY = 100_000
_PLAIN_DECIMAL = re.compile(r"-?[0-9]{1,18}(?:\.[0-9]{1,18})?")


def _plain_amount(value: object) -> object:
    """Shopify sends amounts as plain decimal strings ("12.50"). Anything else a Decimal would
    take - "1E+999999999", "NaN", " 5", "1_000", a boolean - is refused, not interpreted."""
    if isinstance(value, bool):
        raise ValueError("an amount is a decimal string or a number, not a boolean")
    if isinstance(value, str) and not _PLAIN_DECIMAL.fullmatch(value):
        # The value stays out of the message: it is logged and stored as a hold reason.
        raise ValueError("not a plain decimal amount")
    return value


# Strict: JSON `true` or "2" is not an id or a quantity (lax mode would take both).
ShopifyId = Annotated[int, Field(strict=True, gt=0, lt=2**63)]
Quantity = Annotated[int, Field(strict=True, gt=0, le=MAX_LINE_QUANTITY)]
Amount = Annotated[
    Decimal,
    BeforeValidator(_plain_amount),
    Field(max_digits=18, decimal_places=4, allow_inf_nan=False),
]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ShopifyMoney(_Model):
    amount: Amount
    currency_code: Currency


class ShopifyMoneyBag(_Model):
    shop_money: ShopifyMoney
    presentment_money: ShopifyMoney


class ShopifyLineItem(_Model):
    id: ShopifyId
    quantity: Quantity
    # After edits and removals; 0 for a line removed from the order. Absent in old payloads.
    current_quantity: Annotated[int, Field(strict=True, ge=0, le=MAX_LINE_QUANTITY)] | None = None
    sku: str | None = None
    variant_id: ShopifyId | None = None
    gift_card: StrictBool = False
    title: str = ""
    price_set: ShopifyMoneyBag


# How a refunded line's goods came back: "cancel" (never shipped), "return" (sent back),
# "legacy_restock"; "no_restock" keeps them off the shelf.
RESTOCKED = frozenset({"cancel", "return", "legacy_restock"})


class ShopifyRefundLineItem(_Model):
    line_item_id: ShopifyId
    quantity: Annotated[int, Field(strict=True, ge=0, le=MAX_LINE_QUANTITY)]
    restock_type: str | None = None


class ShopifyTransaction(_Model):
    kind: str
    status: str | None = None
    amount: Amount
    currency: Currency | None = None


class ShopifyRefund(_Model):
    id: ShopifyId
    created_at: datetime
    note: str | None = None
    restock: StrictBool | None = None  # deprecated; the lines' restock_type says it per line
    refund_line_items: list[ShopifyRefundLineItem] = []
    transactions: list[ShopifyTransaction] = []

    @field_validator("created_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("timestamp without a time zone")
        return value.astimezone(UTC)


class ShopifyAddress(_Model):
    """Only what a parcel needs; every field optional (digital orders and odd shops)."""

    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    zip: str | None = None
    province_code: str | None = None
    country_code: str | None = None
    phone: str | None = None


class ShopifyOrder(_Model):
    id: ShopifyId
    name: str
    created_at: datetime
    updated_at: datetime
    cancelled_at: datetime | None = None
    currency: Currency
    presentment_currency: Currency
    total_price_set: ShopifyMoneyBag
    line_items: list[ShopifyLineItem]
    # What besides the lines makes up the total. Every 2026-10 order payload carries them, so a
    # body without them is not an order Keel can check: refused (held), never guessed.
    total_discounts_set: ShopifyMoneyBag
    total_shipping_price_set: ShopifyMoneyBag
    total_tax_set: ShopifyMoneyBag
    taxes_included: StrictBool
    # Also in total_price: tips, duties and additional fees (absent or null when none).
    total_tip_received: Amount | None = None
    original_total_duties_set: ShopifyMoneyBag | None = None
    original_total_additional_fees_set: ShopifyMoneyBag | None = None
    # The same after edits and refunds, matching current_quantity (absent in old payloads).
    current_total_price_set: ShopifyMoneyBag | None = None
    current_total_discounts_set: ShopifyMoneyBag | None = None
    current_shipping_price_set: ShopifyMoneyBag | None = None
    current_total_tax_set: ShopifyMoneyBag | None = None
    current_total_duties_set: ShopifyMoneyBag | None = None
    current_total_additional_fees_set: ShopifyMoneyBag | None = None
    refunds: list[ShopifyRefund] = []
    financial_status: str | None = None  # "refunded": every amount went back
    shipping_address: ShopifyAddress | None = None  # absent for digital-only orders
    email: str | None = None
    contact_email: str | None = None

    @field_validator("created_at", "updated_at", "cancelled_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamp without a time zone")
        return value.astimezone(UTC)


def _money(m: ShopifyMoney) -> Money:
    return Money(m.amount, m.currency_code)


def _charges(raw: ShopifyOrder) -> OrderCharges:
    """In shop money, like the total they explain; the current amounts where Shopify sends
    them, as the lines are their current quantities."""
    current = raw.current_total_price_set is not None

    def pick(now: ShopifyMoneyBag | None, original: ShopifyMoneyBag | None) -> Decimal:
        bag = now if current and now is not None else original
        return bag.shop_money.amount if bag is not None else Decimal(0)

    return OrderCharges(
        discounts=pick(raw.current_total_discounts_set, raw.total_discounts_set),
        shipping=pick(raw.current_shipping_price_set, raw.total_shipping_price_set),
        tax=pick(raw.current_total_tax_set, raw.total_tax_set),
        taxes_included=raw.taxes_included,
        fees=(raw.total_tip_received or Decimal(0))
        + pick(raw.current_total_duties_set, raw.original_total_duties_set)
        + pick(raw.current_total_additional_fees_set, raw.original_total_additional_fees_set),
    )


def _total(raw: ShopifyOrder) -> ShopifyMoneyBag:
    return raw.current_total_price_set or raw.total_price_set


def _now_ordered(line: ShopifyLineItem) -> int:
    return line.quantity if line.current_quantity is None else line.current_quantity


def _refund(refund: ShopifyRefund, currency: str) -> Refund:
    """The money is what the successful refund transactions returned (the buyer's currency)."""
    paid = [t for t in refund.transactions if t.kind == "refund" and t.status in (None, "success")]
    return Refund(
        refund_id=str(refund.id),
        created_at=refund.created_at,
        amount=Money(
            sum((t.amount for t in paid), Decimal(0)),
            next((t.currency for t in paid if t.currency), currency),
        ),
        lines=tuple(
            RefundLine(
                line_id=str(li.line_item_id),
                quantity=li.quantity,
                restock=li.restock_type in RESTOCKED
                if li.restock_type is not None
                else bool(refund.restock),
            )
            for li in refund.refund_line_items
        ),
        note=refund.note or "",
    )


def _address(raw: ShopifyOrder) -> ShippingAddress | None:
    a = raw.shipping_address
    if a is None or not (a.address1 and a.city and a.country_code):
        return None
    name = a.name or " ".join(p for p in (a.first_name, a.last_name) if p)
    return ShippingAddress(
        name=name,
        address_line_1=a.address1,
        address_line_2=a.address2 or "",
        postal_code=a.zip or "",
        city=a.city,
        country_code=a.country_code.upper(),
        company=a.company or "",
        region=a.province_code or "",
        phone=a.phone or "",
        email=raw.email or raw.contact_email or "",
    )


def to_order(raw: ShopifyOrder, account: str) -> Order:
    return Order(
        channel=CHANNEL,
        account=account,
        external_id=str(raw.id),
        name=raw.name,
        created_at=raw.created_at,
        channel_updated_at=raw.updated_at,
        total=_money(_total(raw).shop_money),
        presentment_total=_money(_total(raw).presentment_money),
        lines=tuple(
            OrderLine(
                line_id=str(li.id),
                quantity=_now_ordered(li),
                unit_price=_money(li.price_set.shop_money),
                presentment_unit_price=_money(li.price_set.presentment_money),
                title=li.title,
                channel_sku=li.sku or None,
                channel_variant_id=str(li.variant_id) if li.variant_id is not None else None,
                # Gift cards, tips and custom items (no variant, no SKU) are not goods from stock.
                stock=not li.gift_card and (li.variant_id is not None or bool(li.sku)),
            )
            for li in raw.line_items
            if _now_ordered(li) > 0
        ),
        charges=_charges(raw),
        cancelled_at=raw.cancelled_at,
        refunds=tuple(_refund(r, raw.presentment_currency) for r in raw.refunds),
        fully_refunded=raw.financial_status == "refunded",
        shipping_address=_address(raw),
    )


class ShopifyOrdersInbound:
    """Inbound half of the Shopify adapter: parse a verified webhook body into an order."""

    channel = CHANNEL

    def parse_webhook(
        self, headers: Mapping[str, str], raw_body: bytes, account: str
    ) -> Order | ListingChanged | None:
        topic = {k.lower(): v for k, v in headers.items()}.get(TOPIC_HEADER, "")
        if topic in listing_news.TOPICS:
            return listing_news.listing_changed(topic, raw_body)
        if topic not in ORDER_TOPICS:
            return None
        return to_order(ShopifyOrder.model_validate_json(raw_body), account)
