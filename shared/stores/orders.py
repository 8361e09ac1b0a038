"""Canonical orders, and deliveries Keel accepted but could not read (kept, never dropped)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from shared.domain.orders import Money, Order, OrderLine, OrderStatus
from shared.stores.items import to_item
from shared.stores.table import Table

ORDER_SK = "ORDER"
HELD_SK = "HELD_DELIVERY"


def order_pk(order_key: str) -> str:
    return f"ORDER#{order_key}"


def _money(m: Money) -> dict[str, str]:
    return {"amount": str(m.amount), "currency": m.currency}


def _money_from(d: dict[str, str]) -> Money:
    return Money(Decimal(d["amount"]), d["currency"])


def order_to_doc(order: Order) -> dict[str, Any]:
    return {
        "channel": order.channel,
        "external_id": order.external_id,
        "name": order.name,
        "created_at": order.created_at.isoformat(),
        "channel_updated_at": order.channel_updated_at.isoformat(),
        "total": _money(order.total),
        "presentment_total": _money(order.presentment_total),
        "status": order.status.value,
        "hold_reason": order.hold_reason,
        "lines": [
            {
                "line_id": ln.line_id,
                "quantity": ln.quantity,
                "unit_price": _money(ln.unit_price),
                "presentment_unit_price": _money(ln.presentment_unit_price),
                "title": ln.title,
                "channel_sku": ln.channel_sku,
                "channel_variant_id": ln.channel_variant_id,
                "sku": ln.sku,
            }
            for ln in order.lines
        ],
        "history": [[at.isoformat(), status, note] for at, status, note in order.history],
    }


def order_from_doc(doc: dict[str, Any]) -> Order:
    return Order(
        channel=doc["channel"],
        external_id=doc["external_id"],
        name=doc["name"],
        created_at=datetime.fromisoformat(doc["created_at"]),
        channel_updated_at=datetime.fromisoformat(doc["channel_updated_at"]),
        total=_money_from(doc["total"]),
        presentment_total=_money_from(doc["presentment_total"]),
        status=OrderStatus(doc["status"]),
        hold_reason=doc.get("hold_reason"),
        lines=tuple(
            OrderLine(
                line_id=ln["line_id"],
                quantity=int(ln["quantity"]),
                unit_price=_money_from(ln["unit_price"]),
                presentment_unit_price=_money_from(ln["presentment_unit_price"]),
                title=ln.get("title", ""),
                channel_sku=ln.get("channel_sku"),
                channel_variant_id=ln.get("channel_variant_id"),
                sku=ln.get("sku"),
            )
            for ln in doc["lines"]
        ),
        history=tuple(
            (datetime.fromisoformat(at), status, note)
            for at, status, note in doc.get("history", [])
        ),
    )


@dataclass(frozen=True)
class HeldDelivery:
    """`raw_body` as received (decoded with `body_encoding`), or `body_ref`: the S3 key of a
    body too large to travel inline."""

    channel: str
    delivery_id: str
    topic: str
    reason: str
    raw_body: str
    received_at: str
    body_encoding: str = "utf-8"
    body_ref: str | None = None


class OrderStore:
    def __init__(self, table: str, client: Any) -> None:
        self._t = Table(table, client)

    @property
    def table(self) -> str:
        return self._t.name

    def put_new_op(self, order: Order) -> dict[str, Any]:
        """A Put that only succeeds for an order Keel has not seen: the business-key guard."""
        return {
            "TableName": self._t.name,
            "Item": to_item(
                {
                    "pk": order_pk(order.key),
                    "sk": ORDER_SK,
                    "status": order.status.value,
                    "channel": order.channel,
                    "channel_updated_at": order.channel_updated_at.isoformat(),
                    "doc": json.dumps(order_to_doc(order)),
                }
            ),
            "ConditionExpression": "attribute_not_exists(pk)",
        }

    def get(self, order_key: str) -> Order | None:
        item = self._t.get(order_pk(order_key), ORDER_SK)
        return order_from_doc(json.loads(item["doc"])) if item else None

    def orders(self) -> list[Order]:
        return [order_from_doc(json.loads(i["doc"])) for i in self._t.scan_sk(ORDER_SK)]

    def keep_held_delivery(self, held: HeldDelivery) -> bool:
        """False when this delivery was already kept."""
        try:
            self._t.client.put_item(
                TableName=self._t.name,
                Item=to_item(
                    {
                        "pk": f"DELIVERY#{held.channel}#{held.delivery_id}",
                        "sk": HELD_SK,
                        "channel": held.channel,
                        "delivery_id": held.delivery_id,
                        "topic": held.topic,
                        "reason": held.reason,
                        "raw_body": held.raw_body,
                        "received_at": held.received_at,
                        "body_encoding": held.body_encoding,
                        "body_ref": held.body_ref,
                    }
                ),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self._t.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def held_deliveries(self) -> list[HeldDelivery]:
        return [
            HeldDelivery(
                channel=str(i["channel"]),
                delivery_id=str(i["delivery_id"]),
                topic=str(i["topic"]),
                reason=str(i["reason"]),
                raw_body=str(i["raw_body"]),
                received_at=str(i["received_at"]),
                body_encoding=str(i.get("body_encoding", "utf-8")),
                body_ref=str(i["body_ref"]) if i.get("body_ref") else None,
            )
            for i in self._t.scan_sk(HELD_SK)
        ]
