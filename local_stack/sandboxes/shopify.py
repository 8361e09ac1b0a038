"""A Shopify sandbox that sends signed orders/create webhooks, as Shopify does.

Bodies follow the Admin API 2026-10 order payload (the shape of Shopify's published
orders/* sample); headers follow Shopify's webhook headers; the HMAC covers the exact bytes sent.
"""

from __future__ import annotations

import itertools
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from shared.channels.shopify.signature import sign

API_VERSION = "2026-10"


@dataclass(frozen=True)
class SandboxLine:
    variant_id: int | None
    sku: str | None
    title: str
    quantity: int
    price: Decimal


def _money_set(amount: Decimal, currency: str) -> dict[str, Any]:
    money = {"amount": f"{amount:.2f}", "currency_code": currency}
    return {"shop_money": money, "presentment_money": dict(money)}


class ShopifySandbox:
    def __init__(
        self,
        webhook_secret: str,
        shop_domain: str = "keel-demo.myshopify.com",
        currency: str = "EUR",
    ) -> None:
        self._secret = webhook_secret
        self.shop_domain = shop_domain
        self.currency = currency
        self._ids = itertools.count(820982911946154600)
        self._numbers = itertools.count(1001)

    def order_payload(
        self, lines: list[SandboxLine], email: str = "buyer@example.com"
    ) -> dict[str, Any]:
        order_id = next(self._ids)
        number = next(self._numbers)
        now = datetime.now(UTC).replace(microsecond=0).isoformat()
        subtotal = sum((ln.price * ln.quantity for ln in lines), Decimal(0))
        cur = self.currency
        return {
            "id": order_id,
            "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
            "confirmation_number": f"K{number}X",
            "confirmed": True,
            "contact_email": email,
            "created_at": now,
            "currency": cur,
            "current_subtotal_price": f"{subtotal:.2f}",
            "current_subtotal_price_set": _money_set(subtotal, cur),
            "current_total_price": f"{subtotal:.2f}",
            "current_total_price_set": _money_set(subtotal, cur),
            "email": email,
            "financial_status": "paid",
            "fulfillment_status": None,
            "name": f"#{number}",
            "number": number - 1000,
            "order_number": number,
            "presentment_currency": cur,
            "processed_at": now,
            "source_name": "web",
            "subtotal_price": f"{subtotal:.2f}",
            "subtotal_price_set": _money_set(subtotal, cur),
            "tags": "",
            "taxes_included": True,
            "test": True,
            "total_discounts": "0.00",
            "total_discounts_set": _money_set(Decimal(0), cur),
            "total_line_items_price": f"{subtotal:.2f}",
            "total_line_items_price_set": _money_set(subtotal, cur),
            "total_price": f"{subtotal:.2f}",
            "total_price_set": _money_set(subtotal, cur),
            "total_tax": "0.00",
            "total_tax_set": _money_set(Decimal(0), cur),
            "updated_at": now,
            "line_items": [
                {
                    "id": next(self._ids),
                    "admin_graphql_api_id": f"gid://shopify/LineItem/{order_id + i + 1}",
                    "current_quantity": ln.quantity,
                    "fulfillable_quantity": ln.quantity,
                    "fulfillment_service": "manual",
                    "fulfillment_status": None,
                    "gift_card": False,
                    "grams": 100,
                    "name": ln.title,
                    "price": f"{ln.price:.2f}",
                    "price_set": _money_set(ln.price, cur),
                    "product_exists": True,
                    "product_id": (ln.variant_id or 0) // 10 or None,
                    "properties": [],
                    "quantity": ln.quantity,
                    "requires_shipping": True,
                    "sku": ln.sku,
                    "taxable": True,
                    "title": ln.title,
                    "total_discount": "0.00",
                    "total_discount_set": _money_set(Decimal(0), cur),
                    "variant_id": ln.variant_id,
                    "variant_inventory_management": "shopify",
                    "variant_title": None,
                    "vendor": "Keel Demo",
                    "tax_lines": [],
                    "duties": [],
                    "discount_allocations": [],
                }
                for i, ln in enumerate(lines)
            ],
        }

    def headers(
        self,
        body: bytes,
        topic: str = "orders/create",
        webhook_id: str | None = None,
        signature: str | None = None,
    ) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": signature
            if signature is not None
            else sign(self._secret, body),
            "X-Shopify-Shop-Domain": self.shop_domain,
            "X-Shopify-API-Version": API_VERSION,
            "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
            "X-Shopify-Event-Id": str(uuid.uuid4()),
            "X-Shopify-Triggered-At": datetime.now(UTC).isoformat(),
        }

    @staticmethod
    def encode(payload: dict[str, Any]) -> bytes:
        return json.dumps(payload, separators=(",", ":")).encode()

    def deliver(self, url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """POST one delivery to Keel's webhook endpoint, as Shopify would."""
        return httpx.post(url, content=body, headers=headers, timeout=10.0)
