"""bol.com orders in: the thin push names an order (`{retailerId, timestamp, event: {resource,
type, resourceId}}`), ingest reads it with `GET /retailer/orders/{order-id}` and maps it here.

What a version means:
- a line's open quantity is `quantity - quantityCancelled`; FBB lines (bol ships from its own
  stock) are kept for the record, never reserved;
- a line whose buyer asked to cancel (`cancellationRequest`, not yet shipped or cancelled) is
  taken out of what Keel reserves and named in `Order.cancellation_requested`: Keel accepts
  the request on bol by policy (port.AcceptsCancellations, `PUT /retailer/orders/cancellation`);
- nothing left to ship from any line: the order is cancelled (its reservation released).
Lines match listings by offer id (`offer_id`), then by EAN (the listing's `sku` ref).
Money is read as Decimal from the JSON text, never through a float.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC
from decimal import Decimal
from typing import Annotated

import httpx
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictStr, ValidationError

from shared.channels.bol.client import CHANNEL, BolClient
from shared.channels.bol.secret import BolSecret
from shared.channels.errors import PermanentError
from shared.channels.port import OrderNotice
from shared.domain.orders import Money, Order, OrderLine, ShippingAddress, normalize_account
from shared.validation import describe

CURRENCY = "EUR"  # bol.com sells in euros only
FBB = "FBB"
Quantity = Annotated[int, Field(ge=0, le=100_000, strict=True)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class PushEvent(_Model):
    resource: StrictStr
    type: StrictStr = ""
    resourceId: StrictStr  # bol's field names


class PushMessage(_Model):
    retailerId: int | StrictStr
    timestamp: StrictStr = ""
    event: PushEvent


class BolOffer(_Model):
    offerId: StrictStr | None = None
    reference: StrictStr | None = None


class BolProduct(_Model):
    ean: StrictStr
    title: StrictStr = ""


class BolFulfilment(_Model):
    method: StrictStr = "FBR"


class BolOrderItem(_Model):
    orderItemId: StrictStr
    cancellationRequest: bool = False
    fulfilment: BolFulfilment = BolFulfilment()
    offer: BolOffer = BolOffer()
    product: BolProduct
    quantity: Quantity
    quantityShipped: Quantity = 0
    quantityCancelled: Quantity = 0
    unitPrice: Decimal = Field(ge=0)
    latestChangedDateTime: AwareDatetime | None = None

    @property
    def open_quantity(self) -> int:
        return max(0, self.quantity - self.quantityShipped - self.quantityCancelled)

    @property
    def cancel_requested(self) -> bool:
        return self.cancellationRequest and self.open_quantity > 0


class BolAddress(_Model):
    firstName: StrictStr = ""
    surname: StrictStr = ""
    streetName: StrictStr = ""
    houseNumber: StrictStr = ""
    houseNumberExtension: StrictStr = ""
    extraAddressInformation: StrictStr = ""
    zipCode: StrictStr = ""
    city: StrictStr = ""
    countryCode: StrictStr = ""
    email: StrictStr = ""
    company: StrictStr = ""
    deliveryPhoneNumber: StrictStr = ""


class BolOrder(_Model):
    orderId: StrictStr = Field(min_length=1)
    orderPlacedDateTime: AwareDatetime
    shipmentDetails: BolAddress | None = None
    orderItems: list[BolOrderItem] = Field(min_length=1)


def parse_order(raw: bytes | str) -> BolOrder:
    """The JSON text of `GET /retailer/orders/{id}`: numbers as Decimal, never floats."""
    return BolOrder.model_validate(json.loads(raw, parse_float=Decimal))


def _address(a: BolAddress | None) -> ShippingAddress | None:
    if a is None or not (a.streetName and a.city and a.countryCode):
        return None
    number = f"{a.houseNumber}{('-' + a.houseNumberExtension) if a.houseNumberExtension else ''}"
    return ShippingAddress(
        name=" ".join(p for p in (a.firstName, a.surname) if p),
        address_line_1=f"{a.streetName} {number}".strip(),
        address_line_2=a.extraAddressInformation,
        postal_code=a.zipCode,
        city=a.city,
        country_code=a.countryCode.upper(),
        company=a.company,
        phone=a.deliveryPhoneNumber,
        email=a.email,
    )


def to_order(raw: BolOrder, account: str) -> Order:
    placed = raw.orderPlacedDateTime.astimezone(UTC)  # bol stamps in Amsterdam time
    updated = max(
        [placed]
        + [
            i.latestChangedDateTime.astimezone(UTC)
            for i in raw.orderItems
            if i.latestChangedDateTime
        ]
    )
    requested = tuple(i.orderItemId for i in raw.orderItems if i.cancel_requested)

    def kept(item: BolOrderItem) -> int:
        """What Keel still reserves or ships for a line."""
        if item.cancel_requested:
            return item.quantityShipped
        return item.quantity - item.quantityCancelled

    ended = all(kept(i) == 0 for i in raw.orderItems)
    lines = []
    for item in raw.orderItems:
        quantity = item.quantity if ended else kept(item)
        if quantity == 0:
            continue
        price = Money(item.unitPrice, CURRENCY)
        lines.append(
            OrderLine(
                line_id=item.orderItemId,
                quantity=quantity,
                unit_price=price,
                presentment_unit_price=price,
                title=item.product.title,
                channel_sku=item.product.ean,
                channel_variant_id=item.offer.offerId,
                stock=item.fulfilment.method != FBB,
            )
        )
    total = Money(sum((ln.unit_price.amount * ln.quantity for ln in lines), Decimal(0)), CURRENCY)
    return Order(
        channel=CHANNEL,
        account=account,
        external_id=raw.orderId,
        name=raw.orderId,
        created_at=placed,
        channel_updated_at=updated,
        total=total,
        presentment_total=total,
        lines=tuple(lines),
        cancelled_at=updated if ended else None,
        shipping_address=_address(raw.shipmentDetails),
        cancellation_requested=requested,
    )


class BolOrdersInbound:
    """The thin push: an ORDER event names the order to fetch; other resources (PROCESS_STATUS,
    ...) are not acted on here. A push for another retailer is refused (held)."""

    channel = CHANNEL

    def parse_webhook(
        self, headers: Mapping[str, str], raw_body: bytes, account: str
    ) -> Order | OrderNotice | None:
        push = PushMessage.model_validate_json(raw_body)
        if normalize_account(str(push.retailerId)) != account:
            raise ValueError("a push for another retailer than the one this secret serves")
        if push.event.resource != "ORDER":
            return None
        return OrderNotice(push.event.resourceId)


class BolOrderReader:
    """`GET /retailer/orders/{order-id}` -> the canonical order (port.FetchesOrder)."""

    channel = CHANNEL

    def __init__(self, secret: BolSecret, http: httpx.Client) -> None:
        self.client = BolClient(secret, http)
        self.account = normalize_account(secret.retailer_id)

    def fetch_order(self, order_id: str) -> Order | None:
        try:
            response = self.client.call(
                "GET", f"/retailer/orders/{order_id}", endpoint="/retailer/orders/{order-id}"
            )
        except PermanentError as exc:
            if exc.status == 404:
                return None
            raise
        try:
            return to_order(parse_order(response.content), self.account)
        except ValueError as exc:  # pydantic's ValidationError included: where, not values
            what = describe(exc) if isinstance(exc, ValidationError) else "not JSON"
            raise PermanentError(f"unreadable order {order_id}: {what}", channel=CHANNEL) from None


def fetch_order(secret: BolSecret, http: httpx.Client) -> BolOrderReader:
    """The registry's fetch_order factory."""
    return BolOrderReader(secret, http)
