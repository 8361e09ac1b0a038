"""A WooCommerce REST v3 sandbox for stock: products, variations and their batch endpoints.

Faithful where Keel depends on it: Basic auth, <= 100 items per batch (413), per-item errors
inside a 200 for unknown ids, integer-only stock_quantity, and stock_quantity ignored unless
manage_stock is on. Outages can be switched on to test retries.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from local_stack.http import Request, Response

PREFIX = "/wp-json/wc/v3"
BATCH_LIMIT = 100


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

    def view(self) -> dict[str, Any]:
        data = asdict(self)
        qty = self.stock_quantity if self.manage_stock else None
        data["stock_quantity"] = qty
        data["stock_status"] = "instock" if (qty is None or qty > 0) else "outofstock"
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


def _error(code: str, message: str, status: int) -> dict[str, Any]:
    return {"code": code, "message": message, "data": {"status": status}}


class WooCommerceSandbox:
    def __init__(self, consumer_key: str, consumer_secret: str) -> None:
        self._credentials = (consumer_key, consumer_secret)
        self._items: dict[int, WooItem] = {}
        self._lock = threading.Lock()
        self.outage = Outage()
        self.requests: list[LoggedRequest] = []

    # --- seeding and inspection (what a merchant's shop already has) ---
    def add_product(self, product_id: int, name: str, sku: str, stock: int | None = None) -> None:
        self._items[product_id] = WooItem(
            product_id, name, sku, manage_stock=stock is not None, stock_quantity=stock
        )

    def add_variation(
        self, parent_id: int, variation_id: int, name: str, sku: str, stock: int | None = None
    ) -> None:
        if parent_id not in self._items:
            self._items[parent_id] = WooItem(parent_id, name, "", type="variable")
        self._items[variation_id] = WooItem(
            variation_id,
            name,
            sku,
            type="variation",
            parent_id=parent_id,
            manage_stock=stock is not None,
            stock_quantity=stock,
        )

    def stock_of(self, item_id: int) -> int | None:
        item = self._items[item_id]
        return item.stock_quantity if item.manage_stock else None

    def fail_next(self, requests: int, status: int = 503) -> None:
        self.outage = Outage(requests, status)

    # --- the HTTP API ---
    def __call__(self, request: Request) -> Response:
        path = request.path
        if path == "/__sandbox/outage" and request.method == "POST":
            spec = json.loads(request.body or b"{}")
            self.fail_next(int(spec.get("requests", 1)), int(spec.get("status", 503)))
            return Response.json(200, {"outage": asdict(self.outage)})
        response = self._api(request)
        try:
            body = json.loads(request.body) if request.body else None
        except ValueError:
            body = request.body.decode(errors="replace")
        self.requests.append(LoggedRequest(request.method, path, response.status, body))
        return response

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
        if request.method == "GET":
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
        if "manage_stock" in change:
            item.manage_stock = bool(change["manage_stock"])
        if "stock_quantity" in change and item.manage_stock:
            item.stock_quantity = int(change["stock_quantity"])
        item.date_modified_gmt = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return item.view()
