"""A WooCommerce REST v3 sandbox: products, variations, their batch endpoints, orders, and the
signed order webhooks a shop sends.

Faithful where Keel depends on it: Basic auth, <= 100 items per batch (413), per-item errors
inside a 200 for unknown ids, integer-only stock_quantity, and stock_quantity ignored unless
manage_stock is on. Orders lower managed stock when placed (paid) and restore it when
cancelled, as WooCommerce does; each change is delivered as a webhook encoded and signed the
way WC_Webhook::deliver does it. Outages can be switched on to test retries. The `/__sandbox/`
control surface is described in `local_stack/sandboxes/base.py`.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import re
import secrets
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from local_stack.http import Request, Response
from local_stack.sandboxes.base import (
    SandboxLine,
    SandboxSubscription,
    SubscriptionBook,
)
from shared.channels.woocommerce.signature import sign

CHANNEL = "woocommerce"
PREFIX = "/wp-json/wc/v3"
CONTROL = "/__sandbox"
TRACKING_META = "_wc_shipment_tracking_items"  # the Shipment Tracking extension's order meta
BATCH_LIMIT = 100
USER_AGENT = "WooCommerce/10.3.0 Hookshot (WordPress/6.8)"
# One webhook per topic, as a shop configures them (WooCommerce > Settings > Webhooks).
WEBHOOK_IDS = {"order.created": 1, "order.updated": 2, "order.deleted": 3, "product.updated": 4}
# Statuses on which WooCommerce reduces stock (wc_maybe_reduce_stock_levels).
STOCK_REDUCING = frozenset({"processing", "completed", "on-hold"})
STATUSES = frozenset(
    {"pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed"}
)
DELIVERY_TIMEOUT_S = 10.0
_MONEY = re.compile(r"-?\d{1,14}(?:\.\d{1,4})?")


@dataclass
class WooItem:
    id: int
    name: str
    sku: str
    type: str = "simple"  # simple | variable | variation
    parent_id: int = 0
    manage_stock: bool = False
    stock_quantity: int | None = None
    date_modified_gmt: str = ""
    regular_price: str = ""
    sale_price: str = ""
    global_unique_id: str = ""  # core's GTIN, UPC, EAN or ISBN field (WooCommerce 9.2+)
    variations: list[int] = field(default_factory=list)  # a variable product's

    @property
    def selling_price(self) -> str:
        """What a buyer pays: the sale price while one is set (WooCommerce's `price`)."""
        return self.sale_price or self.regular_price

    def view(self) -> dict[str, Any]:
        data = asdict(self)
        qty = self.stock_quantity if self.manage_stock else None
        data["stock_quantity"] = qty
        data["stock_status"] = "instock" if (qty is None or qty > 0) else "outofstock"
        data["price"] = self.selling_price
        return data


@dataclass
class LoggedRequest:
    method: str
    path: str
    status: int
    body: Any


@dataclass
class Outage:
    remaining: int = 0
    status: int = 503


@dataclass
class Delivery:
    """One webhook the sandbox sent (or tried to): kept so tests can see what Keel was told."""

    topic: str  # "order.created", "order.updated", or "ping"
    url: str | None
    body: bytes
    headers: dict[str, str]
    status: int | None = None  # Keel's answer; None when nothing came back
    error: str | None = None


class _Refused(Exception):
    """A request WooCommerce would refuse: answered as its JSON error."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _error(code: str, message: str, status: int) -> dict[str, Any]:
    return {"code": code, "message": message, "data": {"status": status}}


def _now() -> str:
    """Woo's timestamp format; the sandbox's site time zone is UTC, so local == gmt."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _money(amount: Decimal) -> str:
    """Money as the REST API formats it (wc_format_decimal with the shop's 2 decimals)."""
    return f"{amount:.2f}"


def _php_number(amount: Decimal) -> int | float:
    """A PHP float as json_encode writes it: the line `price` is a number, not a string."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def wc_json(payload: Any) -> bytes:
    """The body exactly as WC_Webhook::deliver encodes it: trim(wp_json_encode(payload)) is
    compact, escapes '/' as '\\/' and non-ASCII as \\uXXXX ('/' only occurs inside strings)."""
    return (
        json.dumps(payload, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()
    )


def _int(value: Any, name: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _Refused(
            400, "rest_invalid_param", f"Invalid parameter(s): {name} ({name} is not an integer.)"
        )
    return value


def _amount(value: Any, name: str) -> Decimal:
    if not isinstance(value, str) or _MONEY.fullmatch(value) is None:
        raise _Refused(
            400, "rest_invalid_param", f"Invalid parameter(s): {name} ({name} is not a string.)"
        )
    return Decimal(value)


class WooCommerceSandbox:
    """Thread-safe: the server is threaded. Webhooks are sent after the state change, outside
    the lock, synchronously (a real shop queues them; here the caller knows Keel was told)."""

    channel = CHANNEL

    def __init__(
        self,
        consumer_key: str | None = None,
        consumer_secret: str | None = None,
        webhook_secret: str | None = None,
        currency: str = "EUR",
        base_url: str = "http://127.0.0.1",
    ) -> None:
        self.consumer_key = consumer_key or "ck_" + secrets.token_hex(20)
        self.consumer_secret = consumer_secret or "cs_" + secrets.token_hex(20)
        self.webhook_secret = webhook_secret or secrets.token_urlsafe(24)
        self._credentials = (self.consumer_key, self.consumer_secret)
        self.currency = currency
        self.base_url = base_url.rstrip("/")
        self.webhook_url: str | None = None
        self._items: dict[int, WooItem] = {}
        self._orders: dict[int, dict[str, Any]] = {}
        self._order_notes: dict[int, list[dict[str, Any]]] = {}
        self._reduced: dict[int, list[tuple[int, int]]] = {}  # order id -> (item id, qty)
        self._last_id = 100  # products, variations and orders share one id sequence
        self._line_ids = itertools.count(300)
        self._lock = threading.RLock()
        self.outage = Outage()
        self.requests: list[LoggedRequest] = []
        self.deliveries: list[Delivery] = []
        self.subscriptions = SubscriptionBook(first_id=1001)

    # --- seeding and inspection (what a merchant's shop already has) ---
    def add_product(
        self,
        product_id: int,
        name: str,
        sku: str,
        stock: int | None = None,
        price: Decimal | None = None,
        gtin: str | None = None,
    ) -> None:
        with self._lock:
            self._claim(product_id)
            self._items[product_id] = WooItem(
                product_id,
                name,
                sku,
                manage_stock=stock is not None,
                stock_quantity=stock,
                regular_price=format(price, "f") if price is not None else "",
                global_unique_id=gtin or "",
            )

    def add_variation(
        self,
        parent_id: int,
        variation_id: int,
        name: str,
        sku: str,
        stock: int | None = None,
        price: Decimal | None = None,
        gtin: str | None = None,
    ) -> None:
        with self._lock:
            self._claim(parent_id)
            self._claim(variation_id)
            if parent_id not in self._items:
                self._items[parent_id] = WooItem(parent_id, name, "", type="variable")
            self._items[parent_id].variations.append(variation_id)
            self._items[variation_id] = WooItem(
                variation_id,
                name,
                sku,
                type="variation",
                parent_id=parent_id,
                manage_stock=stock is not None,
                stock_quantity=stock,
                regular_price=format(price, "f") if price is not None else "",
                global_unique_id=gtin or "",
            )

    def stock_of(self, item_id: int) -> int | None:
        with self._lock:
            item = self._items[item_id]
            return item.stock_quantity if item.manage_stock else None

    def fail_next(self, requests: int, status: int = 503) -> None:
        with self._lock:
            self.outage = Outage(requests, status)

    def _claim(self, item_id: int) -> None:
        self._last_id = max(self._last_id, item_id)

    def _new_id(self) -> int:
        self._last_id += 1
        return self._last_id

    # --- ChannelSandbox ---
    def set_base_url(self, url: str) -> None:
        """The shop's own URL: webhooks name it in X-WC-Webhook-Source."""
        self.base_url = url.rstrip("/")

    def keel_secret(self, base_url: str) -> dict[str, Any]:
        self.set_base_url(base_url)
        return {
            "base_url": self.base_url,
            "consumer_key": self.consumer_key,
            "consumer_secret": self.consumer_secret,
            "webhook_secret": self.webhook_secret,
            "currency": self.currency,
        }

    def local_only_secrets(self) -> dict[str, str]:
        return {
            "woocommerce_consumer_key": self.consumer_key,
            "woocommerce_consumer_secret": self.consumer_secret,
            "woocommerce_webhook_secret": self.webhook_secret,
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
        """A simple product, or a variable parent with one variation; refs as Keel keeps them."""
        if marketplace:
            raise ValueError(f"{self.channel} has no marketplaces, got {marketplace!r}")
        with self._lock:
            product_id = self._new_id()
            if not variant:
                self.add_product(product_id, title, sku, quantity, price, gtin)
                return {"product_id": str(product_id), "item_id": str(product_id), "sku": sku}
            variation_id = self._new_id()
            self.add_variation(product_id, variation_id, title, sku, quantity, price, gtin)
            return {
                "product_id": str(product_id),
                "variation_id": str(variation_id),
                "item_id": str(variation_id),
                "sku": sku,
            }

    def edit_listing(
        self, listing_id: str, quantity: int | None, price: Decimal | None, notify: bool
    ) -> dict[str, Any] | None:
        """A hand edit in wp-admin: the item's stock and/or regular price. WooCommerce then
        fires `product.updated` with the item (`notify` False: a dead webhook, nothing sent)."""
        with self._lock:
            item = self._items.get(int(listing_id)) if listing_id.isdigit() else None
            if item is None or item.type == "variable":
                return None
            if quantity is not None:
                holder = self._stock_holder(item.id) or item
                holder.manage_stock, holder.stock_quantity = True, quantity
            if price is not None:
                item.regular_price, item.sale_price = _money(price), ""
            item.date_modified_gmt = _now()
            payload = item.view()
        if notify:
            self.deliver("product.updated", payload)
        return next(r for r in self.shown() if r["listing_id"] == listing_id)

    def order_body(self, lines: list[SandboxLine]) -> dict[str, Any]:
        """A REST v3 create-order request (the spec's orders__create_an_order.request shape),
        paid, with each line's price given as its subtotal."""
        address = {
            "first_name": "Demo",
            "last_name": "Buyer",
            "address_1": "1 Keel Street",
            "address_2": "",
            "city": "Amsterdam",
            "state": "",
            "postcode": "1011 AA",
            "country": "NL",
        }
        items: list[dict[str, Any]] = []
        for line in lines:
            product_id, variation_id = self._line_refs(line.refs)
            amount = _money(line.price * line.quantity)
            item: dict[str, Any] = {"product_id": product_id, "quantity": line.quantity}
            if variation_id:
                item["variation_id"] = variation_id
            items.append({**item, "subtotal": amount, "total": amount})
        return {
            "payment_method": "bacs",
            "payment_method_title": "Direct Bank Transfer",
            "set_paid": True,
            "currency": self.currency,
            "billing": {**address, "email": "buyer@example.com", "phone": "+31 20 000 0000"},
            "shipping": address,
            "line_items": items,
            "shipping_lines": [],
        }

    def _line_refs(self, refs: dict[str, str]) -> tuple[int, int]:
        if "product_id" in refs:
            return int(refs["product_id"]), int(refs.get("variation_id") or 0)
        item_id = int(refs["item_id"])
        with self._lock:
            item = self._items.get(item_id)
        if item is not None and item.type == "variation":
            return item.parent_id, item_id
        return item_id, 0

    def shown(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    "listing_id": str(item.id),
                    "sku": item.sku or None,
                    "quantity": item.stock_quantity if item.manage_stock else None,
                    "price": item.selling_price or None,
                    "compare_at": item.regular_price if item.sale_price else None,
                    "account": self.base_url,
                    "marketplace": "",
                    "gtin": item.global_unique_id or None,
                }
                for item in sorted(self._items.values(), key=lambda i: i.id)
                if item.type != "variable"
            ]

    def order(self, order_id: int) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._orders[order_id])

    # --- webhooks ---
    def webhook_headers(self, topic: str, body: bytes) -> dict[str, str]:
        """The headers WC_Webhook::deliver sends; the delivery id is fresh every time."""
        resource, _, event = topic.partition(".")
        return {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-WC-Webhook-Source": f"{self.base_url}/",
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": resource,
            "X-WC-Webhook-Event": event,
            "X-WC-Webhook-Signature": sign(self.webhook_secret, body),
            "X-WC-Webhook-ID": str(WEBHOOK_IDS[topic]),
            "X-WC-Webhook-Delivery-ID": secrets.token_hex(16),
        }

    def deliver(self, topic: str, payload: dict[str, Any]) -> Delivery:
        """To each active webhook registered for the topic (signed with its own secret), or,
        with none registered, to `notify_to`'s URL. The last delivery is answered."""
        body = wc_json(payload)
        with self._lock:
            targets = self.subscriptions.targets(topic)
        if not targets:
            return self._send(Delivery(topic, None, body, {}, error="no active webhook"))
        sent = None
        for target in targets:
            headers = self.webhook_headers(topic, body)
            url = self.webhook_url
            if target is not None:
                url = target.address
                headers["X-WC-Webhook-Signature"] = sign(target.secret, body)
                headers["X-WC-Webhook-ID"] = target.id
            sent = self._send(Delivery(topic, url, body, headers))
            with self._lock:  # WooCommerce disables a webhook after 5 failures in a row
                self.subscriptions.delivered(target, sent.error is None, 5)
        assert sent is not None
        return sent

    def ping(self, topic: str = "order.created") -> Delivery:
        """The activation ping WooCommerce sends when a webhook is saved as active: unsigned."""
        body = f"webhook_id={WEBHOOK_IDS[topic]}".encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": USER_AGENT}
        return self._send(Delivery("ping", self.webhook_url, body, headers))

    def _send(self, delivery: Delivery) -> Delivery:
        """Failures are recorded, never raised: the shop's state change has happened anyway."""
        if delivery.url is None:
            delivery.error = delivery.error or "no webhook URL (notify_to was not called)"
        else:
            try:
                response = httpx.post(
                    delivery.url,
                    content=delivery.body,
                    headers=delivery.headers,
                    timeout=DELIVERY_TIMEOUT_S,
                )
                delivery.status = response.status_code
                if not response.is_success:
                    delivery.error = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                delivery.error = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self.deliveries.append(delivery)
        return delivery

    # --- the HTTP API ---
    def __call__(self, request: Request) -> Response:
        path = request.path
        if path == CONTROL or path.startswith(CONTROL + "/"):
            return self._control(request)
        response = self._api(request)
        try:
            body = json.loads(request.body) if request.body else None
        except ValueError:
            body = request.body.decode(errors="replace")
        with self._lock:
            self.requests.append(LoggedRequest(request.method, path, response.status, body))
        return response

    def _control(self, request: Request) -> Response:
        """The `/__sandbox/` surface: no auth and no outage (it is the test bench, not Woo)."""
        rel, method = request.path[len(CONTROL) :], request.method
        if rel == "/outage" and method == "POST":
            spec = json.loads(request.body or b"{}")
            self.fail_next(int(spec.get("requests", 1)), int(spec.get("status", 503)))
            return Response.json(200, {"outage": asdict(self.outage)})
        if rel == "/listings" and method == "GET":
            return Response.json(200, self.shown())
        if rel == "/shipments" and method == "GET":
            return Response.json(200, self.shipments())
        try:
            # ?notify=false: the shop changes the order but its webhook never arrives (a
            # failed delivery WooCommerce does not retry): only a poll can find it.
            notify = request.query.get("notify", ["true"])[-1] != "false"
            if rel == "/orders" and method == "POST":
                order_id = self.place_order(_json_body(request), notify=notify)
                return Response.json(200, {"id": str(order_id)})
            if (m := re.fullmatch(r"/orders/(\d+)/refund", rel)) and method == "POST":
                return Response.json(
                    200, self.refund(int(m.group(1)), _json_body(request), notify=notify)
                )
            if (m := re.fullmatch(r"/orders/(\d+)/cancel", rel)) and method == "POST":
                return Response.json(
                    200, {"id": m.group(1), "status": self.cancel(int(m.group(1)), notify)}
                )
        except _Refused as refused:
            return Response.json(
                refused.status, _error(refused.code, refused.message, refused.status)
            )
        return Response.json(404, _error("rest_no_route", "No route was found", 404))

    def place_order(self, payload: Any, notify: bool = True) -> int:
        """Keep the order, lower managed stock if it is paid, then send order.created."""
        with self._lock:
            order = self._build_order(payload)
            order_id: int = order["id"]
            self._orders[order_id] = order
            if order["status"] in STOCK_REDUCING:
                self._reduced[order_id] = self._reduce_stock(order)
            snapshot = copy.deepcopy(order)
        if notify:
            self.deliver("order.created", snapshot)
        return order_id

    def cancel(self, order_id: int, notify: bool = True) -> str:
        """Cancel, restore the stock the order took, then send order.updated (no change, no
        webhook: WooCommerce fires nothing when the status stays the same)."""
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                raise _Refused(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
            if order["status"] == "cancelled":
                return "cancelled"
            now = _now()
            order.update(status="cancelled", date_modified=now, date_modified_gmt=now)
            for item_id, quantity in self._reduced.pop(order_id, []):
                self._change_stock(item_id, quantity)
            snapshot = copy.deepcopy(order)
        if notify:
            self.deliver("order.updated", snapshot)
        return "cancelled"

    def delete_order(self, order_id: int, force: bool = False, notify: bool = True) -> Response:
        """`DELETE /orders/{id}`, as the merchant's admin does it: to the trash (status `trash`,
        still readable), or gone for good with `force=true`; WooCommerce then sends
        `order.deleted` carrying only `{"id"}`. Stock is not restored (neither does Woo)."""
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                return Response.json(
                    404, _error("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)
                )
            if not force and order["status"] == "trash":
                return Response.json(
                    410,
                    _error(
                        "woocommerce_rest_already_trashed",
                        "The order has already been deleted.",
                        410,
                    ),
                )
            now = _now()
            if force:
                del self._orders[order_id]
            else:
                order.update(status="trash", date_modified=now, date_modified_gmt=now)
            snapshot = copy.deepcopy(order)
        if notify:
            self.deliver("order.deleted", {"id": order_id})
        return Response.json(200, snapshot)

    def refund(self, order_id: int, spec: Any, notify: bool = True) -> dict[str, Any]:
        """The control surface's refund (`{"amount", "reason", "lines": [{"line_id",
        "quantity"}], "restock"}`), done as wc_create_refund does: the order lists the refund
        (negative total), restocked lines go back to stock, nothing left to refund makes it
        `refunded`; then order.updated."""
        if not isinstance(spec, dict):
            raise _Refused(400, "rest_invalid_param", "Invalid parameter(s): body")
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                raise _Refused(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
            try:
                amount = Decimal(str(spec.get("amount", "0")))
            except ArithmeticError:
                raise _Refused(400, "rest_invalid_param", "Invalid parameter(s): amount") from None
            refunded = sum((-Decimal(r["total"]) for r in order["refunds"]), Decimal(0))
            left = Decimal(order["total"]) - refunded
            if amount <= 0 or amount > left:
                raise _Refused(
                    400, "woocommerce_rest_cannot_create_order_refund", "Invalid refund amount."
                )
            lines = {li["id"]: li for li in order["line_items"]}
            restock: list[tuple[int, int]] = []
            for item in spec.get("lines") or []:
                line = lines.get(int(str(item.get("line_id", "0"))))
                quantity = _int(item.get("quantity", 0), "lines")
                if line is None or not 0 < quantity <= line["quantity"]:
                    raise _Refused(400, "rest_invalid_param", "Invalid parameter(s): lines")
                restock.append((line["variation_id"] or line["product_id"], quantity))
            refund_id = self._new_id()
            self._claim(refund_id)
            order["refunds"].append(
                {"id": refund_id, "reason": str(spec.get("reason", "")), "total": _money(-amount)}
            )
            if spec.get("restock", True):
                for item_id, quantity in restock:
                    holder = self._stock_holder(item_id)
                    if holder is not None:
                        self._change_stock(holder.id, quantity)
            now = _now()
            status = "refunded" if amount == left else order["status"]
            order.update(status=status, date_modified=now, date_modified_gmt=now)
            snapshot = copy.deepcopy(order)
        if notify:
            self.deliver("order.updated", snapshot)
        return {"id": str(order_id), "refund_id": str(refund_id), "status": status}

    def _reduce_stock(self, order: dict[str, Any]) -> list[tuple[int, int]]:
        """Each line lowers its variation's stock, or its parent's when only the parent
        manages stock (wc_reduce_stock_levels). Stock may go below zero, as in Woo."""
        reduced: list[tuple[int, int]] = []
        for line in order["line_items"]:
            target = self._stock_holder(line["variation_id"] or line["product_id"])
            if target is not None:
                self._change_stock(target.id, -line["quantity"])
                reduced.append((target.id, line["quantity"]))
        return reduced

    def _stock_holder(self, item_id: int) -> WooItem | None:
        item = self._items.get(item_id)
        if item is not None and not item.manage_stock and item.type == "variation":
            item = self._items.get(item.parent_id)
        return item if item is not None and item.manage_stock else None

    def _change_stock(self, item_id: int, delta: int) -> None:
        item = self._items[item_id]
        item.stock_quantity = (item.stock_quantity or 0) + delta
        item.date_modified_gmt = _now()

    def _build_order(self, payload: Any) -> dict[str, Any]:
        """An order as GET orders/{id} returns it. Given fields are kept (a full order may be
        posted); what is absent is filled in as WooCommerce would."""
        if not isinstance(payload, dict):
            raise _Refused(400, "rest_invalid_param", "Invalid parameter(s): body")
        order_id = _int(payload.get("id", 0), "id")
        if order_id in self._orders:
            raise _Refused(400, "woocommerce_rest_shop_order_exists", "Order ID already exists.")
        order_id = order_id or self._new_id()
        self._claim(order_id)
        # The control surface places orders that were bought: paid unless told otherwise
        # (`set_paid: false` leaves it pending, as the REST API does, and stock untouched).
        status = payload.get("status", "processing" if payload.get("set_paid", True) else "pending")
        if status not in STATUSES:
            raise _Refused(400, "rest_invalid_param", "Invalid parameter(s): status")
        raw_lines = payload.get("line_items") or []
        raw_shipping = payload.get("shipping_lines") or []
        if not isinstance(raw_lines, list) or not isinstance(raw_shipping, list):
            raise _Refused(400, "rest_invalid_param", "Invalid parameter(s): line_items")
        lines = [self._build_line(raw) for raw in raw_lines]
        shipping = [self._build_shipping(raw) for raw in raw_shipping]
        cart_tax = sum((Decimal(li["total_tax"]) for li in lines), Decimal(0))
        shipping_total = sum((Decimal(s["total"]) for s in shipping), Decimal(0))
        shipping_tax = sum((Decimal(s["total_tax"]) for s in shipping), Decimal(0))
        items_total = sum((Decimal(li["total"]) for li in lines), Decimal(0))
        discount = sum((Decimal(li["subtotal"]) - Decimal(li["total"]) for li in lines), Decimal(0))
        now = _now()
        paid = status in {"processing", "completed"}
        links_base = f"{self.base_url}{PREFIX}/orders"
        order: dict[str, Any] = {
            "id": order_id,
            "parent_id": 0,
            "number": str(order_id),
            "order_key": "wc_order_" + secrets.token_hex(7)[:13],
            "created_via": "rest-api",
            "version": "10.3.0",
            "status": status,
            "currency": self.currency,
            "date_created": now,
            "date_created_gmt": now,
            "date_modified": now,
            "date_modified_gmt": now,
            "discount_total": _money(discount),
            "discount_tax": "0.00",
            "shipping_total": _money(shipping_total),
            "shipping_tax": _money(shipping_tax),
            "cart_tax": _money(cart_tax),
            "total": _money(items_total + shipping_total + cart_tax + shipping_tax),
            "total_tax": _money(cart_tax + shipping_tax),
            "prices_include_tax": False,
            "customer_id": 0,
            "customer_ip_address": "",
            "customer_user_agent": "",
            "customer_note": "",
            "billing": {},
            "shipping": {},
            "payment_method": "",
            "payment_method_title": "",
            "transaction_id": "",
            "date_paid": now if paid else None,
            "date_paid_gmt": now if paid else None,
            "date_completed": now if status == "completed" else None,
            "date_completed_gmt": now if status == "completed" else None,
            "cart_hash": "",
            "meta_data": [],
            "tax_lines": [],
            "fee_lines": [],
            "coupon_lines": [],
            "refunds": [],
        }
        given = {
            k: v
            for k, v in payload.items()
            if k in order and k not in {"id", "line_items", "shipping_lines", "_links"}
        }
        order.update(copy.deepcopy(given))
        order["line_items"] = lines
        order["shipping_lines"] = shipping
        order["_links"] = {
            "self": [{"href": f"{links_base}/{order_id}"}],
            "collection": [{"href": links_base}],
        }
        return order

    def _build_line(self, raw: Any) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise _Refused(400, "rest_invalid_param", "Invalid parameter(s): line_items")
        product_id = _int(raw.get("product_id", 0), "product_id")
        variation_id = _int(raw.get("variation_id", 0), "variation_id")
        quantity = _int(raw.get("quantity"), "quantity", minimum=1)
        # As the REST controller does: the variation if given, else the product; a line then
        # names the parent as product_id and the variation as variation_id. Both 0: a line
        # whose product was deleted (only in a posted full order).
        item = self._items.get(variation_id or product_id)
        if variation_id or product_id:
            if (
                item is None
                or item.type == "variable"  # a variable parent cannot be bought itself
                or (variation_id and product_id and item.parent_id != product_id)
            ):
                raise _Refused(400, "woocommerce_rest_invalid_product_id", "Invalid product ID.")
            product_id = item.parent_id or item.id
            variation_id = item.id if item.type == "variation" else 0
        unit = Decimal(item.selling_price) if item is not None and item.selling_price else None
        if "subtotal" in raw:
            subtotal = _amount(raw["subtotal"], "subtotal")
        elif unit is not None:
            subtotal = unit * quantity
        else:
            raise _Refused(400, "rest_invalid_param", "Invalid parameter(s): subtotal")
        total = _amount(raw["total"], "total") if "total" in raw else subtotal
        total_tax = _amount(raw.get("total_tax", "0"), "total_tax")
        line_id = _int(raw.get("id", 0), "id") or next(self._line_ids)
        return {
            "id": line_id,
            "name": raw.get("name") or (item.name if item is not None else ""),
            "product_id": product_id,
            "variation_id": variation_id,
            "quantity": quantity,
            "tax_class": "",
            "subtotal": _money(subtotal),
            "subtotal_tax": _money(_amount(raw.get("subtotal_tax", "0"), "subtotal_tax")),
            "total": _money(total),
            "total_tax": _money(total_tax),
            "taxes": [],
            "meta_data": [],
            "sku": raw.get("sku") or (item.sku if item is not None else ""),
            "price": _php_number(subtotal / quantity),
        }

    def _build_shipping(self, raw: Any) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise _Refused(400, "rest_invalid_param", "Invalid parameter(s): shipping_lines")
        return {
            "id": _int(raw.get("id", 0), "id") or next(self._line_ids),
            "method_title": str(raw.get("method_title", "")),
            "method_id": str(raw.get("method_id", "")),
            "total": _money(_amount(raw.get("total", "0"), "total")),
            "total_tax": _money(_amount(raw.get("total_tax", "0"), "total_tax")),
            "taxes": [],
            "meta_data": [],
        }

    def _api(self, request: Request) -> Response:
        if not request.path.startswith(PREFIX):
            return Response.json(404, _error("rest_no_route", "No route was found", 404))
        if not self._authorized(request):
            return Response.json(
                401,
                _error("woocommerce_rest_authentication_error", "Consumer key is invalid.", 401),
            )
        with self._lock:
            if self.outage.remaining > 0:
                self.outage.remaining -= 1
                status = self.outage.status
                headers = {"Retry-After": "1"} if status == 429 else {}
                return Response.json(
                    status, _error("sandbox_outage", "Service Unavailable", status), headers
                )
            return self._route(request)

    def _list_orders(self, request: Request) -> Response:
        """GET orders: `modified_after` (ISO 8601; GMT with dates_are_gmt=true), `orderby`
        (date, id, modified), `order`, `page`, `per_page` (1..100), and the paging headers
        X-WP-Total and X-WP-TotalPages, as WooCommerce answers."""
        query = {k: v[-1] for k, v in request.query.items()}
        try:
            page = int(query.get("page", "1"))
            per_page = int(query.get("per_page", "10"))
        except ValueError:
            return Response.json(400, _error("rest_invalid_param", "Invalid parameter(s)", 400))
        if not 1 <= per_page <= 100 or page < 1:
            return Response.json(
                400, _error("rest_invalid_param", "Invalid parameter(s): per_page, page", 400)
            )
        orders = list(self._orders.values())
        if "modified_after" in query:
            after = query["modified_after"].replace("Z", "")[:19]
            field = "date_modified_gmt" if query.get("dates_are_gmt") == "true" else "date_modified"
            orders = [o for o in orders if o[field] > after]
        key = {"modified": "date_modified_gmt", "id": "id"}.get(
            query.get("orderby", ""), "date_created_gmt"
        )
        orders.sort(key=lambda o: (o[key], o["id"]), reverse=query.get("order", "desc") == "desc")
        total = len(orders)
        pages = max(1, -(-total // per_page)) if total else 0
        chunk = orders[(page - 1) * per_page : page * per_page]
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
        return Response.json(200, copy.deepcopy(chunk), headers)

    def _authorized(self, request: Request) -> bool:
        header = next((v for k, v in request.headers.items() if k.lower() == "authorization"), "")
        if not header.startswith("Basic "):
            return False
        try:
            key, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return (key, secret) == self._credentials

    def _route(self, request: Request) -> Response:
        rel = request.path[len(PREFIX) :]
        if request.method == "POST" and rel == "/products/batch":
            return self._batch(request, parent_id=None)
        m = re.fullmatch(r"/products/(\d+)/variations/batch", rel)
        if m and request.method == "POST":
            return self._batch(request, parent_id=int(m.group(1)))
        if (m := re.fullmatch(r"/orders/(\d+)", rel)) and request.method in ("PUT", "POST"):
            return self._update_order(int(m.group(1)), request)
        if (m := re.fullmatch(r"/orders/(\d+)", rel)) and request.method == "DELETE":
            force = request.query.get("force", ["false"])[-1] == "true"
            return self.delete_order(int(m.group(1)), force)
        if m := re.fullmatch(r"/orders/(\d+)/notes", rel):
            return self._notes(int(m.group(1)), request)
        if rel == "/webhooks" or rel.startswith("/webhooks/"):
            return self._webhooks(rel, request)
        if request.method == "GET":
            if rel == "/orders":
                return self._list_orders(request)
            if rel == "/products":
                items = [i for i in self._items.values() if i.type != "variation"]
                return _page(request, [i.view() for i in sorted(items, key=lambda i: i.id)])
            if m := re.fullmatch(r"/products/(\d+)/variations", rel):
                parent = self._items.get(int(m.group(1)))
                if parent is None or parent.type != "variable":
                    return Response.json(
                        404, _error("woocommerce_rest_product_invalid_id", "Invalid ID.", 404)
                    )
                found = [self._items[v].view() for v in parent.variations]
                return _page(request, found)
            if m := re.fullmatch(r"/orders/(\d+)", rel):
                order = self._orders.get(int(m.group(1)))
                if order is not None:
                    return Response.json(200, order)
                return Response.json(
                    404, _error("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)
                )
            if m := re.fullmatch(r"/products/(\d+)", rel):
                item = self._items.get(int(m.group(1)))
                if item and item.type != "variation":
                    return Response.json(200, item.view())
                return Response.json(
                    404, _error("woocommerce_rest_product_invalid_id", "Invalid ID.", 404)
                )
            if m := re.fullmatch(r"/products/(\d+)/variations/(\d+)", rel):
                item = self._items.get(int(m.group(2)))
                if item and item.type == "variation" and item.parent_id == int(m.group(1)):
                    return Response.json(200, item.view())
                return Response.json(
                    404,
                    _error("woocommerce_rest_product_variation_invalid_id", "Invalid ID.", 404),
                )
        return Response.json(
            404,
            _error("rest_no_route", "No route was found matching the URL and request method", 404),
        )

    def _webhooks(self, rel: str, request: Request) -> Response:
        """`/webhooks`: list, read, create (`topic`, `delivery_url`, `secret`, `status`) and
        update; WooCommerce's topics are `<resource>.<event>`."""
        book = self.subscriptions
        if rel == "/webhooks" and request.method == "GET":
            return _page(request, [_hook_view(s) for s in book.listed()])
        body = _json_body(request) if request.method in ("POST", "PUT") else {}
        if not isinstance(body, dict):
            return Response.json(400, _error("rest_invalid_param", "Invalid parameter(s)", 400))
        if rel == "/webhooks" and request.method == "POST":
            topic, url = body.get("topic"), body.get("delivery_url")
            resource, _, event = str(topic or "").partition(".")
            if resource not in {"order", "product", "customer", "coupon"} or not event:
                return Response.json(
                    400, _error("rest_invalid_param", "Invalid parameter(s): topic", 400)
                )
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                return Response.json(
                    400, _error("rest_invalid_param", "Invalid parameter(s): delivery_url", 400)
                )
            made = book.add(str(topic), url, str(body.get("secret") or ""),
                            name=str(body.get("name") or ""), created=_now())  # fmt: skip
            made.active = body.get("status", "active") == "active"
            if not made.active:
                made.extra["off"] = str(body.get("status"))
            return Response.json(201, _hook_view(made))
        m = re.fullmatch(r"/webhooks/(\d+)", rel)
        sub = book.items.get(m.group(1)) if m else None
        if sub is None:
            return Response.json(
                404, _error("woocommerce_rest_webhook_invalid_id", "Invalid ID.", 404)
            )
        if request.method == "GET":
            return Response.json(200, _hook_view(sub))
        if request.method in ("PUT", "POST"):
            if isinstance(body.get("delivery_url"), str):
                sub.address = body["delivery_url"]
            if isinstance(body.get("secret"), str):
                sub.secret = body["secret"]
            if "status" in body:
                sub.active = body["status"] == "active"
                sub.extra["off"] = str(body["status"])
                sub.failures = 0
            return Response.json(200, _hook_view(sub))
        return Response.json(404, _error("rest_no_route", "No route was found", 404))

    def _update_order(self, order_id: int, request: Request) -> Response:
        """PUT orders/{id}: the fields Keel sets (status, meta_data); a status change to
        `completed` stamps date_completed, as WooCommerce does. Fires order.updated."""
        order = self._orders.get(order_id)
        if order is None:
            return Response.json(
                404, _error("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)
            )
        try:
            change = json.loads(request.body or b"{}")
        except ValueError:
            return Response.json(400, _error("rest_invalid_json", "Invalid JSON body passed.", 400))
        if not isinstance(change, dict):
            return Response.json(400, _error("rest_invalid_json", "Invalid JSON body passed.", 400))
        metas = change.get("meta_data") or []
        if not isinstance(metas, list) or not all(
            isinstance(m, dict) and isinstance(m.get("key"), str) for m in metas
        ):
            return Response.json(
                400, _error("rest_invalid_param", "Invalid parameter(s): meta_data", 400)
            )
        status = change.get("status", order["status"])
        if not isinstance(status, str) or status not in STATUSES:
            return Response.json(
                400, _error("rest_invalid_param", "Invalid parameter(s): status", 400)
            )
        if "line_items" in change:
            try:
                self._edit_lines(order, change["line_items"])
            except _Refused as refused:
                return Response.json(
                    refused.status, _error(refused.code, refused.message, refused.status)
                )
        now = _now()
        if status == "completed" and order["status"] != "completed":
            order.update(date_completed=now, date_completed_gmt=now)
        for meta in metas:
            order["meta_data"] = [m for m in order["meta_data"] if m.get("key") != meta.get("key")]
            order["meta_data"].append({"id": self._new_id(), **meta})
        order.update(status=status, date_modified=now, date_modified_gmt=now)
        snapshot = copy.deepcopy(order)
        threading.Thread(target=self.deliver, args=("order.updated", snapshot), daemon=True).start()
        return Response.json(200, snapshot)

    def _edit_lines(self, order: dict[str, Any], changes: Any) -> None:
        """`line_items` of an order update, as the REST controller takes them: each names an
        existing line by `id`; a positive `quantity` sets it (totals follow the unit price), a
        null `product_id` or a `quantity` of 0 removes it (`item_is_null`). A removed or
        reduced line gives its stock back (WooCommerce 9.2+). All or nothing."""
        if not isinstance(changes, list) or not all(isinstance(c, dict) for c in changes):
            raise _Refused(400, "rest_invalid_param", "Invalid parameter(s): line_items")
        lines = {line["id"]: line for line in order["line_items"]}
        planned: list[tuple[dict[str, Any], int]] = []
        for c in changes:
            line = lines.get(c.get("id")) if isinstance(c.get("id"), int) else None
            if line is None:
                raise _Refused(
                    400,
                    "woocommerce_rest_invalid_item_id",
                    "Order item ID provided is not associated with order.",
                )
            removed = ("product_id" in c and c["product_id"] is None) or c.get("quantity") == 0
            quantity = 0 if removed else _int(c.get("quantity"), "quantity", minimum=1)
            planned.append((line, quantity))
        for line, quantity in planned:
            given_back = line["quantity"] - quantity
            holder = self._stock_holder(line["variation_id"] or line["product_id"])
            reduced = self._reduced.get(order["id"], [])
            if holder is not None and given_back > 0 and any(i == holder.id for i, _ in reduced):
                self._change_stock(holder.id, given_back)
                self._reduced[order["id"]] = [
                    (i, q - given_back if i == holder.id else q) for i, q in reduced
                ]
            if quantity == 0:
                order["line_items"] = [ln for ln in order["line_items"] if ln is not line]
                continue
            unit = Decimal(line["subtotal"]) / line["quantity"]
            line.update(
                quantity=quantity,
                subtotal=_money(unit * quantity),
                total=_money(Decimal(line["total"]) / line["quantity"] * quantity),
            )
        items = sum((Decimal(ln["total"]) for ln in order["line_items"]), Decimal(0))
        taxes = sum((Decimal(ln["total_tax"]) for ln in order["line_items"]), Decimal(0))
        shipping = sum((Decimal(s["total"]) for s in order["shipping_lines"]), Decimal(0))
        shipping_tax = Decimal(order.get("shipping_tax") or "0")
        order.update(
            total=_money(items + shipping + taxes + shipping_tax),
            cart_tax=_money(taxes),
            total_tax=_money(taxes + shipping_tax),
        )

    def _notes(self, order_id: int, request: Request) -> Response:
        """GET/POST orders/{id}/notes. A customer note with a tracking number is what Keel's
        shipment confirmation leaves; `GET /__sandbox/shipments` reads them back."""
        if order_id not in self._orders:
            return Response.json(
                404, _error("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)
            )
        notes = self._order_notes.setdefault(order_id, [])
        if request.method == "GET":
            return Response.json(200, notes)
        if request.method != "POST":
            return Response.json(404, _error("rest_no_route", "No route was found", 404))
        try:
            given = json.loads(request.body or b"{}")
        except ValueError:
            return Response.json(400, _error("rest_invalid_json", "Invalid JSON body passed.", 400))
        if not isinstance(given.get("note"), str) or not given["note"]:
            return Response.json(
                400, _error("rest_missing_callback_param", "Missing parameter(s): note", 400)
            )
        note = {
            "id": self._new_id(),
            "author": "WooCommerce",
            "date_created_gmt": _now(),
            "note": given["note"],
            "customer_note": bool(given.get("customer_note", False)),
        }
        notes.append(note)
        return Response.json(201, note)

    def shipments(self) -> list[dict[str, Any]]:
        """What Keel told the shop shipped: the tracking items on its orders (the meta the
        WooCommerce Shipment Tracking extension keeps, `_wc_shipment_tracking_items`)."""
        with self._lock:
            return [
                {
                    "order_id": str(order_id),
                    "tracking_number": item.get("tracking_number"),
                    "carrier": item.get("custom_tracking_provider")
                    or item.get("tracking_provider"),
                }
                for order_id, order in self._orders.items()
                for meta in order["meta_data"]
                if meta.get("key") == TRACKING_META and isinstance(meta.get("value"), list)
                for item in meta["value"]
            ]

    def _batch(self, request: Request, parent_id: int | None) -> Response:
        try:
            payload = json.loads(request.body or b"{}")
        except ValueError:
            return Response.json(400, _error("rest_invalid_json", "Invalid JSON body passed.", 400))
        if not isinstance(payload, dict):
            return Response.json(
                400, _error("rest_invalid_param", "Invalid parameter(s): body", 400)
            )
        total = sum(len(payload.get(k) or []) for k in ("create", "update", "delete"))
        if total > BATCH_LIMIT:
            return Response.json(
                413,
                _error(
                    "woocommerce_rest_request_entity_too_large",
                    f"Unable to accept more than {BATCH_LIMIT} items for this request.",
                    413,
                ),
            )
        if payload.get("create") or payload.get("delete"):
            return Response.json(
                400, _error("sandbox_unsupported", "This sandbox supports batch update only", 400)
            )
        if parent_id is not None and parent_id not in self._items:
            return Response.json(
                404, _error("woocommerce_rest_product_invalid_id", "Invalid ID.", 404)
            )
        return Response.json(
            200, {"update": [self._update(i, parent_id) for i in payload.get("update") or []]}
        )

    def _update(self, change: Any, parent_id: int | None) -> dict[str, Any]:
        invalid_id = (
            "woocommerce_rest_product_variation_invalid_id"
            if parent_id is not None
            else "woocommerce_rest_product_invalid_id"
        )
        raw_id = change.get("id") if isinstance(change, dict) else None
        item_id = raw_id if isinstance(raw_id, int) and not isinstance(raw_id, bool) else 0
        item = self._items.get(item_id)
        wrong_kind = item is not None and (
            (parent_id is None and item.type == "variation")
            or (parent_id is not None and (item.type != "variation" or item.parent_id != parent_id))
        )
        if item is None or wrong_kind:
            return {"id": item_id, "error": _error(invalid_id, "Invalid ID.", 400)}
        assert isinstance(change, dict)
        if "stock_quantity" in change:
            qty = change["stock_quantity"]
            if isinstance(qty, bool) or not isinstance(qty, int):
                return {
                    "id": item_id,
                    "error": _error(
                        "rest_invalid_param",
                        "Invalid parameter(s): stock_quantity "
                        "(stock_quantity is not of type integer.)",
                        400,
                    ),
                }
        prices = {k: change[k] for k in ("regular_price", "sale_price") if k in change}
        for name, value in prices.items():
            if not isinstance(value, str):
                refused = f"Invalid parameter(s): {name} ({name} is not of type string.)"
                return {"id": item_id, "error": _error("rest_invalid_param", refused, 400)}
            if (value and not _MONEY.fullmatch(value)) or value.startswith("-"):
                refused = f"Invalid parameter(s): {name}"
                return {"id": item_id, "error": _error("rest_invalid_param", refused, 400)}
        regular = prices.get("regular_price", item.regular_price)
        sale = prices.get("sale_price", item.sale_price)
        if sale and regular and Decimal(sale) >= Decimal(regular):
            sale = ""  # WooCommerce drops a sale price not below the regular one
        item.regular_price, item.sale_price = regular, sale
        if "manage_stock" in change:
            item.manage_stock = bool(change["manage_stock"])
        if "stock_quantity" in change and item.manage_stock:
            item.stock_quantity = int(change["stock_quantity"])
        item.date_modified_gmt = _now()
        return item.view()


def _page(request: Request, rows: list[dict[str, Any]]) -> Response:
    """One page of a collection, with WooCommerce's paging headers (per_page 1..100)."""
    query = {k: v[-1] for k, v in request.query.items()}
    try:
        page, per_page = int(query.get("page", "1")), int(query.get("per_page", "10"))
    except ValueError:
        return Response.json(400, _error("rest_invalid_param", "Invalid parameter(s)", 400))
    if not 1 <= per_page <= 100 or page < 1:
        return Response.json(
            400, _error("rest_invalid_param", "Invalid parameter(s): per_page, page", 400)
        )
    total = len(rows)
    headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(-(-total // per_page))}
    return Response.json(200, rows[(page - 1) * per_page : page * per_page], headers)


def _hook_view(sub: SandboxSubscription) -> dict[str, Any]:
    resource, _, event = sub.topic.partition(".")
    return {
        "id": int(sub.id),
        "name": sub.extra.get("name", ""),
        "status": "active" if sub.active else sub.extra.get("off", "disabled"),
        "topic": sub.topic,
        "resource": resource,
        "event": event,
        "delivery_url": sub.address,
        "secret": sub.secret,
        "date_created_gmt": sub.extra.get("created", ""),
    }


def _json_body(request: Request) -> Any:
    try:
        return json.loads(request.body or b"null")
    except ValueError as exc:
        raise _Refused(400, "rest_invalid_json", "Invalid JSON body passed.") from exc
