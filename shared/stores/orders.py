"""Canonical orders, and deliveries Keel accepted but could not read (kept, never dropped)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import zlib
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.domain.orders import (
    Money,
    Order,
    OrderCharges,
    OrderLine,
    OrderStatus,
    Refund,
    RefundLine,
    ShippingAddress,
)
from shared.stores.items import to_item
from shared.stores.table import Table

ORDER_SK = "ORDER"
HELD_SK = "HELD_DELIVERY"
# DynamoDB refuses items over 400 KB. A doc above DOC_INLINE_BYTES of JSON (an 800-line order
# with long titles) is kept zlib-compressed in `doc_z`; DOC_MAX_BYTES leaves room for the
# item's other attributes.
DOC_INLINE_BYTES = 300_000
DOC_MAX_BYTES = 350_000


class OrderTooLarge(Exception):
    """The order cannot be stored even compressed: hold its delivery with this reason rather
    than let the write fail again on every redelivery."""

    def __init__(self, order_key: str, size: int, limit: int = DOC_MAX_BYTES) -> None:
        # The caller prefixes its own category ("order too large to store: ...").
        super().__init__(f"{order_key} is {size} bytes compressed (limit {limit})")
        self.order_key = order_key
        self.size = size
        self.limit = limit


def order_pk(order_key: str) -> str:
    return f"ORDER#{order_key}"


def _money(m: Money) -> dict[str, str]:
    return {"amount": str(m.amount), "currency": m.currency}


def _money_from(d: dict[str, str]) -> Money:
    return Money(Decimal(d["amount"]), d["currency"])


def order_to_doc(order: Order) -> dict[str, Any]:
    return {
        "channel": order.channel,
        "account": order.account,
        "listing_account": order.listing_account,
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
                "stock": ln.stock,
            }
            for ln in order.lines
        ],
        "history": [[at.isoformat(), status, note] for at, status, note in order.history],
        "charges": _charges(order.charges),
        "cancelled_at": order.cancelled_at.isoformat() if order.cancelled_at else None,
        "refunds": [
            {
                "refund_id": r.refund_id,
                "created_at": r.created_at.isoformat(),
                "amount": _money(r.amount),
                "lines": [[ln.line_id, ln.quantity, ln.restock] for ln in r.lines],
                "note": r.note,
            }
            for r in order.refunds
        ],
        "fully_refunded": order.fully_refunded,
        "shipping_address": asdict(order.shipping_address) if order.shipping_address else None,
        "ready_to_ship": order.ready_to_ship,
    }


def _charges(charges: OrderCharges | None) -> dict[str, Any] | None:
    if charges is None:
        return None
    return {
        "discounts": str(charges.discounts),
        "shipping": str(charges.shipping),
        "tax": str(charges.tax),
        "taxes_included": charges.taxes_included,
        "fees": str(charges.fees),
    }


def _charges_from(doc: dict[str, Any] | None) -> OrderCharges | None:
    if not doc:
        return None
    return OrderCharges(
        discounts=Decimal(doc["discounts"]),
        shipping=Decimal(doc["shipping"]),
        tax=Decimal(doc["tax"]),
        taxes_included=bool(doc["taxes_included"]),
        fees=Decimal(doc.get("fees", "0")),
    )


def _address_from(doc: dict[str, Any] | None) -> ShippingAddress | None:
    """Documents written before addresses were kept have none; fields a later version adds or
    drops must not make an order unreadable, so only the fields this version knows are read."""
    if not doc:
        return None
    known = {f.name for f in dataclasses.fields(ShippingAddress)}
    return ShippingAddress(**{k: str(v) for k, v in doc.items() if k in known and v is not None})


def _refund_from(doc: dict[str, Any]) -> Refund:
    return Refund(
        refund_id=doc["refund_id"],
        created_at=datetime.fromisoformat(doc["created_at"]),
        amount=_money_from(doc["amount"]),
        lines=tuple(RefundLine(str(i), int(q), bool(r)) for i, q, r in doc["lines"]),
        note=doc.get("note", ""),
    )


def order_from_doc(doc: dict[str, Any]) -> Order:
    return Order(
        channel=doc["channel"],
        account=doc["account"],
        listing_account=doc.get("listing_account", ""),
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
                stock=bool(ln.get("stock", True)),
            )
            for ln in doc["lines"]
        ),
        history=tuple(
            (datetime.fromisoformat(at), status, note)
            for at, status, note in doc.get("history", [])
        ),
        charges=_charges_from(doc.get("charges")),
        cancelled_at=datetime.fromisoformat(doc["cancelled_at"])
        if doc.get("cancelled_at")
        else None,
        refunds=tuple(_refund_from(r) for r in doc.get("refunds", ())),
        fully_refunded=bool(doc.get("fully_refunded", False)),
        shipping_address=_address_from(doc.get("shipping_address")),
        ready_to_ship=bool(doc.get("ready_to_ship", True)),
    )


def _stored(item: dict[str, Any]) -> Order:
    return replace(order_from_doc(doc_from_item(item)), revision=int(item.get("revision", 0)))


def doc_attributes(order: Order) -> dict[str, Any]:
    """The order document as item attributes: `doc` (JSON text), or `doc_z` (zlib-compressed
    JSON, Binary) when the text alone would crowd the 400 KB item limit."""
    text = json.dumps(order_to_doc(order))
    raw = text.encode()
    if len(raw) <= DOC_INLINE_BYTES:
        return {"doc": text}
    packed = zlib.compress(raw, 9)
    if len(packed) > DOC_MAX_BYTES:
        raise OrderTooLarge(order.key, len(packed))
    return {"doc_z": packed}


def doc_from_item(item: dict[str, Any]) -> dict[str, Any]:
    """Reads either form; `doc_z` comes back from boto3 as a Binary wrapper."""
    if "doc_z" in item:
        packed = item["doc_z"]
        data = bytes(packed.value if hasattr(packed, "value") else packed)
        doc: dict[str, Any] = json.loads(zlib.decompress(data))
        return doc
    loaded: dict[str, Any] = json.loads(item["doc"])
    return loaded


def held_expiry(received_at: str, retention_days: int) -> int:
    """When a held delivery's raw body (personal data) is due to go: `received_at` (ISO 8601,
    UTC when it names no zone) plus the retention, as epoch seconds for DynamoDB's TTL."""
    received = datetime.fromisoformat(received_at)
    if received.tzinfo is None:
        received = received.replace(tzinfo=UTC)
    return int((received + timedelta(days=retention_days)).timestamp())


@dataclass(frozen=True)
class HeldDelivery:
    """`raw_body` as received (decoded with `body_encoding`), or `body_ref`: the S3 key of a
    body too large to travel inline. `expires_at` (epoch seconds, see `held_expiry`) is the
    item's TTL: the body holds customers' names, addresses and e-mails."""

    channel: str
    delivery_id: str
    topic: str
    reason: str
    raw_body: str
    received_at: str
    body_encoding: str = "utf-8"
    body_ref: str | None = None
    expires_at: int | None = field(default=None, kw_only=True)  # None: kept before TTLs


class OrderStore:
    def __init__(self, table: str, client: Any) -> None:
        self._t = Table(table, client)

    @property
    def table(self) -> str:
        return self._t.name

    def put_new_op(self, order: Order, reserved: dict[str, int] | None = None) -> dict[str, Any]:
        """A Put that only succeeds for an order Keel has not seen: the business-key guard.
        `reserved`: what the same transaction reserves for it (SKU -> quantity).

        Raises OrderTooLarge for an order whose document cannot fit in one item."""
        return {
            "TableName": self._t.name,
            "Item": self._item(order, reserved or {}),
            "ConditionExpression": "attribute_not_exists(pk)",
        }

    def put_version_op(
        self, order: Order, reserved: dict[str, int], planned_against: Order
    ) -> dict[str, Any]:
        """A Put of a change that only succeeds if the stored order is still the one the
        change was planned against: any writer in between (a newer channel version, a workflow
        step) bumped its revision, and the change is planned again."""
        return {
            "TableName": self._t.name,
            "Item": self._item(order, reserved, planned_against.revision + 1),
            "ConditionExpression": "revision = :planned",
            "ExpressionAttributeValues": {":planned": {"N": str(planned_against.revision)}},
        }

    def _item(self, order: Order, reserved: dict[str, int], revision: int = 1) -> dict[str, Any]:
        return to_item(
            {
                "pk": order_pk(order.key),
                "sk": ORDER_SK,
                "revision": revision,
                "status": order.status.value,
                "channel": order.channel,
                "channel_updated_at": order.channel_updated_at.isoformat(),
                # top level, for the orders stream: the workflow starts once it turns true
                "ready_to_ship": order.ready_to_ship,
                "reserved": {sku: qty for sku, qty in reserved.items() if qty > 0},
                **doc_attributes(order),
            }
        )

    def watermark(self, channel: str, account: str) -> datetime | None:
        """Up to when the poll of the channel's account has taken in every changed order."""
        item = self._t.get(f"POLL#{channel}#{account}", "WATERMARK")
        return datetime.fromisoformat(str(item["until"])) if item else None

    def advance_watermark(self, channel: str, account: str, until: datetime) -> None:
        """Only forward: two polls at once cannot move it back."""
        with contextlib.suppress(self._t.client.exceptions.ConditionalCheckFailedException):
            self._t.client.put_item(  # (failing the condition: it is already further)
                TableName=self._t.name,
                Item=to_item(
                    {
                        "pk": f"POLL#{channel}#{account}",
                        "sk": "WATERMARK",
                        "until": until.isoformat(),
                    }
                ),
                ConditionExpression="attribute_not_exists(pk) OR #u < :u",
                ExpressionAttributeNames={"#u": "until"},
                ExpressionAttributeValues={":u": {"S": until.isoformat()}},
            )

    def get(self, order_key: str) -> Order | None:
        found = self.get_with_reservations(order_key)
        return found[0] if found else None

    def get_with_reservations(self, order_key: str) -> tuple[Order, dict[str, int]] | None:
        """The stored order and what is reserved for it now (SKU -> quantity)."""
        item = self._t.get(order_pk(order_key), ORDER_SK)
        if item is None:
            return None
        reserved = {str(k): int(v) for k, v in (item.get("reserved") or {}).items()}
        return _stored(item), reserved

    def orders(self) -> list[Order]:
        return [_stored(i) for i in self._t.scan_sk(ORDER_SK)]

    def keep_held_delivery(self, held: HeldDelivery) -> bool:
        """False when this delivery was already kept. Refuses one without `expires_at`: raw
        bodies are never kept without end."""
        if held.expires_at is None:
            raise ValueError("a held delivery needs expires_at (its raw body's retention)")
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
                        "expires_at": held.expires_at,
                    }
                ),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self._t.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def held_deliveries(self, now: datetime | None = None) -> list[HeldDelivery]:
        """The held deliveries not yet expired at `now` (default: the present): DynamoDB's TTL
        deletes expired items only within days, and an expired one's S3 body may be gone."""
        cutoff = int((now or datetime.now(UTC)).timestamp())
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
                expires_at=int(i["expires_at"]) if i.get("expires_at") is not None else None,
            )
            for i in self._t.scan_sk(HELD_SK)
            if i.get("expires_at") is None or int(i["expires_at"]) > cutoff
        ]
