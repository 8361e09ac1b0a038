"""The Shopify sandbox's orders, as Admin GraphQL 2026-10 shows them: one `Order` node per kept
order (the sandbox keeps the REST/webhook shape), and the `orders` connection with Shopify's
search syntax for dates, sort keys and cursor pagination.

The REST body is the one truth; GraphQL is a view of it, field for field as Shopify maps them
(REST `current_*` absent: the current amounts are the original ones; enums in upper case; ids as
gids, numeric ids as `legacyResourceId`).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLError

MAX_PAGE = 250
_TERM = re.compile(r"^(?P<field>updated_at|created_at):(?P<op>>=|<=|>|<)?'?(?P<value>[^']+)'?$")
_SORT_FIELDS = {"UPDATED_AT": "updated_at", "CREATED_AT": "created_at", "ID": "id"}


def _utc(value: str | None) -> str | None:
    """An ISO timestamp as GraphQL's DateTime writes it: UTC, "Z"."""
    if value is None:
        return None
    return _moment(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def _moment(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _money(raw: dict[str, Any]) -> dict[str, Any]:
    return {"amount": str(raw["amount"]), "currencyCode": raw["currency_code"]}


def _bag(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        return None
    return {
        "shopMoney": _money(raw["shop_money"]),
        "presentmentMoney": _money(raw["presentment_money"]),
    }


def connection(
    items: list[dict[str, Any]], cursor_of: Callable[[dict[str, Any]], str]
) -> Callable[..., dict[str, Any]]:
    """A resolver for a Relay connection over `items` (first/after; last/before)."""

    def resolve(
        info: Any,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        return _page(items, cursor_of, first, after, last, before)

    return resolve


def _page(
    items: list[dict[str, Any]],
    cursor_of: Callable[[dict[str, Any]], str],
    first: int | None,
    after: str | None,
    last: int | None = None,
    before: str | None = None,
) -> dict[str, Any]:
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last")
    for size in (first, last):
        if size is not None and not 0 <= size <= MAX_PAGE:
            raise GraphQLError(f"The first/last argument must be between 0 and {MAX_PAGE}.")
    cursors = [cursor_of(i) for i in items]
    start = cursors.index(after) + 1 if after in cursors else 0
    end = cursors.index(before) if before in cursors else len(items)
    window = list(range(start, end))
    chosen = window[:first] if first is not None else window[len(window) - (last or 0) :]
    return {
        "nodes": [items[i] for i in chosen],
        "edges": [{"cursor": cursors[i], "node": items[i]} for i in chosen],
        "pageInfo": {
            "hasNextPage": bool(chosen) and chosen[-1] < end - 1,
            "hasPreviousPage": bool(chosen) and chosen[0] > start,
            "startCursor": cursors[chosen[0]] if chosen else None,
            "endCursor": cursors[chosen[-1]] if chosen else None,
        },
    }


def _index_cursor(prefix: str) -> Callable[[dict[str, Any]], str]:
    return lambda item: base64.b64encode(f"{prefix}:{item['id']}".encode()).decode()


def line_item_node(line: dict[str, Any]) -> dict[str, Any]:
    variant_id = line.get("variant_id")
    quantity = int(line["quantity"])
    current = line.get("current_quantity")
    return {
        "__typename": "LineItem",
        "id": f"gid://shopify/LineItem/{line['id']}",
        "name": line.get("name") or line.get("title") or "",
        "title": line.get("title") or "",
        "variantTitle": line.get("variant_title"),
        "vendor": line.get("vendor"),
        "sku": line.get("sku"),
        "quantity": quantity,
        "currentQuantity": quantity if current is None else int(current),
        "isGiftCard": bool(line.get("gift_card")),
        "requiresShipping": bool(line.get("requires_shipping", True)),
        "taxable": bool(line.get("taxable", True)),
        "variant": {
            "__typename": "ProductVariant",
            "id": f"gid://shopify/ProductVariant/{variant_id}",
            "legacyResourceId": str(variant_id),
            "sku": line.get("sku"),
        }
        if variant_id
        else None,
        "originalUnitPriceSet": _bag(line.get("price_set")),
    }


def _refund_node(refund: dict[str, Any], presentment_currency: str) -> dict[str, Any]:
    restock = refund.get("restock")
    lines = [
        {
            "__typename": "RefundLineItem",
            "id": f"gid://shopify/RefundLineItem/{rli.get('id') or rli['line_item_id']}",
            "quantity": int(rli["quantity"]),
            # REST before restock_type: the refund's `restock` flag said it for every line.
            "restockType": str(
                rli.get("restock_type") or ("legacy_restock" if restock else "no_restock")
            ).upper(),
            "lineItem": {"id": f"gid://shopify/LineItem/{rli['line_item_id']}"},
        }
        for rli in refund.get("refund_line_items") or []
    ]
    transactions = []
    for t in refund.get("transactions") or []:
        money = {
            "amount": str(t["amount"]),
            "currencyCode": t.get("currency") or presentment_currency,
        }
        transactions.append(
            {
                "__typename": "OrderTransaction",
                "id": f"gid://shopify/OrderTransaction/{t.get('id') or 0}",
                "kind": str(t["kind"]).upper(),
                "status": str(t.get("status") or "success").upper(),
                "amountSet": {"shopMoney": money, "presentmentMoney": money},
            }
        )
    return {
        "__typename": "Refund",
        "id": f"gid://shopify/Refund/{refund['id']}",
        "legacyResourceId": str(refund["id"]),
        "createdAt": _utc(refund.get("created_at")),
        "processedAt": _utc(refund.get("processed_at") or refund.get("created_at")),
        "updatedAt": _utc(refund.get("created_at")),
        "note": refund.get("note"),
        "refundLineItems": connection(lines, _index_cursor("rli")),
        "transactions": connection(transactions, _index_cursor("tx")),
    }


def _address(raw: Any, order_id: int) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        return None
    return {
        "__typename": "MailingAddress",
        "id": f"gid://shopify/MailingAddress/{order_id}",
        "name": raw.get("name"),
        "firstName": raw.get("first_name"),
        "lastName": raw.get("last_name"),
        "company": raw.get("company"),
        "address1": raw.get("address1"),
        "address2": raw.get("address2"),
        "city": raw.get("city"),
        "zip": raw.get("zip"),
        "province": raw.get("province"),
        "provinceCode": raw.get("province_code"),
        "country": raw.get("country"),
        "countryCodeV2": raw.get("country_code"),
        "phone": raw.get("phone"),
    }


def order_node(order: dict[str, Any]) -> dict[str, Any]:
    """The GraphQL `Order` for a kept REST order."""
    order_id = int(order["id"])
    shop, presentment = order["currency"], order.get("presentment_currency") or order["currency"]

    def current(name: str, original: str) -> dict[str, Any] | None:
        return _bag(order.get(name) or order.get(original))

    tip = str(order.get("total_tip_received") or "0.00")
    lines = [line_item_node(li) for li in order.get("line_items") or []]
    refunds = [_refund_node(r, presentment) for r in order.get("refunds") or []]
    return {
        "__typename": "Order",
        "id": f"gid://shopify/Order/{order_id}",
        "legacyResourceId": str(order_id),
        "name": order["name"],
        "email": order.get("email") or order.get("contact_email"),
        "createdAt": _utc(order["created_at"]),
        "updatedAt": _utc(order["updated_at"]),
        "processedAt": _utc(order.get("processed_at") or order["created_at"]),
        "cancelledAt": _utc(order.get("cancelled_at")),
        "cancelReason": str(order["cancel_reason"]).upper() if order.get("cancel_reason") else None,
        "currencyCode": shop,
        "presentmentCurrencyCode": presentment,
        "taxesIncluded": bool(order.get("taxes_included")),
        "test": bool(order.get("test")),
        "displayFinancialStatus": str(order["financial_status"]).upper()
        if order.get("financial_status")
        else None,
        "totalPriceSet": _bag(order["total_price_set"]),
        "currentTotalPriceSet": current("current_total_price_set", "total_price_set"),
        "totalDiscountsSet": _bag(order.get("total_discounts_set")),
        "currentTotalDiscountsSet": current("current_total_discounts_set", "total_discounts_set"),
        "totalShippingPriceSet": _bag(order.get("total_shipping_price_set")),
        "currentShippingPriceSet": current(
            "current_shipping_price_set", "total_shipping_price_set"
        ),
        "totalTaxSet": _bag(order.get("total_tax_set")),
        "currentTotalTaxSet": current("current_total_tax_set", "total_tax_set"),
        "totalTipReceivedSet": {
            "shopMoney": {"amount": tip, "currencyCode": shop},
            "presentmentMoney": {"amount": tip, "currencyCode": presentment},
        },
        "currentTotalDutiesSet": _bag(order.get("current_total_duties_set")),
        "originalTotalDutiesSet": _bag(order.get("original_total_duties_set")),
        "currentTotalAdditionalFeesSet": _bag(order.get("current_total_additional_fees_set")),
        "originalTotalAdditionalFeesSet": _bag(order.get("original_total_additional_fees_set")),
        "shippingAddress": _address(order.get("shipping_address"), order_id),
        "lineItems": connection(lines, lambda li: base64.b64encode(li["id"].encode()).decode()),
        "refunds": lambda info, first=None: refunds[:first] if first is not None else refunds,
    }


# --- the `orders` connection ---
def _matches(order: dict[str, Any], query: str | None) -> bool:
    """Shopify's search syntax, the part Keel uses: `updated_at:>='2026-11-28T10:00:00Z'`
    (also created_at; >=, <=, >, <; terms joined by spaces or AND). Anything else is refused
    here, stricter than Shopify (which ignores a term it cannot read): a typo must fail a test,
    not silently widen the search."""
    for term in (query or "").replace(" AND ", " ").split():
        match = _TERM.match(term)
        if match is None:
            raise GraphQLError(f"sandbox: unsupported search term {term!r}")
        try:
            bound = _moment(match["value"])
        except ValueError as exc:
            raise GraphQLError(f"sandbox: not a date in {term!r}") from exc
        value = _moment(order[match["field"]]).replace(microsecond=0)
        op = match["op"] or "="
        checks = {
            ">=": value >= bound,
            "<=": value <= bound,
            ">": value > bound,
            "<": value < bound,
            "=": value == bound,
        }
        if not checks[op]:
            return False
    return True


def _sort_value(order: dict[str, Any], field: str) -> tuple[Any, int]:
    key = order[field]
    return (_moment(key) if isinstance(key, str) else int(key), int(order["id"]))


def _cursor(mark: tuple[Any, int]) -> str:
    value = mark[0].isoformat() if isinstance(mark[0], datetime) else mark[0]
    return base64.b64encode(json.dumps([value, mark[1]]).encode()).decode()


def _mark(cursor: str, field: str) -> tuple[Any, int]:
    try:
        value, order_id = json.loads(base64.b64decode(cursor, validate=True))
        return _sort_value({field: value, "id": order_id}, field)
    except (ValueError, TypeError) as exc:
        raise GraphQLError("Invalid cursor for current pagination sort.") from exc


def orders_connection(
    orders: Iterable[dict[str, Any]],
    *,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    query: str | None = None,
    sortKey: str | None = None,  # GraphQL's argument name
    reverse: bool = False,
) -> dict[str, Any]:
    """`orders(...)`: filtered by `query`, sorted by `sortKey` (then id). Keyset cursors (sort
    value, id), as Shopify's: a cursor stays valid while orders change, and an order changed
    during the paging moves past the cursor, so a later page (or poll) still finds it."""
    field = _SORT_FIELDS.get(sortKey or "ID", "id")
    marked = sorted(
        ((_sort_value(o, field), o) for o in orders if _matches(o, query)),
        key=lambda pair: pair[0],
        reverse=reverse,
    )

    def past(mark: tuple[Any, int], cursor: str) -> bool:
        bound = _mark(cursor, field)
        return mark < bound if reverse else mark > bound

    if after is not None:
        marked = [(m, o) for m, o in marked if past(m, after)]
    if before is not None:
        marked = [(m, o) for m, o in marked if not past(m, before) and m != _mark(before, field)]
    by_cursor = {_cursor(m): o for m, o in marked}
    page = _page(
        [{**order_node(o), "_cursor": c} for c, o in by_cursor.items()],
        lambda node: str(node["_cursor"]),
        first,
        None,
        last,
        None,
    )
    page["pageInfo"]["hasPreviousPage"] = after is not None or page["pageInfo"]["hasPreviousPage"]
    return page
