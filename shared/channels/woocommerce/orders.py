"""WooCommerce order webhooks (order.created, order.updated) -> canonical orders. Shapes:
REST API v3. What a delivery means is read from the signed body's `status` (cancelled or
failed: the order is over), never from the topic header.

A webhook body is the order as `GET /wp-json/wc/v3/orders/{id}` returns it. Types are strict at
the edge: ids and quantities must be JSON integers, money must be Woo's decimal strings
("12.50"); anything else is refused with a ValidationError rather than guessed at.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
)

from shared.channels.port import ListingChanged, OrderNotice
from shared.channels.woocommerce import listing_news
from shared.channels.woocommerce.signature import TOPIC_HEADER
from shared.domain.orders import Money, Order, OrderCharges, OrderLine, Refund, ShippingAddress

CHANNEL = "woocommerce"
ORDER_TOPICS = frozenset({"order.created", "order.updated"})
# Trashed or deleted by the merchant: WooCommerce sends only `{"id": N}` for it
# (WC_Webhook::build_payload), so the order is read again (trash) or ends (gone).
DELETED_TOPIC = "order.deleted"
# Statuses after which nothing ships: cancelled, failed, trash (deleted by the merchant).
ENDED = frozenset({"cancelled", "failed", "trash"})
REFUNDED = "refunded"  # every amount went back: an end too, recorded as a refund
MAX_QUANTITY = 100_000
UNIT_PRICE_PLACES = 4

# Woo formats money with wc_format_decimal: plain digits, at most one point, no exponent. Up to
# 14 integer and 4 fractional digits (18 in all) keeps every amount exact and small.
_DECIMAL_STRING = re.compile(r"\d{1,14}(?:\.\d{1,4})?")
# The *_gmt fields: "2017-03-22T19:28:02", UTC without an offset.
_GMT_STRING = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


def _decimal_string(value: Any) -> Decimal:
    """Only a bounded decimal string: a JSON number may already have lost cents as a float, and
    exponents, NaN or Infinity are not amounts."""
    if not isinstance(value, str) or _DECIMAL_STRING.fullmatch(value) is None:
        raise ValueError("money must be a decimal string like '12.50' (<= 4 decimal places)")
    return Decimal(value)


def _signed_decimal_string(value: Any) -> Decimal:
    """Fee lines may be negative (a discount entered as a fee)."""
    if isinstance(value, str) and value.startswith("-"):
        return -_decimal_string(value[1:])
    return _decimal_string(value)


def _gmt(value: Any) -> datetime:
    """Woo's *_gmt timestamps carry no offset but are UTC: make them aware."""
    if not isinstance(value, str) or _GMT_STRING.fullmatch(value) is None:
        raise ValueError("timestamp must be 'YYYY-MM-DDTHH:MM:SS' (UTC)")
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


WooMoney = Annotated[Decimal, BeforeValidator(_decimal_string)]
WooSignedMoney = Annotated[Decimal, BeforeValidator(_signed_decimal_string)]
GmtTime = Annotated[datetime, BeforeValidator(_gmt)]
Id = Annotated[StrictInt, Field(gt=0)]
Ref = Annotated[StrictInt, Field(ge=0)]  # 0: none (no variation, or a deleted product)
Quantity = Annotated[StrictInt, Field(gt=0, le=MAX_QUANTITY)]
CurrencyCode = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Z]{3}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class WooLineItem(_Model):
    id: Id
    name: StrictStr = ""
    product_id: Ref
    variation_id: Ref = 0
    quantity: Quantity
    subtotal: WooMoney  # before coupons, without tax
    total: WooMoney  # after coupons, without tax
    sku: StrictStr | None = None


class WooFeeLine(_Model):
    total: WooSignedMoney  # without tax, like every Woo line total


def _text(value: Any) -> Any:
    """Absent and null are the same empty field (shops with custom checkouts send null)."""
    return "" if value is None else value


AddressText = Annotated[StrictStr, BeforeValidator(_text)]


class WooAddress(_Model):
    """`shipping` or `billing`. An odd address must not hold the whole order: every field is
    optional, null reads as empty, and a missing street/city/country means no address."""

    first_name: AddressText = ""
    last_name: AddressText = ""
    company: AddressText = ""
    address_1: AddressText = ""
    address_2: AddressText = ""
    city: AddressText = ""
    state: AddressText = ""
    postcode: AddressText = ""
    country: AddressText = ""
    email: AddressText = ""  # billing only (shipping has none)
    phone: AddressText = ""  # shipping's since WooCommerce 5.6; billing's always


def _no_address(value: Any) -> Any:
    return {} if value is None else value


class WooRefund(_Model):
    """As an order lists it: which refund and how much (negative). Lines and restocking live
    on the refund resource, not in the order; a full refund is the order's status."""

    id: Id
    total: WooSignedMoney
    reason: StrictStr = ""


class WooOrder(_Model):
    id: Id
    number: StrictStr = Field(min_length=1)
    currency: CurrencyCode
    date_created_gmt: GmtTime
    date_modified_gmt: GmtTime
    discount_total: WooMoney
    shipping_total: WooMoney
    total: WooMoney
    total_tax: WooMoney
    prices_include_tax: StrictBool
    line_items: list[WooLineItem]
    fee_lines: list[WooFeeLine] = []
    refunds: list[WooRefund] = []
    status: StrictStr = "pending"
    shipping: Annotated[WooAddress, BeforeValidator(_no_address)] = WooAddress()
    billing: Annotated[WooAddress, BeforeValidator(_no_address)] = WooAddress()


def unit_price(line: WooLineItem) -> Decimal:
    """The price per unit before coupons: `subtotal / quantity`, from the decimal string.

    The line's `price` field is a JSON number (a PHP float: `subtotal / quantity`), so it is
    never read. The division is exact whenever the shop's own unit price had at most four
    decimal places; otherwise (a rounded subtotal such as 10.00 for three units) it is rounded
    half-even to four places, and the line's `subtotal` stays the amount of record.
    """
    with localcontext() as ctx:
        ctx.prec = 40  # 18 digits in, so every terminating quotient is exact
        exact = line.subtotal / line.quantity
        rounded = exact.quantize(Decimal(1).scaleb(-UNIT_PRICE_PLACES), rounding=ROUND_HALF_EVEN)
        return exact if rounded == exact else rounded  # "6.00" / 2 stays Decimal("3.00")


def _line(raw: WooLineItem, currency: str) -> OrderLine:
    price = Money(unit_price(raw), currency)
    item_id = raw.variation_id or raw.product_id
    return OrderLine(
        line_id=str(raw.id),
        quantity=raw.quantity,
        unit_price=price,
        presentment_unit_price=price,  # one currency per Woo order
        title=html.unescape(raw.name),  # Woo sends names HTML-escaped (&ndash;)
        channel_sku=raw.sku or None,
        channel_variant_id=str(item_id) if raw.product_id else None,
    )


def _address(raw: WooOrder) -> ShippingAddress | None:
    """The shipping address; phone and e-mail from billing where shipping has none (Woo asks
    for them at checkout only once)."""
    a, b = raw.shipping, raw.billing
    if not (a.address_1 and a.city and a.country):
        return None
    return ShippingAddress(
        name=" ".join(p for p in (a.first_name, a.last_name) if p),
        address_line_1=a.address_1,
        address_line_2=a.address_2,
        postal_code=a.postcode,
        city=a.city,
        country_code=a.country.upper(),
        company=a.company,
        region=a.state,
        phone=a.phone or b.phone,
        email=a.email or b.email,
    )


def to_order(raw: WooOrder, account: str) -> Order:
    total = Money(raw.total, raw.currency)
    return Order(
        channel=CHANNEL,
        account=account,
        external_id=str(raw.id),
        name=f"#{raw.number}",
        created_at=raw.date_created_gmt,
        channel_updated_at=raw.date_modified_gmt,
        total=total,
        presentment_total=total,
        lines=tuple(_line(li, raw.currency) for li in raw.line_items),
        charges=OrderCharges(
            discounts=raw.discount_total,
            shipping=raw.shipping_total,
            tax=raw.total_tax,
            # Woo's line, shipping and fee totals are always without tax (prices_include_tax
            # only says how the merchant typed prices): the order total adds total_tax.
            taxes_included=False,
            fees=sum((fee.total for fee in raw.fee_lines), Decimal(0)),
        ),
        cancelled_at=raw.date_modified_gmt if raw.status in ENDED else None,
        refunds=tuple(
            Refund(
                refund_id=str(r.id),
                # The order lists no refund date: the version that first shows it stands in.
                created_at=raw.date_modified_gmt,
                amount=Money(abs(r.total), raw.currency),
                note=r.reason,
            )
            for r in raw.refunds
        ),
        fully_refunded=raw.status == REFUNDED,
        shipping_address=_address(raw),
    )


class WooOrdersInbound:
    """Inbound half of the WooCommerce adapter: parse a verified webhook body into an order."""

    channel = CHANNEL

    def parse_webhook(
        self, headers: Mapping[str, str], raw_body: bytes, account: str
    ) -> Order | OrderNotice | ListingChanged | None:
        topic = {k.lower(): v for k, v in headers.items()}.get(TOPIC_HEADER, "")
        if topic == listing_news.TOPIC:
            return listing_news.listing_changed(raw_body)
        if topic == DELETED_TOPIC:
            return OrderNotice(str(DeletedOrder.model_validate_json(raw_body).id), deleted=True)
        if topic not in ORDER_TOPICS:
            return None
        return to_order(WooOrder.model_validate_json(raw_body), account)


class DeletedOrder(BaseModel):
    """What `order.deleted` carries."""

    id: Annotated[StrictInt, Field(gt=0)]
