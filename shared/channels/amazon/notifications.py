"""SP-API notifications as they arrive on Keel's queue: an ORDER_CHANGE names an order (it
carries no prices, and not every new order is announced), so it becomes an `OrderNotice` and
ingest reads the order with `getOrder`. An ANY_OFFER_CHANGED tells of the offers beside one of
the seller's ASINs: it becomes `CompetingOffers` for the repricer. A
LISTINGS_ITEM_MFN_QUANTITY_CHANGE names a seller SKU whose quantity moved: `ListingChanged`, read
again by ingest. Every other notification type is rejected with a reason.

Unsigned: the queue's policy is the trust, so the seller the notification names must be the
one this account's secret serves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from shared.channels.port import CompetingOffers, ListingChanged, OrderNotice
from shared.domain.orders import Order, normalize_account
from shared.domain.pricing import Offer

CHANNEL = "amazon"
ORDER_CHANGE = "ORDER_CHANGE"
# A seller SKU's merchant-fulfilled quantity changed (a hand edit in Seller Central, another
# app): no marketplace, the quantity is the seller SKU's in all of them.
QUANTITY_CHANGE = "LISTINGS_ITEM_MFN_QUANTITY_CHANGE"
ANY_OFFER_CHANGED = "ANY_OFFER_CHANGED"
BUY_BOX = "buy-box"  # the seller id given to the Buy Box price of the summary
LOWEST = "lowest-"  # and to the summary's lowest price per fulfillment channel


@dataclass(frozen=True)
class Rejected:
    """A notification Keel does not act on, and why."""

    reason: str


def _field(body: Mapping[str, Any], name: str) -> Any:
    """SP-API notifications spell their envelope both ways (`NotificationType` in the order and
    listing ones, `notificationType` in the feed and pricing ones)."""
    return body.get(name, body.get(name[0].lower() + name[1:]))


def _body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} at {exc.pos}") from None
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 JSON") from None
    except RecursionError:
        raise ValueError("JSON nested too deep") from None
    if not isinstance(body, dict):
        raise ValueError("a notification is a JSON object")
    return body


def _money(value: Any, currency: str) -> Decimal:
    """An SP-API MoneyType amount, in the notification's one currency."""
    if not isinstance(value, dict) or value.get("CurrencyCode", currency) != currency:
        raise ValueError(f"an amount in another currency than {currency}: {str(value)[:80]}")
    try:
        amount = Decimal(str(value["Amount"]))
    except (KeyError, InvalidOperation):
        raise ValueError(f"not an amount: {str(value)[:80]}") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"not an amount: {amount}")
    return amount.quantize(Decimal("0.01"))


def offer_changes(raw: bytes, account: str) -> CompetingOffers | None:
    """An ANY_OFFER_CHANGED as the offers beside the ASIN (the summary's Buy Box and lowest
    prices for new items among them); None for any other notification type. Amazon's own
    reference flow decides what the repricer may act on: `External` changes (prices outside
    Amazon) and items in another condition than new are marked `ignore`."""
    body = _body(raw)
    if _field(body, "NotificationType") != ANY_OFFER_CHANGED:
        return None
    payload = body.get("Payload")
    change = payload.get("AnyOfferChangedNotification") if isinstance(payload, dict) else None
    if not isinstance(change, dict):
        raise ValueError("ANY_OFFER_CHANGED without Payload.AnyOfferChangedNotification")
    seller = change.get("SellerId")
    if not isinstance(seller, str) or normalize_account(seller) != account:
        raise ValueError(f"ANY_OFFER_CHANGED for another seller than {account!r}")
    trigger = change.get("OfferChangeTrigger")
    if not isinstance(trigger, dict) or not isinstance(trigger.get("ASIN"), str):
        raise ValueError("ANY_OFFER_CHANGED without OfferChangeTrigger.ASIN")
    found = change.get("Summary")
    summary: dict[str, Any] = found if isinstance(found, dict) else {}
    currency = _currency(summary, change.get("Offers"))
    offers: list[Offer] = []
    for entry in change.get("Offers") or []:
        if isinstance(entry, dict) and isinstance(entry.get("SellerId"), str):
            listed = _money(entry.get("ListingPrice"), currency)
            shipping = _money(entry.get("Shipping") or {"Amount": 0}, currency)
            offers.append(Offer(entry["SellerId"], listed, shipping))
    for kind, entries in (("buy-box", summary.get("BuyBoxPrices")),
                          ("lowest", summary.get("LowestPrices"))):  # fmt: skip
        for entry in entries or []:
            if not isinstance(entry, dict) or str(entry.get("Condition")).lower() != "new":
                continue
            name = BUY_BOX if kind == "buy-box" else LOWEST + str(entry.get("FulfillmentChannel"))
            offers.append(Offer(name, _money(entry.get("ListingPrice"), currency),
                                _money(entry.get("Shipping") or {"Amount": 0}, currency),
                                buy_box=kind == "buy-box"))  # fmt: skip
    ignore = None
    if trigger.get("OfferChangeType") == "External":
        ignore = "an External offer change (a price outside Amazon): Amazon's flow ignores it"
    elif str(trigger.get("ItemCondition", "new")).lower() != "new":
        ignore = f"offers on {trigger.get('ItemCondition')} items; Keel sells new"
    return CompetingOffers(
        product_ref=trigger["ASIN"],
        marketplace=str(trigger.get("MarketplaceId", "")),
        offers=tuple(offers),
        changed_at=_time(trigger.get("TimeOfOfferChange")),
        currency=currency,
        ignore=ignore,
    )


def _currency(summary: dict[str, Any], offers: Any) -> str:
    for entries in (summary.get("BuyBoxPrices"), summary.get("LowestPrices"), offers):
        for entry in entries or []:
            price = entry.get("ListingPrice") if isinstance(entry, dict) else None
            if isinstance(price, dict) and isinstance(price.get("CurrencyCode"), str):
                return str(price["CurrencyCode"])
    return "EUR"


def _time(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise ValueError(f"not a time: {str(value)[:40]!r}") from None


def _quantity_change(body: Mapping[str, Any], account: str) -> ListingChanged:
    payload = body.get("Payload")
    if not isinstance(payload, dict):
        raise ValueError(f"{QUANTITY_CHANGE} without Payload")
    seller, sku = payload.get("SellerId"), payload.get("Sku")
    if not isinstance(seller, str) or normalize_account(seller) != account:
        raise ValueError(
            f"{QUANTITY_CHANGE} for another seller than {account!r}: {str(seller)[:40]!r}"
        )
    if not isinstance(sku, str) or not sku.strip() or len(sku) > 200:
        raise ValueError(f"{QUANTITY_CHANGE} without a Sku")
    if payload.get("FulfillmentChannelCode", "DEFAULT") != "DEFAULT":
        raise ValueError(f"{QUANTITY_CHANGE} for a fulfillment channel other than DEFAULT")
    return ListingChanged((("sku", sku),))


def classify(raw: bytes, account: str) -> OrderNotice | ListingChanged | Rejected:
    """Raises ValueError when an ORDER_CHANGE or a quantity change is malformed or names
    another seller (ingest holds it with the reason)."""
    body = _body(raw)
    kind = _field(body, "NotificationType")
    if kind == QUANTITY_CHANGE:
        return _quantity_change(body, account)
    if kind != ORDER_CHANGE:
        return Rejected(f"not an order change: notification type {str(kind)[:60]!r}")
    payload = body.get("Payload")
    change = payload.get("OrderChangeNotification") if isinstance(payload, dict) else None
    if not isinstance(change, dict):
        raise ValueError("ORDER_CHANGE without Payload.OrderChangeNotification")
    order_id, seller = change.get("AmazonOrderId"), change.get("SellerId")
    if not isinstance(order_id, str) or not order_id.strip():
        raise ValueError("ORDER_CHANGE without AmazonOrderId")
    if not isinstance(seller, str) or normalize_account(seller) != account:
        raise ValueError(f"ORDER_CHANGE for another seller than {account!r}: {str(seller)[:40]!r}")
    summary = change.get("Summary")
    if isinstance(summary, dict) and summary.get("FulfillmentType") == "AFN":
        return Rejected(f"order {order_id} is fulfilled by Amazon (AFN): not Keel's stock")
    return OrderNotice(order_id.strip())


class AmazonNotificationsInbound:
    """The registry's inbound parser (port.ParsesWebhooks) for queue deliveries."""

    channel = CHANNEL

    def parse_webhook(
        self, headers: Mapping[str, str], raw_body: bytes, account: str
    ) -> Order | OrderNotice | ListingChanged | None:
        found = classify(raw_body, account)
        return None if isinstance(found, Rejected) else found


class AmazonOfferChanges:
    """The registry's offer-change reader (port.ReadsOfferChanges) for queue deliveries."""

    channel = CHANNEL

    def parse_offers(self, raw_body: bytes, account: str) -> CompetingOffers | None:
        return offer_changes(raw_body, account)
