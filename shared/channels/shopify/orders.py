"""Shopify order webhooks (orders/create) -> canonical orders. Shapes: API 2026-10."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.channels.shopify.signature import TOPIC_HEADER
from shared.domain.orders import Money, Order, OrderLine

CHANNEL = "shopify"
ORDER_TOPICS = frozenset({"orders/create"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ShopifyMoney(_Model):
    amount: Decimal
    currency_code: str = Field(min_length=3, max_length=3)


class ShopifyMoneyBag(_Model):
    shop_money: ShopifyMoney
    presentment_money: ShopifyMoney


class ShopifyLineItem(_Model):
    id: int
    quantity: int = Field(gt=0)
    sku: str | None = None
    variant_id: int | None = None
    title: str = ""
    price_set: ShopifyMoneyBag


class ShopifyOrder(_Model):
    id: int
    name: str
    created_at: datetime
    updated_at: datetime
    currency: str
    presentment_currency: str
    total_price_set: ShopifyMoneyBag
    line_items: list[ShopifyLineItem]

    @field_validator("created_at", "updated_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("timestamp without a time zone")
        return value.astimezone(UTC)


def _money(m: ShopifyMoney) -> Money:
    return Money(m.amount, m.currency_code)


def to_order(raw: ShopifyOrder) -> Order:
    return Order(
        channel=CHANNEL,
        external_id=str(raw.id),
        name=raw.name,
        created_at=raw.created_at,
        channel_updated_at=raw.updated_at,
        total=_money(raw.total_price_set.shop_money),
        presentment_total=_money(raw.total_price_set.presentment_money),
        lines=tuple(
            OrderLine(
                line_id=str(li.id),
                quantity=li.quantity,
                unit_price=_money(li.price_set.shop_money),
                presentment_unit_price=_money(li.price_set.presentment_money),
                title=li.title,
                channel_sku=li.sku or None,
                channel_variant_id=str(li.variant_id) if li.variant_id is not None else None,
            )
            for li in raw.line_items
        ),
    )


class ShopifyOrdersInbound:
    """Inbound half of the Shopify adapter: parse a verified webhook body into an order."""

    channel = CHANNEL

    def parse_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> Order | None:
        topic = {k.lower(): v for k, v in headers.items()}.get(TOPIC_HEADER, "")
        if topic not in ORDER_TOPICS:
            return None
        return to_order(ShopifyOrder.model_validate_json(raw_body))
