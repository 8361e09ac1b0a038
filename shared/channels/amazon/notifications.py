"""SP-API notifications as they arrive on Keel's queue: an ORDER_CHANGE names an order (it
carries no prices, and not every new order is announced), so it becomes an `OrderNotice` and
ingest reads the order with `getOrder`. Every other notification type is rejected with a
reason (Keel subscribes to ORDER_CHANGE only; another type means a subscription made by hand).

Unsigned: the queue's policy is the trust, so the seller the notification names must be the
one this account's secret serves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.channels.port import OrderNotice
from shared.domain.orders import Order, normalize_account

CHANNEL = "amazon"
ORDER_CHANGE = "ORDER_CHANGE"


@dataclass(frozen=True)
class Rejected:
    """A notification Keel does not act on, and why."""

    reason: str


def _field(body: Mapping[str, Any], name: str) -> Any:
    """SP-API notifications spell their envelope both ways (`NotificationType` in the order and
    listing ones, `notificationType` in the feed and pricing ones)."""
    return body.get(name, body.get(name[0].lower() + name[1:]))


def classify(raw: bytes, account: str) -> OrderNotice | Rejected:
    """Raises ValueError when an ORDER_CHANGE is malformed or names another seller (ingest
    holds it with the reason)."""
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
    kind = _field(body, "NotificationType")
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
    ) -> Order | OrderNotice | None:
        found = classify(raw_body, account)
        return found if isinstance(found, OrderNotice) else None
