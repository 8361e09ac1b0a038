"""A Shopify order as Admin GraphQL (2026-10) answers it -> the canonical order, equal to what the
webhook parser (orders.py) makes of the same order's REST body.

Equal by construction: the GraphQL node is read into its own model (the shape this module's
documents select), rewritten field by field into the REST order model, and handed to the same
`to_order`. Every check the webhook path makes (strict ids, plain decimal amounts, aware
timestamps) applies to polled orders too. What differs between the two APIs lives here:
numeric ids from gids and `legacyResourceId`, enums in upper case, current amounts always
present in GraphQL.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from pydantic.alias_generators import to_camel

from shared.channels.shopify.orders import ShopifyOrder, to_order
from shared.domain.orders import Order

LegacyId = Annotated[str, Field(pattern=r"^[1-9][0-9]{0,18}$")]  # UnsignedInt64, as a string
LineItemGid = Annotated[str, Field(pattern=r"^gid://shopify/LineItem/[1-9][0-9]{0,18}$")]


class _Node(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, extra="ignore", frozen=True)


class Money(_Node):
    amount: StrictStr  # GraphQL's Decimal is a string; the REST model checks it is plain
    currency_code: StrictStr


class MoneyBag(_Node):
    shop_money: Money
    presentment_money: Money


class PageInfo(_Node):
    has_next_page: StrictBool
    end_cursor: str | None = None


class Variant(_Node):
    legacy_resource_id: LegacyId


class LineItem(_Node):
    id: LineItemGid
    quantity: StrictInt
    current_quantity: StrictInt
    sku: str | None = None
    title: str
    is_gift_card: StrictBool
    variant: Variant | None  # null: a custom item, a tip, or a deleted variant
    original_unit_price_set: MoneyBag


class LineItems(_Node):
    page_info: PageInfo
    nodes: list[LineItem]


class Address(_Node):
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    zip: str | None = None
    province_code: str | None = None
    country_code_v2: str | None = None
    phone: str | None = None


class RefundRef(_Node):
    id: StrictStr


class OrderNode(_Node):
    """One node of `orders` (graphql.ORDERS_QUERY)."""

    id: StrictStr
    legacy_resource_id: LegacyId
    name: StrictStr
    created_at: StrictStr
    updated_at: StrictStr
    cancelled_at: str | None = None
    currency_code: StrictStr
    presentment_currency_code: StrictStr
    taxes_included: StrictBool
    display_financial_status: str | None = None
    email: str | None = None
    current_total_price_set: MoneyBag
    current_total_discounts_set: MoneyBag
    current_shipping_price_set: MoneyBag
    current_total_tax_set: MoneyBag
    total_tip_received_set: MoneyBag
    current_total_duties_set: MoneyBag | None = None
    original_total_duties_set: MoneyBag | None = None
    current_total_additional_fees_set: MoneyBag | None = None
    original_total_additional_fees_set: MoneyBag | None = None
    shipping_address: Address | None = None
    line_items: LineItems
    refunds: list[RefundRef]


class RefundLineItemRef(_Node):
    id: LineItemGid


class RefundLineItem(_Node):
    quantity: StrictInt
    restock_type: StrictStr
    line_item: RefundLineItemRef


class RefundLineItems(_Node):
    page_info: PageInfo
    nodes: list[RefundLineItem]


class PresentmentOnly(_Node):
    presentment_money: Money


class Transaction(_Node):
    kind: StrictStr
    status: StrictStr
    amount_set: PresentmentOnly


class Transactions(_Node):
    page_info: PageInfo
    nodes: list[Transaction]


class Refund(_Node):
    """One of `order.refunds` (graphql.ORDER_REFUNDS_QUERY)."""

    legacy_resource_id: LegacyId
    created_at: str | None = None  # nullable in the schema: processedAt stands in
    processed_at: StrictStr
    note: str | None = None
    refund_line_items: RefundLineItems
    transactions: Transactions

    @property
    def complete(self) -> bool:
        """False when a connection had more than the read asked for."""
        return not (
            self.refund_line_items.page_info.has_next_page
            or self.transactions.page_info.has_next_page
        )


def _numeric(gid: str) -> int:
    return int(gid.rsplit("/", 1)[1])


def _money(m: Money) -> dict[str, str]:
    return {"amount": m.amount, "currency_code": m.currency_code}


def _bag(bag: MoneyBag | None) -> dict[str, Any] | None:
    if bag is None:
        return None
    return {
        "shop_money": _money(bag.shop_money),
        "presentment_money": _money(bag.presentment_money),
    }


def _line(li: LineItem) -> dict[str, Any]:
    return {
        "id": _numeric(li.id),
        "quantity": li.quantity,
        "current_quantity": li.current_quantity,
        "sku": li.sku,
        "variant_id": int(li.variant.legacy_resource_id) if li.variant else None,
        "gift_card": li.is_gift_card,
        "title": li.title,
        "price_set": _bag(li.original_unit_price_set),  # REST price_set: before discounts
    }


def _refund(refund: Refund) -> dict[str, Any]:
    return {
        "id": int(refund.legacy_resource_id),
        "created_at": refund.created_at or refund.processed_at,
        "note": refund.note,
        "refund_line_items": [
            {
                "line_item_id": _numeric(rli.line_item.id),
                "quantity": rli.quantity,
                "restock_type": rli.restock_type.lower(),  # NO_RESTOCK -> no_restock
            }
            for rli in refund.refund_line_items.nodes
        ],
        "transactions": [
            {
                "kind": t.kind.lower(),
                "status": t.status.lower(),
                "amount": t.amount_set.presentment_money.amount,
                "currency": t.amount_set.presentment_money.currency_code,
            }
            for t in refund.transactions.nodes
        ],
    }


def _address(a: Address | None) -> dict[str, Any] | None:
    if a is None:
        return None
    return {
        "name": a.name,
        "first_name": a.first_name,
        "last_name": a.last_name,
        "company": a.company,
        "address1": a.address1,
        "address2": a.address2,
        "city": a.city,
        "zip": a.zip,
        "province_code": a.province_code,
        "country_code": a.country_code_v2,
        "phone": a.phone,
    }


def as_rest(node: OrderNode, lines: list[LineItem], refunds: list[Refund]) -> ShopifyOrder:
    """The REST order model for a node, its complete lines and refunds. Raises pydantic's
    ValidationError where the webhook parser would refuse the same values."""
    current_total = _bag(node.current_total_price_set)
    return ShopifyOrder.model_validate(
        {
            "id": int(node.legacy_resource_id),
            "name": node.name,
            "created_at": node.created_at,
            "updated_at": node.updated_at,
            "cancelled_at": node.cancelled_at,
            "currency": node.currency_code,
            "presentment_currency": node.presentment_currency_code,
            "line_items": [_line(li) for li in lines],
            "taxes_included": node.taxes_included,
            # The original totals are required by the REST model but never read when the
            # current ones are there, as they always are from GraphQL: the current ones stand in.
            "total_price_set": current_total,
            "total_discounts_set": _bag(node.current_total_discounts_set),
            "total_shipping_price_set": _bag(node.current_shipping_price_set),
            "total_tax_set": _bag(node.current_total_tax_set),
            "current_total_price_set": current_total,
            "current_total_discounts_set": _bag(node.current_total_discounts_set),
            "current_shipping_price_set": _bag(node.current_shipping_price_set),
            "current_total_tax_set": _bag(node.current_total_tax_set),
            "total_tip_received": node.total_tip_received_set.shop_money.amount,
            "current_total_duties_set": _bag(node.current_total_duties_set),
            "original_total_duties_set": _bag(node.original_total_duties_set),
            "current_total_additional_fees_set": _bag(node.current_total_additional_fees_set),
            "original_total_additional_fees_set": _bag(node.original_total_additional_fees_set),
            "refunds": [_refund(r) for r in refunds],
            "financial_status": (node.display_financial_status or "").lower() or None,
            "shipping_address": _address(node.shipping_address),
            "email": node.email,
        }
    )


def to_polled_order(
    node: OrderNode, lines: list[LineItem], refunds: list[Refund], account: str
) -> Order:
    """The canonical order, as the webhook path would make it from the same order."""
    return to_order(as_rest(node, lines, refunds), account)
