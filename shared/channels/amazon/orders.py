"""Orders API 2026-01-01: an order (with its items, proceeds, recipient) as Keel's canonical
order, and `getOrder`, which ingest calls for an ORDER_CHANGE notification. (v0 order reads
are being retired; only `confirmShipment` stays on v0.)

Money is Amazon's decimal string; times are ISO 8601 UTC. An order Amazon fulfils (FBA) is not
Keel's stock: refused with the reason rather than reserved.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

import httpx
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from shared.channels.amazon.client import CHANNEL, SpApiClient
from shared.channels.amazon.secret import AmazonSecret
from shared.channels.errors import PermanentError
from shared.domain.orders import Money, Order, OrderLine, ShippingAddress, normalize_account
from shared.validation import describe

ORDERS = "/orders/2026-01-01/orders"
# What Keel reads of an order: money, where it goes, how it is fulfilled, cancellations.
INCLUDED_DATA = ("PROCEEDS", "RECIPIENT", "FULFILLMENT", "CANCELLATION")
MAX_QUANTITY = 100_000
_DECIMAL = re.compile(r"-?\d{1,14}(?:\.\d{1,6})?")


def _decimal(value: Any) -> Decimal:
    if not isinstance(value, str) or _DECIMAL.fullmatch(value) is None:
        raise ValueError("an amount is a decimal string like '12.50'")
    return Decimal(value)


AmazonDecimal = Annotated[Decimal, BeforeValidator(_decimal)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class AmazonMoney(_Model):
    amount: AmazonDecimal
    currencyCode: str = Field(pattern=r"^[A-Z]{3}$")

    def money(self) -> Money:
        return Money(self.amount, self.currencyCode)


class ItemPrice(_Model):
    unitPrice: AmazonMoney | None = None


class ItemProduct(_Model):
    asin: str | None = None
    title: str = ""
    sellerSku: str | None = None
    price: ItemPrice | None = None


class OrderItem(_Model):
    orderItemId: str = Field(min_length=1)
    quantityOrdered: int = Field(ge=0, le=MAX_QUANTITY)
    product: ItemProduct


class SalesChannel(_Model):
    channelName: str
    marketplaceId: str | None = None


class OrderProceeds(_Model):
    grandTotal: AmazonMoney | None = None


class OrderFulfillment(_Model):
    fulfillmentStatus: Literal[
        "PENDING_AVAILABILITY",
        "PENDING",
        "UNSHIPPED",
        "PARTIALLY_SHIPPED",
        "SHIPPED",
        "CANCELLED",
        "UNFULFILLABLE",
    ]
    fulfilledBy: str | None = None


class CustomerAddress(_Model):
    name: str = ""
    companyName: str = ""
    addressLine1: str = ""
    addressLine2: str = ""
    city: str = ""
    stateOrRegion: str = ""
    postalCode: str = ""
    countryCode: str = ""
    phone: str = ""


class Recipient(_Model):
    deliveryAddress: CustomerAddress | None = None


class AmazonOrder(_Model):
    orderId: str = Field(min_length=1)
    createdTime: AwareDatetime
    lastUpdatedTime: AwareDatetime
    salesChannel: SalesChannel
    orderItems: list[OrderItem]
    proceeds: OrderProceeds | None = None
    fulfillment: OrderFulfillment | None = None
    recipient: Recipient | None = None


def _address(raw: AmazonOrder) -> ShippingAddress | None:
    a = raw.recipient.deliveryAddress if raw.recipient else None
    if a is None or not (a.addressLine1 and a.city and a.countryCode):
        return None  # PENDING orders carry no address yet
    return ShippingAddress(
        name=a.name,
        address_line_1=a.addressLine1,
        address_line_2=a.addressLine2,
        postal_code=a.postalCode,
        city=a.city,
        country_code=a.countryCode.upper(),
        company=a.companyName,
        region=a.stateOrRegion,
        phone=a.phone,
    )


def line_ref(marketplace_id: str, seller_sku: str) -> str:
    """A listing's `marketplace_sku` ref: the same seller SKU in two marketplaces is two
    listings, so order lines match by (marketplace, seller SKU) first."""
    return f"{marketplace_id}/{seller_sku}"


def to_order(raw: AmazonOrder, account: str, currency: str) -> Order:
    """`currency`: the account's, for an order whose proceeds Amazon did not include."""
    if raw.fulfillment is not None and raw.fulfillment.fulfilledBy == "AMAZON":
        raise PermanentError(
            f"order {raw.orderId} is fulfilled by Amazon (FBA): not Keel's stock", channel=CHANNEL
        )
    marketplace = raw.salesChannel.marketplaceId or ""
    lines = []
    for item in raw.orderItems:
        if item.quantityOrdered == 0:
            continue  # a line Amazon cancelled whole: nothing to reserve or ship
        price = item.product.price.unitPrice if item.product.price else None
        unit = price.money() if price else Money(Decimal(0), currency)
        sku = item.product.sellerSku
        lines.append(
            OrderLine(
                line_id=item.orderItemId,
                quantity=item.quantityOrdered,
                unit_price=unit,
                presentment_unit_price=unit,
                title=item.product.title[:200],
                channel_sku=sku,
                channel_variant_id=line_ref(marketplace, sku) if sku and marketplace else None,
            )
        )
    total_money = raw.proceeds.grandTotal if raw.proceeds else None
    if total_money is not None:
        total = total_money.money()
    else:
        amounts = [line.unit_price.amount * line.quantity for line in lines]
        total = Money(sum(amounts, Decimal(0)), lines[0].unit_price.currency if lines else currency)
    status = raw.fulfillment.fulfillmentStatus if raw.fulfillment else None
    return Order(
        channel=CHANNEL,
        account=normalize_account(account),
        external_id=raw.orderId,
        name=raw.orderId,
        created_at=raw.createdTime,
        channel_updated_at=raw.lastUpdatedTime,
        total=total,
        presentment_total=total,
        lines=tuple(lines),
        cancelled_at=raw.lastUpdatedTime if status == "CANCELLED" else None,
        shipping_address=_address(raw),
        # Amazon has not verified the payment yet: reserve, but do not ship (or read an address)
        ready_to_ship=status not in ("PENDING", "PENDING_AVAILABILITY"),
    )


def parse_order(data: Any, account: str, currency: str) -> Order:
    """An order object of the Orders API 2026-01-01 (as getOrder and searchOrders answer)."""
    try:
        raw = AmazonOrder.model_validate(data)
    except ValidationError as exc:
        order_id = data.get("orderId", "?") if isinstance(data, dict) else "?"
        raise PermanentError(
            f"order {str(order_id)[:40]} unreadable: {describe(exc)}", channel=CHANNEL
        ) from None
    return to_order(raw, account, currency)


class AmazonOrderReader:
    """port.FetchesOrder: `getOrder` with its items, for ORDER_CHANGE notifications."""

    channel = CHANNEL

    def __init__(self, api: SpApiClient) -> None:
        self._api = api
        self.account = normalize_account(api.secret.seller_id)

    def fetch_order(self, order_id: str) -> Order | None:
        try:
            response = self._api.call(
                "getOrder",
                "GET",
                f"{ORDERS}/{order_id}",
                params={"includedData": ",".join(INCLUDED_DATA)},
            )
        except PermanentError as exc:
            if exc.status == 404:
                return None
            raise
        body = response.json()
        return parse_order(
            body.get("order") if isinstance(body, dict) else None,
            self.account,
            self._api.secret.currency,
        )

    def raw_order(self, order_id: str) -> dict[str, Any]:
        """The order as Amazon answers it (the shipment confirmation reads its state)."""
        response = self._api.call(
            "getOrder",
            "GET",
            f"{ORDERS}/{order_id}",
            params={"includedData": ",".join(INCLUDED_DATA)},
        )
        order: dict[str, Any] = response.json()["order"]
        return order


def fetch_order(secret: AmazonSecret, http: httpx.Client) -> AmazonOrderReader:
    """The registry's fetch_order factory."""
    return AmazonOrderReader(SpApiClient(secret, http))
