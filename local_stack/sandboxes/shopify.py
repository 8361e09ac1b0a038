"""A Shopify sandbox: the Admin GraphQL API for inventory, and signed order webhooks.

Faithful where Keel depends on it (API version 2026-10):
- `POST /admin/api/2026-10/graphql.json` with `X-Shopify-Access-Token`; every document is
  validated against the published 2026-10 schema (the introspection under ../shared/specs) and
  executed against it, so a field Shopify would reject is rejected here too. Without the specs
  beside the repository, against the subset of it Keel uses (shopify_schema.py).
- `inventorySetQuantities`: all-or-nothing compare-and-set (`changeFromQuantity` must be present,
  null skips the check; a mismatch is CHANGE_FROM_QUANTITY_STALE), userErrors with `field` paths,
  the `@idempotent` key required, a replayed key answered from memory without applying twice.
- A leaky-bucket cost model: THROTTLED with HTTP 200 when the bucket is short, and
  `extensions.cost` on every answer.
- Order webhooks (`orders/create`, `orders/cancelled`) with Shopify's headers and HMAC over the
  exact bytes sent. Bodies follow the Admin API 2026-10 order payload.
- The `orders` query (and `order(id:)`) over the same orders, as GraphQL shows them
  (shopify_orders.py): `updated_at:>=` search, sortKey, cursor pagination, pageInfo; a
  connection costs what Shopify charges for it (2 + first x node).

Plus the `/__sandbox/` control surface every sandbox offers (see base.py).
"""

from __future__ import annotations

import base64
import functools
import itertools
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import httpx
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    build_schema,
    execute,
    get_named_type,
    is_leaf_type,
    parse,
    validate,
)
from graphql.execution import ExecutionResult
from graphql.execution.values import get_directive_values
from graphql.language import FieldNode
from graphql.utilities import get_operation_ast, value_from_ast_untyped
from pydantic import BaseModel, Field

from local_stack.http import Request, Response
from local_stack.sandboxes import base, shopify_orders, shopify_schema, specs
from local_stack.sandboxes.base import SandboxSubscription, SubscriptionBook
from shared.channels.shopify.signature import sign

API_VERSION = "2026-10"
GRAPHQL_PATH = f"/admin/api/{API_VERSION}/graphql.json"
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
MAX_INPUT_SIZE = 250
QUANTITY_LIMIT = 1_000_000_000
QUANTITY_NAMES = ("available", "on_hand")  # the names inventorySetQuantities accepts
LEVEL_NAMES = (
    "available",
    "on_hand",
    "committed",
    "incoming",
    "reserved",
    "damaged",
    "safety_stock",
    "quality_control",
)
REASONS = frozenset(
    {
        "correction",
        "cycle_count_available",
        "damaged",
        "movement_created",
        "movement_updated",
        "movement_received",
        "movement_canceled",
        "other",
        "promotion",
        "quality_control",
        "received",
        "reservation_created",
        "reservation_deleted",
        "reservation_updated",
        "restock",
        "safety_stock",
        "shrinkage",
    }
)
_GID = re.compile(r"^gid://shopify/(?P<kind>[A-Za-z]+)/(?P<id>\d+)$")


@functools.cache
def load_schema(path: Path | None = None) -> GraphQLSchema:
    """The published 2026-10 Admin schema, loaded once per process (about 0.4 s); without the
    vendor specs, the subset of it Keel uses (specs.say_once says so)."""
    published = path or shopify_schema.published_path()
    if published.is_file():
        return shopify_schema.load_published(published)
    if path is not None:
        raise FileNotFoundError(f"Shopify schema not found at {path}")
    specs.say_once()
    return build_schema(shopify_schema.SUBSET_PATH.read_text())


@dataclass(frozen=True)
class SandboxLine:
    """An order line as the webhook sender takes it (kept for the demo and existing tests)."""

    variant_id: int | None
    sku: str | None
    title: str
    quantity: int
    price: Decimal


@dataclass
class Variant:
    variant_id: int
    product_id: int
    inventory_item_id: int
    sku: str
    title: str
    price: Decimal | None
    tracked: bool
    compare_at: Decimal | None = None
    barcode: str | None = None  # the GTIN, as the merchant typed it
    product_title: str = ""


@dataclass
class GraphQLCall:
    """One call to the GraphQL endpoint, as the sandbox saw and answered it."""

    operation: str  # "query" | "mutation" | "" when it never got that far
    variables: dict[str, Any]
    status: int
    body: Any


@dataclass
class Delivery:
    topic: str
    url: str | None
    webhook_id: str
    status: int | None = None
    error: str | None = None


@dataclass
class Outage:
    remaining: int = 0
    status: int = 503


@dataclass
class Bucket:
    """Shopify's leaky bucket of query cost points."""

    capacity: float = 1000.0
    restore_rate: float = 50.0
    available: float = 1000.0
    updated: float = 0.0

    def refill(self, now: float) -> None:
        self.available = min(
            self.capacity, self.available + (now - self.updated) * self.restore_rate
        )
        self.updated = now

    def status(self) -> dict[str, float]:
        return {
            "maximumAvailable": self.capacity,
            "currentlyAvailable": round(self.available, 1),
            "restoreRate": self.restore_rate,
        }


@dataclass
class _Idempotent:
    fingerprint: str
    payload: dict[str, Any]
    succeeded: bool


@dataclass
class _State:
    variants: dict[int, Variant] = field(default_factory=dict)
    items: dict[int, int] = field(default_factory=dict)  # inventory item id -> variant id
    locations: dict[int, str] = field(default_factory=dict)
    levels: dict[tuple[int, int], int] = field(default_factory=dict)  # (item, location)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    fulfilled: dict[str, dict[int, int]] = field(default_factory=dict)  # order -> line -> qty
    shipments: list[dict[str, Any]] = field(default_factory=list)
    idempotency: dict[str, _Idempotent] = field(default_factory=dict)
    # order edits: calculated order id -> (order id, staged line quantities, committed)
    edits: dict[int, _Edit] = field(default_factory=dict)
    committed_edits: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Edit:
    order_id: str
    quantities: dict[int, int] = field(default_factory=dict)  # line id -> staged quantity
    restock: dict[int, bool] = field(default_factory=dict)
    committed: bool = False


def _money_set(amount: Decimal, currency: str) -> dict[str, Any]:
    money = {"amount": f"{amount:.2f}", "currency_code": currency}
    return {"shop_money": money, "presentment_money": dict(money)}


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _gid_id(kind: str, value: Any) -> int | None:
    match = _GID.match(value) if isinstance(value, str) else None
    return int(match["id"]) if match and match["kind"] == kind else None


def _user_error(field_path: list[str] | None, message: str, code: str) -> dict[str, Any]:
    return {"field": field_path, "message": message, "code": code}


class ShopifySandbox:
    channel = "shopify"

    def __init__(
        self,
        webhook_secret: str | None = None,
        shop_domain: str = "keel-demo.myshopify.com",
        currency: str = "EUR",
        *,
        access_token: str | None = None,
        schema_path: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        id_base: int = 0,
    ) -> None:
        """`id_base`: where this shop's ids start beyond the first shop's (Shopify's ids are
        unique across shops)."""
        self._secret = webhook_secret or secrets.token_hex(32)
        self.access_token = access_token or "shpat_" + secrets.token_hex(16)
        self.shop_domain = shop_domain
        self.currency = currency
        self._schema_path = schema_path
        self._clock = clock
        self._lock = threading.RLock()
        self._ids = itertools.count(820982911946154600 + id_base)
        self._numbers = itertools.count(1001)
        self._object_ids = itertools.count(44000000001 + id_base)
        self._group_ids = itertools.count(1)
        self._state = _State()
        self.primary_location_id = next(self._object_ids)
        self._state.locations[self.primary_location_id] = "Keel Demo Warehouse"
        self._bucket = Bucket(updated=clock())
        self.outage = Outage()
        self.webhook_url: str | None = None
        self.subscriptions = SubscriptionBook(first_id=9001, removed_when_disabled=True)
        self.graphql_calls: list[GraphQLCall] = []
        self.deliveries: list[Delivery] = []

    def another_account(self, n: int) -> ShopifySandbox:
        """Another shop of the merchant (its own domain, token and app secret): what a second
        Shopify store for another market or brand is."""
        domain = "keel-outlet.myshopify.com" if n == 1 else f"keel-outlet-{n}.myshopify.com"
        return ShopifySandbox(shop_domain=domain, currency=self.currency, id_base=n * 10**8)

    @property
    def webhook_secret(self) -> str:
        """The app's client secret that signs this shop's webhooks."""
        return self._secret

    # --- ChannelSandbox ---
    def keel_secret(self, base_url: str) -> dict[str, Any]:
        return {
            "webhook_secret": self._secret,
            "shop_domain": self.shop_domain,
            "access_token": self.access_token,
            "currency": self.currency,
            "api_base_url": base_url,
        }

    def local_only_secrets(self) -> dict[str, str]:
        return {
            "shopify_webhook_secret": self._secret,
            "shopify_access_token": self.access_token,
        }

    def notify_to(self, webhook_url: str) -> None:
        self.webhook_url = webhook_url

    def add_listing(
        self,
        sku: str,
        title: str,
        price: Decimal,
        quantity: int | None,
        variant: bool = False,
        marketplace: str = "",
        gtin: str | None = None,
    ) -> dict[str, str]:
        """A product with one variant (or, with `variant`, a variant titled as such) whose
        inventory item is stocked at the shop's one location; None: inventory not tracked."""
        if marketplace:
            raise ValueError(f"{self.channel} has no marketplaces, got {marketplace!r}")
        with self._lock:
            product_id, variant_id, item_id = (next(self._object_ids) for _ in range(3))
            self._state.variants[variant_id] = Variant(
                variant_id,
                product_id,
                item_id,
                sku,
                title if variant else "Default Title",
                price,
                tracked=quantity is not None,
                barcode=gtin,
                product_title=title,
            )
            self._state.items[item_id] = variant_id
            if quantity is not None:
                self._state.levels[(item_id, self.primary_location_id)] = quantity
            return {
                "variant_id": str(variant_id),
                "inventory_item_id": str(item_id),
                "location_id": str(self.primary_location_id),
                "sku": sku,
            }

    def edit_listing(
        self, listing_id: str, quantity: int | None, price: Decimal | None, notify: bool
    ) -> dict[str, Any] | None:
        """A hand edit in the Shopify admin: the variant's available quantity at the primary
        location and/or its price. Shopify then sends `inventory_levels/update` and
        `products/update` to whoever subscribed (`notify` False: nothing is sent, as when the
        webhook is gone)."""
        with self._lock:
            variant = self._state.variants.get(int(listing_id)) if listing_id.isdigit() else None
            if variant is None:
                return None
            pair = (variant.inventory_item_id, self.primary_location_id)
            if quantity is not None:
                variant.tracked = True
                self._state.levels[pair] = quantity
            if price is not None:
                variant.price = price
            now = datetime.now(UTC).isoformat()
            level = {
                "inventory_item_id": variant.inventory_item_id,
                "location_id": self.primary_location_id,
                "available": self._state.levels.get(pair),
                "updated_at": now,
                "admin_graphql_api_id": "gid://shopify/InventoryLevel/"
                f"{self.primary_location_id}?inventory_item_id={variant.inventory_item_id}",
            }
            product = self._product_webhook(variant.product_id, now)
        if notify and quantity is not None:
            self._notify("inventory_levels/update", self.encode(level))
        if notify and price is not None:
            self._notify("products/update", self.encode(product))
        return next(r for r in self.shown() if r["listing_id"] == listing_id)

    def _product_webhook(self, product_id: int, now: str) -> dict[str, Any]:
        """A product as the products/update webhook carries it (REST resource shape)."""
        variants = [v for v in self._state.variants.values() if v.product_id == product_id]
        return {
            "id": product_id,
            "admin_graphql_api_id": f"gid://shopify/Product/{product_id}",
            "title": variants[0].product_title if variants else "",
            "updated_at": now,
            "variants": [
                {
                    "id": v.variant_id,
                    "product_id": product_id,
                    "admin_graphql_api_id": f"gid://shopify/ProductVariant/{v.variant_id}",
                    "title": v.title,
                    "sku": v.sku,
                    "barcode": v.barcode,
                    "price": f"{v.price:.2f}" if v.price is not None else None,
                    "compare_at_price": f"{v.compare_at:.2f}" if v.compare_at else None,
                    "inventory_item_id": v.inventory_item_id,
                    "inventory_quantity": self._variant_quantity(v) or 0,
                    "updated_at": now,
                }
                for v in variants
            ],
        }

    def order_body(self, lines: list[base.SandboxLine]) -> dict[str, Any]:
        return self.order_payload(
            [
                SandboxLine(
                    int(ln.refs["variant_id"]) if ln.refs.get("variant_id") else None,
                    ln.sku,
                    ln.title,
                    ln.quantity,
                    ln.price,
                )
                for ln in lines
            ]
        )

    def shown(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    "listing_id": str(v.variant_id),
                    "sku": v.sku,
                    "quantity": self._variant_quantity(v),
                    "price": f"{v.price:.2f}" if v.price is not None else None,
                    "compare_at": f"{v.compare_at:.2f}" if v.compare_at is not None else None,
                    "account": self.shop_domain,
                    "marketplace": "",
                    "gtin": v.barcode,
                }
                for v in self._state.variants.values()
            ]

    def fail_next(self, requests: int, status: int = 503) -> None:
        with self._lock:
            self.outage = Outage(requests, status)

    # --- test and demo helpers (what a merchant does in the Shopify admin) ---
    def add_location(self, name: str) -> str:
        with self._lock:
            location_id = next(self._object_ids)
            self._state.locations[location_id] = name
            return str(location_id)

    def set_level(
        self, inventory_item_id: str, quantity: int, location_id: str | None = None
    ) -> None:
        with self._lock:
            location = int(location_id) if location_id else self.primary_location_id
            self._state.levels[(int(inventory_item_id), location)] = quantity

    def level(self, inventory_item_id: str, location_id: str | None = None) -> int | None:
        with self._lock:
            location = int(location_id) if location_id else self.primary_location_id
            return self._state.levels.get((int(inventory_item_id), location))

    def set_throttle(
        self,
        capacity: float | None = None,
        restore_rate: float | None = None,
        available: float | None = None,
    ) -> None:
        """Reshape the cost bucket (a bucket of `capacity` starts full unless `available`)."""
        with self._lock:
            bucket = self._bucket
            bucket.refill(self._clock())
            if capacity is not None:
                bucket.capacity = capacity
                bucket.available = capacity
            if restore_rate is not None:
                bucket.restore_rate = restore_rate
            if available is not None:
                bucket.available = available

    def mutation_calls(self) -> list[GraphQLCall]:
        with self._lock:
            return [c for c in self.graphql_calls if c.operation == "mutation"]

    def order(self, order_id: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._state.orders[str(order_id)])

    def remember(self, payload: dict[str, Any]) -> None:
        """Keep (or replace) an order the shop has, without a webhook or a stock move: for
        orders whose webhooks a test or the demo sends itself, so later calls about them (its
        fulfillment orders) find them as Shopify would."""
        with self._lock:
            self._state.orders[str(payload["id"])] = json.loads(json.dumps(payload))

    # --- the webhook sender ---
    def order_payload(
        self, lines: list[SandboxLine], email: str = "buyer@example.com"
    ) -> dict[str, Any]:
        order_id = next(self._ids)
        number = next(self._numbers)
        now = _now()
        subtotal = sum((ln.price * ln.quantity for ln in lines), Decimal(0))
        cur = self.currency
        return {
            "id": order_id,
            "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
            "cancel_reason": None,
            "cancelled_at": None,
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
            "shipping_address": {
                "first_name": "Demo",
                "last_name": "Buyer",
                "name": "Demo Buyer",
                "address1": "1 Keel Street",
                "address2": None,
                "city": "Amsterdam",
                "zip": "1011 AA",
                "province": None,
                "province_code": None,
                "country": "Netherlands",
                "country_code": "NL",
                "company": None,
                "phone": None,
            },
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
            "total_shipping_price_set": _money_set(Decimal(0), cur),
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
                    "product_id": self._product_of(ln.variant_id),
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

    # --- HTTP ---
    def __call__(self, request: Request) -> Response:
        path = request.path
        if path == GRAPHQL_PATH and request.method == "POST":
            return self._graphql_endpoint(request)
        if path.startswith("/__sandbox/"):
            return self._control(request)
        return Response.json(404, {"errors": "Not Found"})

    # --- control surface ---
    def _control(self, request: Request) -> Response:
        path, method = request.path, request.method
        try:
            body = json.loads(request.body) if request.body else {}
        except ValueError:
            return Response.json(400, {"errors": "body is not JSON"})
        # ?notify=false: the shop changes the order but its webhook never arrives (Shopify
        # gave up retrying, or the subscription was removed): only a poll can find it.
        notify = request.query.get("notify", ["true"])[-1] != "false"
        if path == "/__sandbox/orders" and method == "POST":
            return self._place_order(body, notify)
        if (m := re.fullmatch(r"/__sandbox/orders/([^/]+)/cancel", path)) and method == "POST":
            return self._cancel_order(m.group(1), body if isinstance(body, dict) else {}, notify)
        if path == "/__sandbox/listings" and method == "GET":
            return Response.json(200, self.shown())
        if path == "/__sandbox/shipments" and method == "GET":
            with self._lock:
                return Response.json(200, list(self._state.shipments))
        if path == "/__sandbox/outage" and method == "POST":
            spec = body if isinstance(body, dict) else {}
            self.fail_next(int(spec.get("requests", 1)), int(spec.get("status", 503)))
            return Response.json(
                200, {"outage": {"remaining": self.outage.remaining, "status": self.outage.status}}
            )
        return Response.json(404, {"errors": "Not Found"})

    def _place_order(self, order: Any, notify: bool = True) -> Response:
        if not isinstance(order, dict) or not isinstance(order.get("line_items", []), list):
            return Response.json(400, {"errors": "an order object with line_items is expected"})
        with self._lock:
            if "id" not in order or order["id"] is None:
                order_id = next(self._ids)
                order["id"] = order_id
                order["admin_graphql_api_id"] = f"gid://shopify/Order/{order_id}"
            # An order the shop could not have (no updated_at, a line without a price) is
            # refused with the reason, never stored: it would break every later read of the
            # shop's orders (the poll's `orders` query) until a restart.
            problem = _not_an_order(order)
            if problem:
                return Response.json(
                    400, {"errors": f"not an order in the 2026-10 shape: {problem}"}
                )
            key = str(order["id"])
            if key in self._state.orders:
                return Response.json(409, {"errors": f"order {key} already exists"})
            order.setdefault("cancelled_at", None)
            order.setdefault("cancel_reason", None)
            self._state.orders[key] = order
            self._move_stock(order, sign_=-1)
            body = self.encode(order)
        if notify:
            self._notify("orders/create", body)
        return Response.json(200, {"id": key})

    def _cancel_order(
        self, order_id: str, options: dict[str, Any], notify: bool = True
    ) -> Response:
        with self._lock:
            order = self._state.orders.get(order_id)
            if order is None:
                return Response.json(404, {"errors": "Not Found"})
            if order.get("cancelled_at"):
                return Response.json(422, {"errors": "Order has already been cancelled"})
            now = _now()
            order["cancelled_at"] = now
            order["cancel_reason"] = str(options.get("reason") or "customer")
            order["updated_at"] = now
            if options.get("restock"):  # Shopify restocks only when asked to
                self._move_stock(order, sign_=+1)
            body = self.encode(order)
        if notify:
            self._notify("orders/cancelled", body)
        return Response.json(200, {"id": order_id})

    def _move_stock(self, order: dict[str, Any], sign_: int) -> None:
        for line in order.get("line_items") or []:
            if not isinstance(line, dict):
                continue
            variant = self._variant_for_line(line)
            if variant is None or not variant.tracked:
                continue
            pair = (variant.inventory_item_id, self.primary_location_id)
            if pair in self._state.levels:
                self._state.levels[pair] += sign_ * int(line.get("quantity") or 0)

    def _variant_for_line(self, line: dict[str, Any]) -> Variant | None:
        try:
            variant = self._state.variants.get(int(line.get("variant_id") or 0))
        except (TypeError, ValueError):
            variant = None
        if variant is None and line.get("sku"):
            variant = next((v for v in self._state.variants.values() if v.sku == line["sku"]), None)
        return variant

    def _notify(self, topic: str, body: bytes) -> None:
        """Send a signed webhook in the request thread to each subscription of the topic (or,
        with none made through the API, to `notify_to`'s URL); failures are recorded, never
        raised."""
        headers = self.headers(body, topic=topic)
        with self._lock:
            targets = self.subscriptions.targets(topic.replace("/", "_").upper())
        urls = [self.webhook_url if t is None else t.address for t in targets]
        for url in urls or [None]:
            delivery = Delivery(topic, url, headers["X-Shopify-Webhook-Id"])
            if not targets:
                delivery.error = "no webhook subscription"
            elif url is None:
                delivery.error = "no webhook url (notify_to was not called)"
            else:
                try:
                    delivery.status = self.deliver(url, body, headers).status_code
                except httpx.HTTPError as exc:
                    delivery.error = f"{type(exc).__name__}: {exc}"
            with self._lock:
                self.deliveries.append(delivery)

    # --- Admin GraphQL ---
    def _graphql_endpoint(self, request: Request) -> Response:
        with self._lock:
            response, operation, variables = self._graphql(request)
            try:
                logged = json.loads(response.body)
            except ValueError:
                logged = response.body.decode(errors="replace")
            self.graphql_calls.append(GraphQLCall(operation, variables, response.status, logged))
            return response

    def _graphql(self, request: Request) -> tuple[Response, str, dict[str, Any]]:
        if self.outage.remaining > 0:
            self.outage.remaining -= 1
            status = self.outage.status
            headers = {"Retry-After": "1.0"} if status == 429 else {}
            return Response.json(status, {"errors": "Service Unavailable"}, headers), "", {}
        token = next(
            (v for k, v in request.headers.items() if k.lower() == "x-shopify-access-token"), ""
        )
        if not secrets.compare_digest(token.encode(), self.access_token.encode()):
            return Response.json(401, {"errors": INVALID_TOKEN}), "", {}
        try:
            envelope = json.loads(request.body or b"{}")
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict) or not isinstance(envelope.get("query"), str):
            missing = {"errors": {"query": "Required parameter missing or invalid"}}
            return Response.json(400, missing), "", {}
        variables = envelope.get("variables") or {}
        if not isinstance(variables, dict):
            variables = {}
        operation_name = envelope.get("operationName")
        schema = load_schema(self._schema_path)
        try:
            document = parse(envelope["query"])
        except GraphQLError as exc:
            return self._answer({"errors": [exc.formatted]}, 0, charged=False), "", variables
        operation = get_operation_ast(document, operation_name)
        kind = operation.operation.value if operation else ""
        problems = validate(schema, document)
        if problems:
            invalid = {"errors": [p.formatted for p in problems]}
            return self._answer(invalid, 0, charged=False), kind, variables
        cost = _requested_cost(operation, variables, schema, document)
        bucket = self._bucket
        bucket.refill(self._clock())
        if cost > bucket.capacity:
            error = {
                "message": f"Query cost is {cost}, which exceeds the single query max cost "
                f"limit ({bucket.capacity:g}).",
                "extensions": {"code": "MAX_COST_EXCEEDED", "cost": cost},
            }
            return self._answer({"errors": [error]}, cost, charged=False), kind, variables
        if cost > bucket.available:
            throttled = {
                "message": "Throttled",
                "extensions": {
                    "code": "THROTTLED",
                    "documentation": "https://shopify.dev/api/usage/rate-limits",
                },
            }
            return self._answer({"errors": [throttled]}, cost, charged=False), kind, variables
        result = self._execute(schema, document, variables, operation_name)
        # As Shopify: the requested cost must be there; what is taken is the actual cost (a
        # connection that returned fewer nodes than `first` costs that many).
        actual = _requested_cost(operation, variables, schema, document, _returned(result.data))
        bucket.available -= actual
        answer: dict[str, Any] = {}
        if result.errors:
            answer["errors"] = [e.formatted for e in result.errors]
        if result.data is not None or not result.errors:
            answer["data"] = result.data
        return self._answer(answer, cost, charged=True, actual=actual), kind, variables

    def _answer(
        self, answer: dict[str, Any], cost: int, *, charged: bool, actual: int | None = None
    ) -> Response:
        answer["extensions"] = {
            "cost": {
                "requestedQueryCost": cost,
                "actualQueryCost": (cost if actual is None else actual) if charged else None,
                "throttleStatus": self._bucket.status(),
            }
        }
        return Response.json(200, answer)

    def _execute(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: dict[str, Any],
        operation_name: Any,
    ) -> ExecutionResult:
        root = {
            "nodes": self._resolve_nodes,
            "node": lambda info, id: self._node(id),
            "inventoryItem": lambda info, id: self._inventory_item(_gid_id("InventoryItem", id)),
            "location": lambda info, id=None: self._location(
                _gid_id("Location", id) if id else self.primary_location_id
            ),
            "inventorySetQuantities": self._resolve_set_quantities,
            "productVariantsBulkUpdate": self._resolve_variants_bulk_update,
            "order": lambda info, id: self._order_node(id),
            "orders": lambda info, **arguments: shopify_orders.orders_connection(
                self._state.orders.values(), **arguments
            ),
            "fulfillmentCreate": self._resolve_fulfillment_create,
            "orderEditBegin": self._resolve_edit_begin,
            "orderEditSetQuantity": self._resolve_edit_set_quantity,
            "orderEditCommit": self._resolve_edit_commit,
            "productVariants": self._resolve_variants,
            "productVariant": lambda info, id: self._node(id),
            "webhookSubscriptions": self._resolve_webhooks,
            "webhookSubscriptionCreate": self._resolve_webhook_create,
            "webhookSubscriptionUpdate": self._resolve_webhook_update,
        }
        result = execute(
            schema,
            document,
            root_value=root,
            variable_values=variables,
            operation_name=operation_name if isinstance(operation_name, str) else None,
            type_resolver=lambda value, info, abstract: value.get("__typename"),
        )
        assert isinstance(result, ExecutionResult)  # resolvers here are synchronous
        return result

    # --- fulfillment orders: one per order, its lines' remaining quantities ---
    def _order_node(self, gid: str) -> dict[str, Any] | None:
        order_id = _gid_id("Order", gid)
        order = self._state.orders.get(str(order_id)) if order_id is not None else None
        if order is None:
            return None
        fulfilled = self._state.fulfilled.get(str(order_id), {})
        lines = [
            {
                "id": f"gid://shopify/FulfillmentOrderLineItem/{ln['id']}",
                "remainingQuantity": max(
                    0, int(ln.get("current_quantity", ln["quantity"])) - fulfilled.get(ln["id"], 0)
                ),
                "lineItem": {"id": f"gid://shopify/LineItem/{ln['id']}"},
            }
            for ln in order.get("line_items") or []
        ]
        if order.get("cancelled_at"):
            status = "CANCELLED"
        elif all(li["remainingQuantity"] == 0 for li in lines):
            status = "CLOSED"
        else:
            status = "OPEN"
        fulfillment_order = {
            "id": f"gid://shopify/FulfillmentOrder/{order_id}",
            "status": status,
            "lineItems": lambda info, first=None, **_: {"nodes": lines},
        }
        return {
            **shopify_orders.order_node(order),
            "fulfillmentOrders": lambda info, first=None, **_: {"nodes": [fulfillment_order]},
        }

    def _resolve_fulfillment_create(
        self, info: GraphQLResolveInfo, fulfillment: dict[str, Any], message: str | None = None
    ) -> dict[str, Any]:
        """As Shopify: every named fulfillment order open, every quantity within what remains;
        else userErrors and nothing recorded."""
        tracking = fulfillment.get("trackingInfo") or {}
        shipped: dict[str, dict[int, int]] = {}
        for group in fulfillment["lineItemsByFulfillmentOrder"]:
            order_id = _gid_id("FulfillmentOrder", group["fulfillmentOrderId"])
            node = self._order_node(f"gid://shopify/Order/{order_id}") if order_id else None
            fo = node["fulfillmentOrders"](None)["nodes"][0] if node else None
            if fo is None or fo["status"] != "OPEN":
                return _fulfillment_refused("Fulfillment order is not open.")
            remaining = {li["id"]: li["remainingQuantity"] for li in fo["lineItems"](None)["nodes"]}
            items = group.get("fulfillmentOrderLineItems") or [
                {"id": k, "quantity": v} for k, v in remaining.items() if v
            ]
            for item in items:
                if item["quantity"] <= 0 or item["quantity"] > remaining.get(item["id"], 0):
                    return _fulfillment_refused("Invalid quantity.")
                line_id = _gid_id("FulfillmentOrderLineItem", item["id"])
                assert line_id is not None
                shipped.setdefault(str(order_id or ""), {})[line_id] = item["quantity"]
        for order_key, lines in shipped.items():
            done = self._state.fulfilled.setdefault(order_key, {})
            for line, qty in lines.items():
                done[line] = done.get(line, 0) + qty
            self._state.shipments.append(
                {
                    "order_id": order_key,
                    "tracking_number": tracking.get("number"),
                    "carrier": tracking.get("company"),
                }
            )
        info_list = [{"company": tracking.get("company"), "number": tracking.get("number"),
                      "url": tracking.get("url")}]  # fmt: skip
        return {
            "fulfillment": {
                "id": f"gid://shopify/Fulfillment/{next(self._object_ids)}",
                "status": "SUCCESS",
                "trackingInfo": info_list,
            },
            "userErrors": [],
        }

    # --- order edits: begin a calculated order, stage quantities, commit ---
    def _edit_lines(self, edit: _Edit) -> list[dict[str, Any]]:
        order = self._state.orders[edit.order_id]
        fulfilled = self._state.fulfilled.get(edit.order_id, {})
        nodes = []
        for ln in order.get("line_items") or []:
            current = int(ln.get("current_quantity", ln["quantity"]))
            quantity = edit.quantities.get(ln["id"], current)
            nodes.append(
                {
                    "id": f"gid://shopify/CalculatedLineItem/{ln['id']}",
                    "quantity": quantity,
                    "editableQuantity": quantity - fulfilled.get(ln["id"], 0),
                    "sku": ln.get("sku"),
                    "title": ln.get("title") or "",
                    "restockable": True,
                    "restocking": edit.restock.get(ln["id"], False),
                }
            )
        return nodes

    def _calculated_order(self, calc_id: int) -> dict[str, Any]:
        edit = self._state.edits[calc_id]
        return {
            "id": f"gid://shopify/CalculatedOrder/{calc_id}",
            "committed": edit.committed,
            "lineItems": lambda info, first=None, **_: {"nodes": self._edit_lines(edit)},
        }

    def _resolve_edit_begin(self, info: GraphQLResolveInfo, id: str) -> dict[str, Any]:
        order_id = _gid_id("Order", id)
        order = self._state.orders.get(str(order_id)) if order_id is not None else None
        if order is None:
            return _edit_refused(
                ["id"], "The order does not exist.", "calculatedOrder", "orderEditSession"
            )
        if order.get("cancelled_at"):
            return _edit_refused(
                ["id"], "The order cannot be edited.", "calculatedOrder", "orderEditSession"
            )
        calc_id = next(self._object_ids)
        self._state.edits[calc_id] = _Edit(str(order_id))
        return {
            "calculatedOrder": self._calculated_order(calc_id),
            "orderEditSession": {"id": f"gid://shopify/OrderEditSession/{calc_id}"},
            "userErrors": [],
        }

    def _open_edit(self, gid: str) -> tuple[int, _Edit] | None:
        calc_id = _gid_id("CalculatedOrder", gid)
        edit = self._state.edits.get(calc_id) if calc_id is not None else None
        if calc_id is None or edit is None or edit.committed:
            return None
        return calc_id, edit

    def _resolve_edit_set_quantity(
        self,
        info: GraphQLResolveInfo,
        id: str,
        lineItemId: str,
        quantity: int,
        restock: bool | None = None,
        locationId: str | None = None,
    ) -> dict[str, Any]:
        found = self._open_edit(id)
        refused = ("calculatedLineItem", "calculatedOrder")
        if found is None:
            return _edit_refused(["id"], "The calculated order does not exist.", *refused)
        calc_id, edit = found
        line_id = _gid_id("CalculatedLineItem", lineItemId)
        lines = {int(n["id"].rsplit("/", 1)[1]): n for n in self._edit_lines(edit)}
        if line_id is None or line_id not in lines:
            return _edit_refused(["lineItemId"], "The line item does not exist.", *refused)
        shipped = self._state.fulfilled.get(edit.order_id, {}).get(line_id, 0)
        if quantity < shipped or quantity < 0:
            said = "The quantity cannot be less than the fulfilled quantity."
            return _edit_refused(["quantity"], said, *refused)
        edit.quantities[line_id] = quantity
        edit.restock[line_id] = bool(restock)
        node = next(n for n in self._edit_lines(edit) if n["id"].endswith(f"/{line_id}"))
        return {
            "calculatedLineItem": node,
            "calculatedOrder": self._calculated_order(calc_id),
            "userErrors": [],
        }

    def _resolve_edit_commit(
        self,
        info: GraphQLResolveInfo,
        id: str,
        notifyCustomer: bool | None = None,
        staffNote: str | None = None,
    ) -> dict[str, Any]:
        """Applies the staged quantities: `current_quantity` and the current totals follow,
        restocked units go back on the shelf, and `orders/updated` is sent (as Shopify does
        after an edit, alongside `orders/edited`)."""
        found = self._open_edit(id)
        if found is None:
            refused = _edit_refused(["id"], "The calculated order does not exist.", "order")
            return {**refused, "successMessages": []}
        _, edit = found
        edit.committed = True
        order = self._state.orders[edit.order_id]
        for ln in order.get("line_items") or []:
            if ln["id"] not in edit.quantities:
                continue
            before = int(ln.get("current_quantity", ln["quantity"]))
            after = edit.quantities[ln["id"]]
            ln["current_quantity"] = after
            ln["fulfillable_quantity"] = max(
                0, int(ln.get("fulfillable_quantity", before)) - (before - after)
            )
            variant = self._variant_for_line(ln)
            if (
                edit.restock.get(ln["id"])
                and variant is not None
                and variant.tracked
                and before > after
            ):
                pair = (variant.inventory_item_id, self.primary_location_id)
                if pair in self._state.levels:
                    self._state.levels[pair] += before - after
        subtotal = sum(
            (Decimal(ln["price"]) * int(ln.get("current_quantity", ln["quantity"]))
             for ln in order.get("line_items") or []),
            Decimal(0),
        )  # fmt: skip
        currency = order.get("currency") or self.currency
        order.update(
            current_subtotal_price=f"{subtotal:.2f}",
            current_subtotal_price_set=_money_set(subtotal, currency),
            current_total_price=f"{subtotal:.2f}",
            current_total_price_set=_money_set(subtotal, currency),
            updated_at=_now(),
        )
        self._state.committed_edits.append(
            {"order_id": edit.order_id, "notify_customer": bool(notifyCustomer),
             "staff_note": staffNote or ""}
        )  # fmt: skip
        body = self.encode(order)
        threading.Thread(target=self._notify, args=("orders/updated", body), daemon=True).start()
        return {
            "order": shopify_orders.order_node(order),
            "successMessages": ["Order updated"],
            "userErrors": [],
        }

    # resolvers: plain dicts whose callables take (info, **arguments)
    def _resolve_nodes(self, info: GraphQLResolveInfo, ids: list[str]) -> list[Any]:
        return [self._node(i) for i in ids]

    def _node(self, gid: str) -> dict[str, Any] | None:
        if (item_id := _gid_id("InventoryItem", gid)) is not None:
            return self._inventory_item(item_id)
        if (location_id := _gid_id("Location", gid)) is not None:
            return self._location(location_id)
        if (variant_id := _gid_id("ProductVariant", gid)) is not None:
            return self._variant_node(variant_id)
        return None

    def _variant_node(self, variant_id: int) -> dict[str, Any] | None:
        variant = self._state.variants.get(variant_id)
        if variant is None:
            return None
        return {
            "__typename": "ProductVariant",
            "id": f"gid://shopify/ProductVariant/{variant_id}",
            "legacyResourceId": str(variant_id),
            "sku": variant.sku or None,
            "barcode": variant.barcode,
            "title": variant.title,
            "price": f"{variant.price:.2f}" if variant.price is not None else "0.00",
            "compareAtPrice": f"{variant.compare_at:.2f}" if variant.compare_at else None,
            "product": {
                "__typename": "Product",
                "id": f"gid://shopify/Product/{variant.product_id}",
                "legacyResourceId": str(variant.product_id),
                "title": variant.product_title or variant.title,
                "status": "ACTIVE",
            },
            "inventoryItem": self._inventory_item(variant.inventory_item_id),
        }

    def _resolve_variants(
        self,
        info: GraphQLResolveInfo,
        first: int | None = None,
        after: str | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        """`productVariants(first, after)` by id; the cursor is the last variant's id."""
        if first is None or not 0 < first <= 250:
            raise GraphQLError("first must be between 1 and 250")
        ids = sorted(self._state.variants)
        if after is not None:
            ids = [i for i in ids if i > _cursor_id(after)]
        page = ids[:first]
        return {
            "pageInfo": {
                "hasNextPage": len(ids) > first,
                "endCursor": _variant_cursor(page[-1]) if page else None,
            },
            "nodes": [self._variant_node(i) for i in page],
        }

    def _resolve_webhooks(
        self,
        info: GraphQLResolveInfo,
        first: int | None = None,
        after: str | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        subs = sorted(self.subscriptions.listed(), key=lambda sub: int(sub.id))
        if after is not None:
            subs = [sub for sub in subs if int(sub.id) > _cursor_id(after)]
        page = subs[: first or 50]
        return {
            "pageInfo": {
                "hasNextPage": len(subs) > len(page),
                "endCursor": _variant_cursor(int(page[-1].id)) if page else None,
            },
            "nodes": [_webhook_node(sub) for sub in page],
        }

    def _resolve_webhook_create(
        self, info: GraphQLResolveInfo, topic: str, webhookSubscription: dict[str, Any]
    ) -> dict[str, Any]:
        uri = webhookSubscription.get("uri") or webhookSubscription.get("callbackUrl") or ""
        if not str(uri).startswith(("https://", "http://")):
            return _webhook_refused(["webhookSubscription", "callbackUrl"], "Address is invalid")
        taken = [s for s in self.subscriptions.listed() if (s.topic, s.address) == (topic, uri)]
        if taken:
            return _webhook_refused(
                ["webhookSubscription", "callbackUrl"],
                "Address for this topic has already been taken",
            )
        sub = self.subscriptions.add(topic, str(uri))
        return {"webhookSubscription": _webhook_node(sub), "userErrors": []}

    def _resolve_webhook_update(
        self, info: GraphQLResolveInfo, id: str, webhookSubscription: dict[str, Any]
    ) -> dict[str, Any]:
        sub = self.subscriptions.items.get(str(_gid_id("WebhookSubscription", id)))
        if sub is None:
            return _webhook_refused(["id"], "Webhook subscription does not exist")
        uri = webhookSubscription.get("uri") or webhookSubscription.get("callbackUrl")
        if uri:
            sub.address = str(uri)
        return {"webhookSubscription": _webhook_node(sub), "userErrors": []}

    def _resolve_variants_bulk_update(
        self,
        info: GraphQLResolveInfo,
        productId: str,
        variants: list[dict[str, Any]],
        **_: Any,
    ) -> dict[str, Any]:
        """Prices only (what Keel sends): every row checked first; any userError and nothing
        is applied (allowPartialUpdates false, the default)."""
        product_id = _gid_id("Product", productId)
        owned = {v.variant_id for v in self._state.variants.values() if v.product_id == product_id}
        if not owned:
            error = _user_error(["productId"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")
            return {"product": None, "productVariants": None, "userErrors": [error]}
        errors: list[dict[str, Any]] = []
        changes: list[tuple[Variant, Decimal | None, Decimal | None, bool]] = []
        for n, row in enumerate(variants):
            here = ["variants", str(n)]
            variant_id = _gid_id("ProductVariant", row.get("id")) if row.get("id") else None
            if variant_id is None:
                errors.append(_user_error([*here, "id"], "Product variant id is missing",
                                          "PRODUCT_VARIANT_ID_MISSING"))  # fmt: skip
                continue
            if variant_id not in self._state.variants:
                errors.append(_user_error([*here, "id"], "Product variant does not exist",
                                          "PRODUCT_VARIANT_DOES_NOT_EXIST"))  # fmt: skip
                continue
            if variant_id not in owned:
                errors.append(_user_error([*here, "id"], "Product variant must be for this product",
                                          "MUST_BE_FOR_THIS_PRODUCT"))  # fmt: skip
                continue
            prices: list[Decimal | None] = []
            for name in ("price", "compareAtPrice"):
                raw = row.get(name)
                try:
                    value = Decimal(str(raw)) if raw is not None else None
                except ArithmeticError:
                    value = Decimal(-1)
                if value is not None and (not value.is_finite() or value < 0):
                    said = f"{name} must be greater than or equal to 0"
                    errors.append(_user_error([*here, name], said, "GREATER_THAN_OR_EQUAL_TO"))
                prices.append(value)
            changes.append(
                (self._state.variants[variant_id], prices[0], prices[1], "compareAtPrice" in row)
            )
        if errors:
            return {"product": None, "productVariants": None, "userErrors": errors}
        with self._lock:
            for variant, price, compare_at, sets_compare in changes:
                if price is not None:
                    variant.price = price.quantize(Decimal("0.01"))
                if sets_compare:
                    variant.compare_at = (
                        compare_at.quantize(Decimal("0.01")) if compare_at else None
                    )
        return {
            "product": {"__typename": "Product", "id": productId},
            "productVariants": [self._variant_node(v.variant_id) for v, _, _, _ in changes],
            "userErrors": [],
        }

    def _inventory_item(self, item_id: int | None) -> dict[str, Any] | None:
        variant_id = self._state.items.get(item_id) if item_id is not None else None
        if item_id is None or variant_id is None:
            return None
        variant = self._state.variants[variant_id]
        return {
            "__typename": "InventoryItem",
            "id": f"gid://shopify/InventoryItem/{item_id}",
            "legacyResourceId": str(item_id),
            "sku": variant.sku,
            "tracked": variant.tracked,
            "requiresShipping": True,
            "inventoryLevel": lambda info, locationId, includeInactive=None: self._level_node(
                item_id, _gid_id("Location", locationId)
            ),
        }

    def _location(self, location_id: int | None) -> dict[str, Any] | None:
        if location_id is None or location_id not in self._state.locations:
            return None
        return {
            "__typename": "Location",
            "id": f"gid://shopify/Location/{location_id}",
            "legacyResourceId": str(location_id),
            "name": self._state.locations[location_id],
            "isActive": True,
        }

    def _level_node(self, item_id: int, location_id: int | None) -> dict[str, Any] | None:
        if location_id is None or (item_id, location_id) not in self._state.levels:
            return None
        available = self._state.levels[(item_id, location_id)]
        level_gid = f"gid://shopify/InventoryLevel/{location_id}?inventory_item_id={item_id}"

        def quantities(info: GraphQLResolveInfo, names: list[str]) -> list[dict[str, Any]]:
            values = {"available": available, "on_hand": available}
            return [
                {
                    "__typename": "InventoryQuantity",
                    "id": f"gid://shopify/InventoryQuantity/{item_id}-{location_id}-{name}",
                    "name": name,
                    "quantity": values.get(name, 0),
                }
                for name in names
                if name in LEVEL_NAMES
            ]

        return {
            "__typename": "InventoryLevel",
            "id": level_gid,
            "isActive": True,
            "canDeactivate": True,
            "item": self._inventory_item(item_id),
            "location": self._location(location_id),
            "quantities": quantities,
        }

    def _resolve_set_quantities(
        self,
        info: GraphQLResolveInfo,
        input: dict[str, Any],
    ) -> dict[str, Any]:
        directive = info.schema.get_directive("idempotent")
        node = info.field_nodes[0]
        values = get_directive_values(directive, node, info.variable_values) if directive else None
        key = (values or {}).get("key")
        if not isinstance(key, str):
            raise GraphQLError(
                "The @idempotent directive is required for inventorySetQuantities "
                f"as of API version {API_VERSION}."
            )
        if not key.strip():
            raise GraphQLError("The idempotency key cannot be an empty string or whitespace only.")
        fingerprint = json.dumps(input, sort_keys=True, default=str)
        previous = self._state.idempotency.get(key)
        if previous is not None:
            if previous.fingerprint != fingerprint:
                message = (
                    "The same idempotency key cannot be used with different operation parameters."
                )
                code = "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"
            elif not previous.succeeded:
                message = (
                    "A previous request with this idempotency key failed. "
                    "Retry with a new idempotency key."
                )
                code = "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED"
            else:
                return previous.payload  # a replay: the first answer, nothing applied again
            return {
                "inventoryAdjustmentGroup": None,
                "userErrors": [_user_error(None, message, code)],
            }
        payload = self._set_quantities(input)
        self._state.idempotency[key] = _Idempotent(
            fingerprint, payload, succeeded=not payload["userErrors"]
        )
        return payload

    def _set_quantities(self, data: dict[str, Any]) -> dict[str, Any]:
        """All rows are checked first; any userError and nothing is applied."""
        errors: list[dict[str, Any]] = []
        name, reason = data.get("name"), data.get("reason")
        rows = data.get("quantities") or []
        if len(rows) > MAX_INPUT_SIZE:
            raise GraphQLError(
                f"The input array size of {len(rows)} is greater than the maximum allowed of "
                f"{MAX_INPUT_SIZE}.",
                extensions={"code": "MAX_INPUT_SIZE_EXCEEDED"},
            )
        if name not in QUANTITY_NAMES:
            message = "The quantity name must be either 'available' or 'on_hand'."
            errors.append(_user_error(["input", "name"], message, "INVALID_NAME"))
        if reason not in REASONS:
            errors.append(
                _user_error(
                    ["input", "reason"], "The specified reason is invalid.", "INVALID_REASON"
                )
            )
        seen: set[tuple[int, int]] = set()
        planned: list[tuple[int, int, int]] = []
        for index, row in enumerate(rows):
            path = ["input", "quantities", str(index)]
            item_id = _gid_id("InventoryItem", row.get("inventoryItemId"))
            location_id = _gid_id("Location", row.get("locationId"))
            quantity = int(row["quantity"])
            if item_id is None or item_id not in self._state.items:
                errors.append(
                    _user_error(
                        [*path, "inventoryItemId"],
                        "The specified inventory item could not be found.",
                        "INVALID_INVENTORY_ITEM",
                    )
                )
                continue
            if location_id is None or location_id not in self._state.locations:
                errors.append(
                    _user_error(
                        [*path, "locationId"],
                        "The specified location could not be found.",
                        "INVALID_LOCATION",
                    )
                )
                continue
            if (item_id, location_id) in seen:
                errors.append(
                    _user_error(
                        path,
                        "The combination of inventoryItemId and locationId must be unique.",
                        "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR",
                    )
                )
                continue
            seen.add((item_id, location_id))
            if quantity < 0:
                errors.append(
                    _user_error(
                        [*path, "quantity"],
                        "The quantity can't be negative.",
                        "INVALID_QUANTITY_NEGATIVE",
                    )
                )
                continue
            if quantity > QUANTITY_LIMIT:
                errors.append(
                    _user_error(
                        [*path, "quantity"],
                        "The total quantity can't be higher than 1,000,000,000.",
                        "INVALID_QUANTITY_TOO_HIGH",
                    )
                )
                continue
            if "changeFromQuantity" not in row:  # nullable in the schema, mandatory since 2026-04
                errors.append(
                    _user_error(
                        [*path, "changeFromQuantity"],
                        "changeFromQuantity is required: pass the expected current quantity, "
                        "or null to skip the check.",
                        "COMPARE_QUANTITY_REQUIRED",
                    )
                )
                continue
            expected = row["changeFromQuantity"]
            current = self._state.levels.get((item_id, location_id))
            if expected is not None and expected != current:
                errors.append(
                    _user_error(
                        [*path, "changeFromQuantity"],
                        "The specified compare quantity does not match the current quantity.",
                        "CHANGE_FROM_QUANTITY_STALE",
                    )
                )
                continue
            planned.append((item_id, location_id, quantity))
        if errors:
            return {"inventoryAdjustmentGroup": None, "userErrors": errors}
        changes: list[dict[str, Any]] = []
        for item_id, location_id, quantity in planned:
            before = self._state.levels.get((item_id, location_id), 0)
            self._state.levels[(item_id, location_id)] = quantity
            variant = self._state.variants[self._state.items[item_id]]
            variant.tracked = True
            for changed in ("available", "on_hand"):
                changes.append(
                    {
                        "__typename": "InventoryChange",
                        "name": changed,
                        "delta": quantity - before,
                        "quantityAfterChange": quantity,
                        "ledgerDocumentUri": None,
                        "item": self._inventory_item(item_id),
                        "location": self._location(location_id),
                    }
                )
        group = {
            "__typename": "InventoryAdjustmentGroup",
            "id": f"gid://shopify/InventoryAdjustmentGroup/{next(self._group_ids)}",
            "createdAt": _now(),
            "reason": reason,
            "referenceDocumentUri": data.get("referenceDocumentUri"),
            "app": None,
            "staffMember": None,
            "changes": functools.partial(_filter_changes, changes),
        }
        return {"inventoryAdjustmentGroup": group, "userErrors": []}

    # --- helpers ---
    def _variant_quantity(self, variant: Variant) -> int | None:
        if not variant.tracked:
            return None
        return sum(
            qty
            for (item, _), qty in self._state.levels.items()
            if item == variant.inventory_item_id
        )

    def _product_of(self, variant_id: int | None) -> int | None:
        with self._lock:
            variant = self._state.variants.get(variant_id) if variant_id is not None else None
        if variant is not None:
            return variant.product_id
        return (variant_id or 0) // 10 or None


def _webhook_refused(field_path: list[str], message: str) -> dict[str, Any]:
    return {"webhookSubscription": None, "userErrors": [{"field": field_path, "message": message}]}


def _variant_cursor(ident: int) -> str:
    return base64.b64encode(f"id:{ident}".encode()).decode()


def _cursor_id(cursor: str) -> int:
    try:
        return int(base64.b64decode(cursor).decode().removeprefix("id:"))
    except ValueError as exc:
        raise GraphQLError(f"Invalid cursor {cursor!r}") from exc


def _webhook_node(sub: SandboxSubscription) -> dict[str, Any]:
    return {
        "__typename": "WebhookSubscription",
        "id": f"gid://shopify/WebhookSubscription/{sub.id}",
        "topic": sub.topic,
        "uri": sub.address,
    }


def _filter_changes(
    changes: list[dict[str, Any]],
    info: GraphQLResolveInfo,
    inventoryItemIds: list[str] | None = None,
    locationIds: list[str] | None = None,
    quantityNames: list[str] | None = None,
) -> list[dict[str, Any]]:
    return [
        c
        for c in changes
        if (inventoryItemIds is None or c["item"]["id"] in inventoryItemIds)
        and (locationIds is None or c["location"]["id"] in locationIds)
        and (quantityNames is None or c["name"] in quantityNames)
    ]


def _edit_refused(field_path: list[str], message: str, *nulls: str) -> dict[str, Any]:
    return {**dict.fromkeys(nulls), "userErrors": [_user_error(field_path, message, "INVALID")]}


def _fulfillment_refused(message: str) -> dict[str, Any]:
    return {"fulfillment": None, "userErrors": [{"field": ["fulfillment"], "message": message}]}


def _returned(data: Any) -> dict[str, int]:
    """How many nodes each top-level connection of an answer returned (its actual size)."""
    counts: dict[str, int] = {}
    for key, value in (data or {}).items() if isinstance(data, dict) else ():
        if isinstance(value, dict):
            found = value.get("nodes", value.get("edges"))
            if isinstance(found, list):
                counts[key] = len(found)
    return counts


def _requested_cost(
    operation: OperationDefinitionNode | None,
    variables: dict[str, Any],
    schema: GraphQLSchema,
    document: DocumentNode,
    returned: dict[str, int] | None = None,
) -> int:
    """A small cost model: a mutation of inventorySetQuantities costs 10 + its rows; a top-level
    connection (`orders`) costs what Shopify's rules say (objects 1, scalars 0, a connection
    2 + first x its node; with `returned`, the nodes it returned instead of first: the actual
    cost); any other read costs 1 per top-level field plus 1 per node asked for."""
    if operation is None:
        return 0
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    root = schema.query_type
    cost = 0
    for selection in operation.selection_set.selections:
        if not isinstance(selection, FieldNode):
            cost += 1
            continue
        arguments = {
            a.name.value: value_from_ast_untyped(a.value, variables)
            for a in selection.arguments or ()
        }
        name = selection.name.value
        field_def = root.fields.get(name) if root is not None else None
        if operation.operation == OperationType.MUTATION:
            given = arguments.get("input")
            rows = given.get("quantities") if isinstance(given, dict) else None
            cost += 10 + (len(rows) if isinstance(rows, list) else 0)
        elif name == "nodes" and isinstance(arguments.get("ids"), list):
            cost += 1 + len(arguments["ids"])
        elif field_def is not None and _is_connection(field_def):
            key = selection.alias.value if selection.alias else name
            size = (returned or {}).get(key)
            cost += _field_cost(schema, field_def, selection, variables, fragments, size)
        else:
            cost += 1
    return cost


def _is_connection(field_def: GraphQLField) -> bool:
    return get_named_type(field_def.type).name.endswith("Connection")


def _field_cost(
    schema: GraphQLSchema,
    field_def: GraphQLField,
    node: FieldNode,
    variables: dict[str, Any],
    fragments: dict[str, FragmentDefinitionNode],
    size_given: int | None = None,
) -> int:
    """Shopify's published rules: scalar and enum 0, object 1 + what it selects, connection
    2 + first x (one node), a list with `first` that many times its element."""
    named = get_named_type(field_def.type)
    if is_leaf_type(named) or not isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
        return 0
    arguments = {
        a.name.value: value_from_ast_untyped(a.value, variables) for a in node.arguments or ()
    }
    size = arguments.get("first") or arguments.get("last") or 0
    if size_given is not None:
        size = size_given
    inner = _selection_cost(schema, named, node.selection_set, variables, fragments)
    if _is_connection(field_def):
        # `nodes` and `edges` each count one element: the connection multiplies it by first.
        return 2 + int(size) * inner
    if isinstance(field_def.type, GraphQLList) or (
        isinstance(field_def.type, GraphQLNonNull)
        and isinstance(field_def.type.of_type, GraphQLList)
    ):
        return max(1, int(size)) * (1 + inner)
    return 1 + inner


def _selection_cost(
    schema: GraphQLSchema,
    parent: GraphQLObjectType | GraphQLInterfaceType,
    selection_set: SelectionSetNode | None,
    variables: dict[str, Any],
    fragments: dict[str, FragmentDefinitionNode],
) -> int:
    if selection_set is None:
        return 0
    cost = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            field_def = parent.fields.get(selection.name.value)
            if field_def is None or selection.name.value == "pageInfo":
                continue  # __typename and the like; pageInfo is free
            if parent.name.endswith("Connection") and selection.name.value in ("nodes", "edges"):
                element = get_named_type(field_def.type)
                assert isinstance(element, GraphQLObjectType | GraphQLInterfaceType)
                cost += _selection_cost(
                    schema, element, selection.selection_set, variables, fragments
                ) + (1 if selection.name.value == "nodes" else 0)
                continue
            cost += _field_cost(schema, field_def, selection, variables, fragments)
            continue
        fragment = (
            fragments.get(selection.name.value)
            if isinstance(selection, FragmentSpreadNode)
            else selection
        )
        if not isinstance(fragment, FragmentDefinitionNode | InlineFragmentNode):
            continue
        condition = fragment.type_condition
        target = schema.get_type(condition.name.value) if condition else parent
        if isinstance(target, GraphQLObjectType | GraphQLInterfaceType):
            cost += _selection_cost(schema, target, fragment.selection_set, variables, fragments)
    return cost


def _not_an_order(order: dict[str, Any]) -> str:
    """Why `order` lacks what the shop's own views of its orders read ("" when it has it):
    Shopify never holds an order without these, so neither does the sandbox. Only their
    presence and types: a value Keel itself refuses (an odd amount) is Keel's to hold."""
    from pydantic import ValidationError

    from shared.validation import describe

    try:
        _StoredOrder.model_validate(order)
    except ValidationError as exc:
        return describe(exc)
    return ""


class _Money(BaseModel):
    amount: str | int | float
    currency_code: str


class _Bag(BaseModel):
    shop_money: _Money
    presentment_money: _Money


class _StoredLine(BaseModel):
    id: int
    quantity: Annotated[int, Field(ge=0)]


class _StoredOrder(BaseModel):
    id: int
    name: str
    created_at: datetime
    updated_at: datetime
    currency: str
    total_price_set: _Bag
    line_items: list[_StoredLine]
