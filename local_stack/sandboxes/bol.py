"""A bol.com Retailer API v10 sandbox: the token endpoint, orders (one and the reduced list),
offer stock, shipments, order-item cancellations, process statuses, the push-signature keys,
and the signed thin pushes bol sends.

Faithful where Keel depends on it: OAuth2 client credentials (Basic auth) issuing tokens that
expire (`expires_in` 299; an expired one answers bol's 401 "Expired JWT"), the media type
`application/vnd.retailer.v10+json` required on every call (406/415 otherwise), request bodies
validated against the spec's own schemas (400 with bol's Problem and violations), writes
answered 202 with a process status that becomes SUCCESS shortly after (or FAILURE/TIMEOUT when
told; read one by one or up to 1,000 at once, a bulk answer leaving out ids it does not know),
per-endpoint rate limits with `X-RateLimit-*` headers and 429 + Retry-After, and pushes
signed RSA-SHA256 with a key pair whose public half `GET /retailer/subscriptions/signature-keys`
serves. Shapes and error bodies come from `../shared/specs/bol/`. The `/__sandbox/` control
surface is described in `local_stack/sandboxes/base.py`; bol adds
`POST /__sandbox/process-failures` (`{"requests": N, "status": "FAILURE"|"TIMEOUT",
"error": "..."}`: the next N writes end so) and `POST /__sandbox/keys/rotate`.
"""

from __future__ import annotations

import base64
import copy
import csv
import functools
import io
import itertools
import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from local_stack.http import Request, Response
from local_stack.sandboxes import specs
from local_stack.sandboxes.base import (
    SandboxLine,
    SandboxSubscription,
    SubscriptionBook,
)

CHANNEL = "bol"
MEDIA_TYPE = "application/vnd.retailer.v10+json"
CSV_MEDIA_TYPE = "application/vnd.retailer.v10+csv"
# The offers export's columns, as bol documents them (GET /retailer/offers/export/{report-id}).
EXPORT_COLUMNS = (
    "offerId", "ean", "conditionName", "conditionCategory", "conditionComment",
    "bundlePricesPrice", "fulfilmentDeliveryCode", "stockAmount", "onHoldByRetailer",
    "fulfilmentType", "mutationDateTime", "referenceCode", "correctedStock",
)  # fmt: skip
CONTROL = "/__sandbox"
TOKEN_LIFE_S = 299
PROCESS_DELAY_S = 0.2  # a write is applied (SUCCESS) this long after bol accepted it
RATE_LIMIT = 25  # calls per endpoint per second
PAGE_SIZE = 50
DELIVERY_TIMEOUT_S = 10.0
RETAILER_ID = "1234567"
COMMISSION_PERCENT, COMMISSION_FIXED = Decimal("12.00"), Decimal("0.99")  # commission

_ROUTES: tuple[tuple[str, str, str], ...] = (  # method, path pattern, endpoint template
    ("GET", r"/retailer/orders", "/retailer/orders"),
    ("PUT", r"/retailer/orders/cancellation", "/retailer/orders/cancellation"),
    ("GET", r"/retailer/orders/(?P<id>[^/]+)", "/retailer/orders/{order-id}"),
    ("PUT", r"/retailer/offers/(?P<id>[^/]+)/stock", "/retailer/offers/{offer-id}/stock"),
    ("PUT", r"/retailer/offers/(?P<id>[^/]+)/price", "/retailer/offers/{offer-id}/price"),
    ("GET", r"/retailer/products/(?P<id>[^/]+)/offers", "/retailer/products/{ean}/offers"),
    ("GET", r"/retailer/commission/(?P<id>[^/]+)", "/retailer/commission/{ean}"),
    ("POST", r"/retailer/shipments", "/retailer/shipments"),
    ("GET", r"/retailer/subscriptions/signature-keys", "/retailer/subscriptions/signature-keys"),
    ("GET", r"/retailer/subscriptions", "/retailer/subscriptions"),
    ("POST", r"/retailer/subscriptions", "/retailer/subscriptions"),
    ("GET", r"/retailer/subscriptions/(?P<id>[^/]+)", "/retailer/subscriptions/{subscription-id}"),
    ("PUT", r"/retailer/subscriptions/(?P<id>[^/]+)", "/retailer/subscriptions/{subscription-id}"),
    ("POST", r"/retailer/offers/export", "/retailer/offers/export"),
    ("GET", r"/retailer/offers/export/(?P<id>[^/]+)", "/retailer/offers/export/{report-id}"),
    ("GET", r"/retailer/offers/(?P<id>[^/]+)", "/retailer/offers/{offer-id}"),
    ("GET", r"/shared/process-status/(?P<id>[^/]+)", "/shared/process-status/{id}"),
    ("POST", r"/shared/process-status", "/shared/process-status"),
)


def spec_dir() -> Path:
    return specs.specs_dir() / "bol/retailer-v10"


@functools.cache
def spec_schemas() -> dict[str, Any]:
    """The component schemas of bol's own v10 OpenAPIs, retailer and shared (loaded once).
    Empty without the vendor specs: request bodies then go unchecked (specs.say_once)."""
    if not specs.strict():
        specs.say_once()
        return {}
    schemas: dict[str, Any] = {}
    for name in ("shared.openapi.json", "retailer.openapi.json"):
        path = spec_dir() / name
        if not path.is_file():
            raise FileNotFoundError(f"bol spec not found at {path}: the specs folder is partial")
        schemas |= json.loads(path.read_text())["components"]["schemas"]
    return schemas


def violations(value: Any, schema: dict[str, Any], name: str = "") -> list[dict[str, str]]:
    """The subset of JSON Schema bol's request schemas use: $ref, type, required, enum,
    minimum/maximum, minLength/maxLength, minItems/maxItems, nested objects and arrays."""
    if "$ref" in schema:
        ref = schema["$ref"].rsplit("/", 1)[-1]
        if not specs.strict():
            return []
        return violations(value, spec_schemas()[ref], name)
    kind = schema.get("type")
    out: list[dict[str, str]] = []

    def bad(reason: str) -> list[dict[str, str]]:
        return [{"name": name or "body", "reason": reason}]

    if kind == "object":
        if not isinstance(value, dict):
            return bad("must be an object")
        for req in schema.get("required", []):
            if req not in value:
                out += (
                    bad(f"'{req}' is required")
                    if not name
                    else [{"name": f"{name}.{req}", "reason": "Request contains invalid value(s)."}]
                )
        for key, sub in schema.get("properties", {}).items():
            if key in value and value[key] is not None:
                out += violations(value[key], sub, f"{name}.{key}" if name else key)
        return out
    if kind == "array":
        if not isinstance(value, list):
            return bad("must be an array")
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", 10**9):
            out += bad(f"size must be between {schema.get('minItems', 0)} and "
                       f"{schema.get('maxItems', 'any')}")  # fmt: skip
        for n, item in enumerate(value):
            out += violations(item, schema.get("items", {}), f"{name}[{n}]")
        return out
    if kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            return bad("must be an integer")
        if value < schema.get("minimum", -(10**18)) or value > schema.get("maximum", 10**18):
            return bad(f"must be between {schema.get('minimum')} and {schema.get('maximum')}")
        return []
    if kind == "number":
        return (
            []
            if isinstance(value, int | float) and not isinstance(value, bool)
            else bad("must be a number")
        )
    if kind == "boolean":
        return [] if isinstance(value, bool) else bad("must be a boolean")
    if kind == "string":
        if not isinstance(value, str):
            return bad("must be a string")
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", 10**9):
            return bad("length out of bounds")
        if "enum" in schema and value not in schema["enum"]:
            return bad(f"must be one of {schema['enum']}")
    return out


def problem(status: int, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "https://api.bol.com/problems",
        "title": title,
        "status": status,
        "detail": detail,
        "host": "Instance-sandbox",
        **extra,
    }


def _now_iso() -> str:
    return datetime.now(UTC).astimezone().isoformat(timespec="seconds")


@dataclass
class Offer:
    offer_id: str
    ean: str
    reference: str
    title: str
    price: Decimal
    amount: int | None
    managed_by_retailer: bool = False
    # store.visible[].countryCode: one offer sells in each of them (one listing in Keel).
    countries: tuple[str, ...] = ("NL", "BE")


@dataclass
class Process:
    id: str
    event_type: str
    entity_id: str
    due: float
    apply: Any  # callable run at SUCCESS
    ends: str = "SUCCESS"  # how it ends when due: SUCCESS, FAILURE or TIMEOUT
    error: str = ""
    status: str = "PENDING"
    created: str = field(default_factory=_now_iso)

    def view(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "processStatusId": self.id,
            "entityId": self.entity_id,
            "eventType": self.event_type,
            "description": f"{self.event_type} for {self.entity_id}",
            "status": self.status,
            "createTimestamp": self.created,
            "links": [
                {
                    "rel": "self",
                    "href": f"https://api.bol.com/shared/process-status/{self.id}",
                    "method": "GET",
                }
            ],
        }
        if self.error:
            body["errorMessage"] = self.error
        return body


@dataclass
class Delivery:
    """One push the sandbox sent (or tried to)."""

    url: str | None
    body: bytes
    headers: dict[str, str]
    status: int | None = None
    error: str | None = None


class _Refused(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(body.get("detail", ""))
        self.status, self.body, self.headers = status, body, headers or {}


class BolSandbox:
    """Thread-safe: the server is threaded. Pushes go out after the state change, outside the
    lock, synchronously (the caller knows Keel was told)."""

    channel = CHANNEL

    def __init__(self, retailer_id: str = RETAILER_ID, base_url: str = "http://127.0.0.1") -> None:
        self.client_id = "bol-client-" + secrets.token_hex(6)
        self.client_secret = secrets.token_urlsafe(24)
        self.retailer_id = retailer_id
        self.base_url = base_url.rstrip("/")
        self.webhook_url: str | None = None
        self._lock = threading.RLock()
        self._keys: dict[str, rsa.RSAPrivateKey] = {}
        self.key_id = "0"
        self._keys[self.key_id] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._tokens: dict[str, float] = {}  # token -> expiry (time.time)
        self.token_life_s = TOKEN_LIFE_S
        self.offers: dict[str, Offer] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.processes: dict[str, Process] = {}
        self._process_ids = itertools.count(1_000_001)
        self._order_ids = itertools.count(1_100_000_001)
        self._item_ids = itertools.count(2_100_000_001)
        self._eans = itertools.count(871_000_000_001)
        self._shipments: list[dict[str, Any]] = []
        self._failures: list[tuple[str, str]] = []  # (status, error) for the next writes
        self._outage: list[int] = []
        self._windows: dict[str, tuple[float, int]] = {}  # endpoint -> (window start, calls)
        self.rate_limit = RATE_LIMIT
        self.process_delay_s = PROCESS_DELAY_S
        self._competitors: dict[str, list[tuple[str, Decimal, bool]]] = {}  # EAN -> offers
        self.deliveries: list[Delivery] = []
        self.requests: list[tuple[str, str, int]] = []
        self.subscriptions = SubscriptionBook(first_id=5001)
        self._exports: dict[str, str] = {}  # report id -> CSV, once the export process is done
        self._report_ids = itertools.count(7001)

    # --- ChannelSandbox ---
    def keel_secret(self, base_url: str) -> dict[str, Any]:
        self.base_url = base_url.rstrip("/")
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "retailer_id": self.retailer_id,
            "currency": "EUR",
            "api_base_url": self.base_url,
            "token_url": f"{self.base_url}/token",
        }

    def local_only_secrets(self) -> dict[str, str]:
        """`bol_webhook_secret` is the private key pushes are signed with (PEM): bol signs with
        its own key, so this is what signs a push sent by hand."""
        return {
            "bol_webhook_secret": self.private_pem(),
            "bol_client_id": self.client_id,
            "bol_client_secret": self.client_secret,
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
        """An offer with its own EAN (the GTIN given, as bol's 13 digits) and Keel's SKU as its
        reference. Keel's listing holds the offer id (lines match by it) and the EAN as its
        `sku` ref (then by EAN)."""
        if marketplace:
            raise ValueError(f"{self.channel} has no marketplaces, got {marketplace!r}")
        with self._lock:
            ean = gtin.zfill(14)[1:] if gtin else self._new_ean()
            offer = Offer(str(uuid.uuid4()), ean, sku, title, price, quantity)
            self.offers[offer.offer_id] = offer
        return {
            "offer_id": offer.offer_id,
            "ean": offer.ean,
            "sku": offer.ean,
            "listing_id": offer.offer_id,
        }

    def edit_listing(
        self, listing_id: str, quantity: int | None, price: Decimal | None, notify: bool
    ) -> dict[str, Any] | None:
        """A hand edit in the bol seller dashboard: the offer's stock and/or price. bol has no
        event for either (its offer events are for-sale changes, on Pub/Sub and SQS only), so
        nothing is sent whatever `notify` says: only reconciliation's sweep sees it."""
        self._settle()
        with self._lock:
            offer = self.offers.get(listing_id)
            if offer is None:
                return None
            if quantity is not None:
                offer.amount = quantity
            if price is not None:
                offer.price = price
        return next(r for r in self.shown() if r["listing_id"] == listing_id)

    def order_body(self, lines: list[SandboxLine]) -> dict[str, Any]:
        """An order as `GET /retailer/orders/{id}` returns it (FBR, not yet shipped)."""
        items = []
        for line in lines:
            offer_id = line.refs.get("offer_id", "")
            ean = line.refs.get("ean") or line.refs.get("sku") or ""
            items.append(
                {
                    "orderItemId": str(next(self._item_ids)),
                    "cancellationRequest": False,
                    "fulfilment": {"method": "FBR", "distributionParty": "RETAILER"},
                    "offer": {"offerId": offer_id, "reference": line.sku or ""},
                    "product": {"ean": ean, "title": line.title},
                    "quantity": line.quantity,
                    "quantityShipped": 0,
                    "quantityCancelled": 0,
                    "unitPrice": float(line.price),
                    "totalPrice": float(line.price * line.quantity),
                    "commission": 0.0,
                    "discounts": [],
                }
            )
        return {
            "pickupPoint": False,
            "shipmentDetails": {
                "salutation": "UNKNOWN",
                "firstName": "Demo",
                "surname": "Koper",
                "streetName": "Keelstraat",
                "houseNumber": "1",
                "zipCode": "1011AA",
                "city": "Amsterdam",
                "countryCode": "NL",
                "email": "koper@example.com",
                "language": "nl",
            },
            "orderItems": items,
        }

    def shown(self) -> list[dict[str, Any]]:
        self._settle()
        with self._lock:
            return [
                {
                    "listing_id": o.offer_id,
                    "sku": o.reference or o.ean,
                    "quantity": o.amount,
                    "price": f"{o.price:.2f}",
                    "account": self.retailer_id,
                    "marketplace": "",
                    "countries": list(o.countries),
                    "gtin": o.ean,
                }
                for o in self.offers.values()
            ]

    def fail_next(self, requests: int, status: int = 503) -> None:
        with self._lock:
            self._outage = [status] * max(0, requests)

    def fail_processes(self, requests: int, status: str = "FAILURE", error: str = "") -> None:
        with self._lock:
            self._failures = [(status, error or f"sandbox: told to end {status}")] * requests

    def rotate_keys(self) -> str:
        """A new key pair under a new id (the old one stays listed, as during a rotation)."""
        with self._lock:
            self.key_id = str(int(self.key_id) + 1)
            self._keys[self.key_id] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return self.key_id

    def shipments(self) -> list[dict[str, Any]]:
        self._settle()
        with self._lock:
            return copy.deepcopy(self._shipments)

    def private_pem(self) -> str:
        return (
            self._keys[self.key_id]
            .private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            .decode()
        )

    def public_keys(self) -> list[dict[str, str]]:
        return [
            {
                "id": key_id,
                "type": "RSA",
                "publicKey": base64.b64encode(
                    key.public_key().public_bytes(
                        serialization.Encoding.DER,
                        serialization.PublicFormat.SubjectPublicKeyInfo,
                    )
                ).decode(),
            }
            for key_id, key in self._keys.items()
        ]

    # --- pushes ---
    def sign(self, body: bytes, key_id: str | None = None) -> str:
        kid = key_id or self.key_id
        signature = self._keys[kid].sign(body, padding.PKCS1v15(), hashes.SHA256())
        return (
            f'keyId={kid}, algorithm="rsa-sha256", signature={base64.b64encode(signature).decode()}'
        )

    def push(self, resource: str, event_type: str, resource_id: str) -> Delivery:
        body = json.dumps(
            {
                "retailerId": int(self.retailer_id),
                "timestamp": _now_iso(),
                "event": {"resource": resource, "type": event_type, "resourceId": resource_id},
            },
            separators=(",", ":"),
        ).encode()
        headers = {"Content-Type": "application/json", "signature": self.sign(body)}
        with self._lock:
            targets = self.subscriptions.targets(resource)
        first = targets[0] if targets else None
        url = first.address if first is not None else (self.webhook_url if targets else None)
        delivery = Delivery(url, body, headers)
        if not targets:
            delivery.error = "no active subscription"
        elif delivery.url is None:
            delivery.error = "no webhook URL (notify_to was not called)"
        else:
            try:
                answer = httpx.post(
                    delivery.url, content=body, headers=headers, timeout=DELIVERY_TIMEOUT_S
                )
                delivery.status = answer.status_code
                if not answer.is_success:
                    delivery.error = f"HTTP {answer.status_code}"
            except httpx.HTTPError as exc:
                delivery.error = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self.deliveries.append(delivery)
        return delivery

    # --- the control surface's order calls ---
    def place_order(self, payload: Any, notify: bool = True) -> str:
        """Keep the order (ids filled in where missing), lower the offers' stock, push ORDER."""
        if not isinstance(payload, dict) or not isinstance(payload.get("orderItems"), list):
            raise _Refused(400, problem(400, "Bad Request", "an order needs orderItems"))
        with self._lock:
            order = copy.deepcopy(payload)
            order_id = str(order.get("orderId") or next(self._order_ids))
            if order_id in self.orders:
                raise _Refused(409, problem(409, "Conflict", f"order {order_id} exists"))
            stamp = _now_iso()
            order["orderId"] = order_id
            order.setdefault("orderPlacedDateTime", stamp)
            order.setdefault("pickupPoint", False)
            for item in order["orderItems"]:
                if not isinstance(item, dict) or not isinstance(item.get("quantity"), int):
                    raise _Refused(400, problem(400, "Bad Request", "an item needs a quantity"))
                item.setdefault("orderItemId", str(next(self._item_ids)))
                item.setdefault("cancellationRequest", False)
                item.setdefault("quantityShipped", 0)
                item.setdefault("quantityCancelled", 0)
                item.setdefault("fulfilment", {"method": "FBR"})
                item["latestChangedDateTime"] = stamp
                offer = self._offer_of(item)
                if offer is not None and offer.amount is not None:
                    offer.amount = max(0, offer.amount - int(item["quantity"]))
            self.orders[order_id] = order
        if notify:
            self.push("ORDER", "NEW", order_id)
        return order_id

    def request_cancellation(self, order_id: str, notify: bool = True) -> dict[str, Any]:
        """The buyer asks to cancel every open item (`cancellationRequest: true`); bol pushes."""
        with self._lock:
            order = self.orders.get(order_id)
            if order is None:
                raise _Refused(404, problem(404, "Not Found", f"order {order_id} not found"))
            stamp = _now_iso()
            for item in order["orderItems"]:
                if _open(item) > 0:
                    item["cancellationRequest"] = True
                    item["latestChangedDateTime"] = stamp
        if notify:
            self.push("ORDER", "CHANGED", order_id)
        return {"id": order_id, "status": "cancellation requested"}

    def _offer_of(self, item: dict[str, Any]) -> Offer | None:
        offer_id = (item.get("offer") or {}).get("offerId")
        if offer_id in self.offers:
            return self.offers[offer_id]
        ean = (item.get("product") or {}).get("ean")
        return next((o for o in self.offers.values() if o.ean == ean), None)

    def _new_ean(self) -> str:
        digits = str(next(self._eans)).zfill(12)
        total = sum(int(d) * (3 if n % 2 else 1) for n, d in enumerate(digits))
        return digits + str((10 - total % 10) % 10)

    # --- processes ---
    def _accept(self, event_type: str, entity_id: str, apply: Any) -> Response:
        """A write bol accepts: 202 with a PENDING process status, applied when due."""
        with self._lock:
            ends, error = self._failures.pop(0) if self._failures else ("SUCCESS", "")
            process = Process(
                str(next(self._process_ids)),
                event_type,
                entity_id,
                time.monotonic() + self.process_delay_s,
                apply,
                ends,
                error,
            )
            self.processes[process.id] = process
            return Response.json(202, process.view(), {"Content-Type": MEDIA_TYPE})

    def _settle(self) -> None:
        """Processes whose time has come end as they were told (applied on SUCCESS)."""
        with self._lock:
            now = time.monotonic()
            for process in self.processes.values():
                if process.status != "PENDING" or process.due > now:
                    continue
                if process.ends == "SUCCESS":
                    refusal = process.apply()
                    if refusal:
                        process.status, process.error = "FAILURE", str(refusal)
                        continue
                process.status = process.ends
                if process.ends != "SUCCESS":
                    process.error = process.error or "sandbox failure"

    # --- the HTTP API ---
    def __call__(self, request: Request) -> Response:
        path = request.path
        if path == CONTROL or path.startswith(CONTROL + "/"):
            return self._control(request)
        self._settle()
        response = self._api(request)
        with self._lock:
            self.requests.append((request.method, path, response.status))
        return response

    def _control(self, request: Request) -> Response:
        """No auth, no outage, no rate limit: the test bench, not bol."""
        rel, method = request.path[len(CONTROL) :], request.method
        try:
            if rel == "/outage" and method == "POST":
                spec = _json(request.body or b"{}")
                self.fail_next(int(spec.get("requests", 1)), int(spec.get("status", 503)))
                return Response.json(200, {"outage": {"remaining": len(self._outage)}})
            if rel == "/process-failures" and method == "POST":
                spec = _json(request.body or b"{}")
                status = str(spec.get("status", "FAILURE"))
                if status not in ("FAILURE", "TIMEOUT"):
                    raise _Refused(400, problem(400, "Bad Request", "status FAILURE or TIMEOUT"))
                self.fail_processes(
                    int(spec.get("requests", 1)), status, str(spec.get("error", ""))
                )
                return Response.json(200, {"process_failures": len(self._failures)})
            if rel == "/keys/rotate" and method == "POST":
                return Response.json(200, {"key_id": self.rotate_keys()})
            if rel == "/listings" and method == "GET":
                return Response.json(200, self.shown())
            if rel == "/shipments" and method == "GET":
                return Response.json(200, self.shipments())
            notify = request.query.get("notify", ["true"])[-1] != "false"
            if rel == "/orders" and method == "POST":
                return Response.json(200, {"id": self.place_order(_json(request.body), notify)})
            if (m := re.fullmatch(r"/orders/([^/]+)/cancel", rel)) and method == "POST":
                return Response.json(200, self.request_cancellation(m.group(1), notify))
            if rel == "/competitors" and method == "POST":
                return Response.json(200, self.competitors(_json(request.body)))
        except _Refused as refused:
            return Response.json(refused.status, refused.body)
        return Response.json(404, problem(404, "Not Found", "no such sandbox call"))

    def _api(self, request: Request) -> Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        if request.path == "/token":
            return self._token(request, headers)
        matched = _match(request.method, request.path)
        if matched is None:
            return Response.json(404, problem(404, "Not Found", "Resource not found."), _media())
        endpoint, ident = matched
        try:
            self._authorize(headers)
            wanted = CSV_MEDIA_TYPE if endpoint.endswith("{report-id}") else MEDIA_TYPE
            if wanted not in headers.get("accept", ""):
                raise _Refused(406, problem(406, "Not Acceptable", f"Accept {wanted}"))
            if request.body and MEDIA_TYPE not in headers.get("content-type", ""):
                raise _Refused(415, problem(415, "Unsupported Media Type", f"use {MEDIA_TYPE}"))
            limits = self._rate(endpoint)
            with self._lock:
                if self._outage:
                    status = self._outage.pop(0)
                    raise _Refused(status, problem(status, "Sandbox outage", "try again"))
            response = self._route(endpoint, ident, request)
        except _Refused as refused:
            return Response.json(refused.status, refused.body, {**_media(), **refused.headers})
        is_csv = response.headers.get("Content-Type") == CSV_MEDIA_TYPE
        response.headers.update({**_media(), **limits})
        if is_csv:
            response.headers["Content-Type"] = CSV_MEDIA_TYPE
        return response

    def _token(self, request: Request, headers: dict[str, str]) -> Response:
        grant = request.query.get("grant_type", [""])[-1]
        auth = headers.get("authorization", "")
        try:
            client_id, _, secret = (
                base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")
            )
        except ValueError:
            client_id, secret = "", ""
        if request.method != "POST" or grant != "client_credentials":
            return Response.json(400, {"error": "unsupported_grant_type"})
        if not auth.startswith("Basic ") or (client_id, secret) != (
            self.client_id,
            self.client_secret,
        ):
            return Response.json(
                401, {"error": "invalid_client", "error_description": "Bad client credentials"}
            )
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = time.time() + self.token_life_s
        return Response.json(
            200,
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": self.token_life_s,
                "scope": "RETAILER",
            },
        )

    def _authorize(self, headers: dict[str, str]) -> None:
        token = headers.get("authorization", "").removeprefix("Bearer ")
        with self._lock:
            expiry = self._tokens.get(token)
        if expiry is None:
            raise _Refused(
                401, {"error": "invalid_client", "error_description": "Bad client credentials"}
            )
        if expiry <= time.time():
            expired = datetime.fromtimestamp(expiry, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            raise _Refused(
                401,
                {
                    "title": "Expired JWT",
                    "status": 401,
                    "detail": f"JWT expired at {expired}. Current time: "
                    f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}.",
                },
            )

    def expire_tokens(self) -> None:
        """Every issued token is now past its life (tests of the refresh)."""
        with self._lock:
            self._tokens = {t: time.time() - 1 for t in self._tokens}

    def _rate(self, endpoint: str) -> dict[str, str]:
        with self._lock:
            now = time.monotonic()
            start, calls = self._windows.get(endpoint, (now, 0))
            if now - start >= 1.0:
                start, calls = now, 0
            reset = max(1, round(1.0 - (now - start) + 0.499))
            if calls >= self.rate_limit:
                raise _Refused(
                    429,
                    problem(
                        429, "Too Many Requests", f"Too many requests, retry in {reset} seconds."
                    ),
                    {"Retry-After": str(reset)},
                )
            self._windows[endpoint] = (start, calls + 1)
            return {
                "X-RateLimit-Limit": str(self.rate_limit),
                "X-RateLimit-Remaining": str(self.rate_limit - calls - 1),
                "X-RateLimit-Reset": str(reset),
            }

    def _route(self, endpoint: str, ident: str, request: Request) -> Response:
        if endpoint == "/retailer/orders/{order-id}":
            with self._lock:
                order = self.orders.get(ident)
                if order is None:
                    raise _Refused(404, problem(404, "Not Found", f"Order {ident} not found."))
                return Response.json(200, copy.deepcopy(order))
        if endpoint == "/retailer/orders":
            return self._list_orders(request)
        if endpoint == "/retailer/commission/{ean}":
            return Response.json(200, self.commission(ident, request))
        if endpoint == "/retailer/products/{ean}/offers":
            return Response.json(200, self.competing_offers(ident, request))
        if endpoint == "/retailer/subscriptions/signature-keys":
            return Response.json(200, {"signatureKeys": self.public_keys()})
        if endpoint == "/retailer/offers/{offer-id}":
            return Response.json(200, self._offer_view(ident))
        if endpoint == "/retailer/offers/export/{report-id}":
            with self._lock:
                report = self._exports.get(ident)
            if report is None:
                raise _Refused(404, problem(404, "Not Found", f"Report {ident} not found."))
            return Response(200, report.encode(), {"Content-Type": CSV_MEDIA_TYPE})
        if endpoint == "/retailer/subscriptions" and request.method == "GET":
            with self._lock:
                subs = [_subscription_view(s) for s in self.subscriptions.listed()]
            return Response.json(200, {"subscriptions": subs})
        if endpoint == "/retailer/subscriptions/{subscription-id}" and request.method == "GET":
            with self._lock:
                sub = self.subscriptions.items.get(ident)
            if sub is None:
                raise _Refused(404, problem(404, "Not Found", f"Subscription {ident} not found."))
            return Response.json(200, _subscription_view(sub))
        if endpoint == "/shared/process-status/{id}":
            with self._lock:
                process = self.processes.get(ident)
                if process is None:
                    raise _Refused(404, problem(404, "Not Found", f"Process {ident} not found."))
                return Response.json(200, process.view())
        body = _json(request.body)
        if endpoint == "/shared/process-status":
            self._valid(body, "BulkProcessStatusRequest")
            with self._lock:
                found = [
                    self.processes[q["processStatusId"]].view()
                    for q in body["processStatusQueries"]
                    if q["processStatusId"] in self.processes
                ]
            return Response.json(200, {"processStatuses": found})  # unknown ids left out
        if endpoint == "/retailer/offers/export":
            self._valid(body, "CreateOfferExportRequest")
            return self._export_offers()
        if endpoint.startswith("/retailer/subscriptions"):
            self._valid(body, "SubscriptionRequest")
            return self._subscribe(body, ident or None)
        if endpoint == "/retailer/offers/{offer-id}/stock":
            self._valid(body, "UpdateOfferStockRequest")
            return self._set_stock(ident, body)
        if endpoint == "/retailer/offers/{offer-id}/price":
            self._valid(body, "UpdateOfferPriceRequest")
            return self._set_price(ident, body)
        if endpoint == "/retailer/shipments":
            self._valid(body, "ShipmentRequest")
            return self._ship(body)
        self._valid(body, "CancellationRequest")
        return self._cancel(body)

    def _offer_view(self, offer_id: str) -> dict[str, Any]:
        """`GET /retailer/offers/{offer-id}` (RetailerOffer): what the offer shows now."""
        with self._lock:
            offer = self.offers.get(offer_id)
            if offer is None:
                raise _Refused(404, problem(404, "Not Found", f"Offer {offer_id} not found."))
            return {
                "offerId": offer.offer_id,
                "ean": offer.ean,
                "reference": offer.reference,
                "onHoldByRetailer": False,
                "unknownProductTitle": offer.title,
                "pricing": {"bundlePrices": [{"quantity": 1, "unitPrice": float(offer.price)}]},
                "stock": {
                    "amount": offer.amount or 0,
                    "correctedStock": offer.amount or 0,
                    "managedByRetailer": offer.managed_by_retailer,
                },
                "fulfilment": {"method": "FBR", "deliveryCode": "1-2d"},
                "store": {
                    "productTitle": offer.title,
                    "visible": [{"countryCode": c} for c in offer.countries],
                },
                "condition": {"name": "NEW", "category": "NEW"},
                "notPublishableReasons": [],
            }

    def _export_offers(self) -> Response:
        """`POST /retailer/offers/export`: a process; the CSV is what the offers show when it
        ends (a snapshot: later changes are not in it)."""
        report_id = str(next(self._report_ids))

        def apply() -> None:
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(EXPORT_COLUMNS)
            for o in self.offers.values():
                writer.writerow([o.offer_id, o.ean, "NEW", "NEW", "", f"{o.price:.2f}", "1-2d",
                                 o.amount or 0, "false", "FBR", _now_iso(), o.reference,
                                 o.amount or 0])  # fmt: skip
            self._exports[report_id] = out.getvalue()

        return self._accept("CREATE_OFFER_EXPORT", report_id, apply)

    def _subscribe(self, body: dict[str, Any], sub_id: str | None) -> Response:
        """POST (create) or PUT (replace) a push subscription: a process, applied when done."""
        with self._lock:
            if sub_id is not None and sub_id not in self.subscriptions.items:
                raise _Refused(404, problem(404, "Not Found", f"Subscription {sub_id} not found."))

        def apply() -> None:
            topics = ",".join(body["resources"])
            if sub_id is None:
                sub = self.subscriptions.add(topics, body["url"], kind=body["subscriptionType"])
            else:
                sub = self.subscriptions.items[sub_id]
                sub.topic, sub.address = topics, body["url"]
                sub.extra["kind"] = body["subscriptionType"]
            sub.active, sub.failures = bool(body.get("enabled", True)), 0

        event = "CREATE_SUBSCRIPTION" if sub_id is None else "UPDATE_SUBSCRIPTION"
        return self._accept(event, sub_id or "new", apply)

    def _valid(self, body: Any, schema: str) -> None:
        found = violations(body, {"$ref": f"#/components/schemas/{schema}"})
        if found:
            raise _Refused(
                400,
                problem(400, "Bad Request", "Request contains invalid value(s).", violations=found),
            )

    def _list_orders(self, request: Request) -> Response:
        q = {k: v[-1] for k, v in request.query.items()}
        try:
            page = int(q.get("page", "1"))
            interval = int(q["change-interval-minute"]) if "change-interval-minute" in q else None
        except ValueError as exc:
            raise _Refused(400, problem(400, "Bad Request", str(exc))) from None
        if (interval is not None and not 1 <= interval <= 60) or page < 1:
            raise _Refused(400, problem(400, "Bad Request", "change-interval-minute: 1..60"))
        method = q.get("fulfilment-method", "FBR")
        status = q.get("status", "OPEN")
        now = datetime.now(UTC)
        found = []
        with self._lock:
            for order in self.orders.values():
                items = []
                for item in order["orderItems"]:
                    changed = datetime.fromisoformat(item["latestChangedDateTime"])
                    if method != "ALL" and item.get("fulfilment", {}).get("method") != method:
                        continue
                    if status == "OPEN" and _open(item) == 0:
                        continue
                    if status == "SHIPPED" and not item.get("quantityShipped"):
                        continue
                    if interval is not None and (now - changed).total_seconds() > interval * 60:
                        continue
                    if (
                        "latest-change-date" in q
                        and changed.date().isoformat() != q["latest-change-date"]
                    ):
                        continue
                    items.append(
                        {
                            "orderItemId": item["orderItemId"],
                            "ean": item["product"]["ean"],
                            "fulfilmentMethod": item.get("fulfilment", {}).get("method", "FBR"),
                            "fulfilmentStatus": "OPEN" if _open(item) else "HANDLED",
                            "quantity": item["quantity"],
                            "quantityShipped": item["quantityShipped"],
                            "quantityCancelled": item["quantityCancelled"],
                            "cancellationRequest": item["cancellationRequest"],
                            "latestChangedDateTime": item["latestChangedDateTime"],
                        }
                    )
                if items:
                    found.append(
                        {
                            "orderId": order["orderId"],
                            "orderPlacedDateTime": order["orderPlacedDateTime"],
                            "orderItems": items,
                        }
                    )
        chunk = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        return Response.json(200, {"orders": chunk} if chunk else {})  # bol: `{ }` when empty

    def _set_stock(self, offer_id: str, body: dict[str, Any]) -> Response:
        with self._lock:
            offer = self.offers.get(offer_id)
            if offer is None:
                raise _Refused(404, problem(404, "Not Found", f"Offer {offer_id} not found."))

        def apply() -> None:
            offer.amount = int(body["amount"])
            offer.managed_by_retailer = bool(body["managedByRetailer"])

        return self._accept("UPDATE_OFFER_STOCK", offer_id, apply)

    def competitors(self, spec: Any) -> dict[str, Any]:
        """`POST /__sandbox/competitors`: `{"sku", "offers": [{"seller_id", "price", "buy_box"}]}`:
        other retailers' offers on the product of the seller's offer for `sku`; `GET
        /retailer/products/{ean}/offers` answers from them (bol's COMPETING_OFFER events go to a
        queue or Pub/Sub Keel does not read yet: Keel reads offers on a schedule)."""
        if not isinstance(spec, dict) or not isinstance(spec.get("offers"), list):
            raise _Refused(400, problem(400, "Bad Request", '{"sku", "offers": [...]} expected'))
        with self._lock:
            offer = next(
                (o for o in self.offers.values() if spec.get("sku") in (o.reference, o.ean)), None
            )
            if offer is None:
                raise _Refused(404, problem(404, "Not Found", f"no offer for {spec.get('sku')}"))
            try:
                self._competitors[offer.ean] = [
                    (str(o["seller_id"]), Decimal(str(o["price"])), bool(o.get("buy_box")))
                    for o in spec["offers"]
                ]
            except (KeyError, TypeError, ArithmeticError) as exc:
                raise _Refused(
                    400, problem(400, "Bad Request", f"an offer needs seller_id and price: {exc}")
                ) from None
        return {"sku": offer.reference, "ean": offer.ean, "offers": len(spec["offers"])}

    def commission(self, ean: str, request: Request) -> dict[str, Any]:
        """GET /retailer/commission/{ean}: COMMISSION_PERCENT of the unit price plus
        COMMISSION_FIXED per item (the spec's Commission; no reductions)."""
        q = {k: v[-1] for k, v in request.query.items()}
        try:
            price = Decimal(q["unit-price"])
        except (KeyError, ArithmeticError):
            raise _Refused(400, problem(400, "Bad Request", "unit-price is required")) from None
        if not 0 <= price <= 9999 or price != price.quantize(Decimal("0.01")):
            raise _Refused(400, problem(400, "Bad Request", "unit-price: 0..9999, 2 decimals"))
        with self._lock:
            if not any(o.ean == ean for o in self.offers.values()):
                raise _Refused(404, problem(404, "Not Found", f"Product {ean} not found."))
        total = (price * COMMISSION_PERCENT / 100 + COMMISSION_FIXED).quantize(Decimal("0.01"))
        return {"ean": ean, "condition": q.get("condition", "NEW"), "unitPrice": float(price),
                "fixedAmount": float(COMMISSION_FIXED), "percentage": float(COMMISSION_PERCENT),
                "totalCost": float(total), "reductions": []}  # fmt: skip

    def competing_offers(self, ean: str, request: Request) -> dict[str, Any]:
        """GET /retailer/products/{ean}/offers (page 1): the seller's own offer and the others,
        the best one flagged (the one told so, else the lowest price), per the spec's Offer."""
        q = {k: v[-1] for k, v in request.query.items()}
        country = q.get("country-code", "NL")
        if country not in ("NL", "BE") or q.get("condition", "NEW") not in ("NEW", "ALL"):
            raise _Refused(400, problem(400, "Bad Request", "country-code NL|BE, condition NEW"))
        self._settle()
        with self._lock:
            own = next((o for o in self.offers.values() if o.ean == ean), None)
            if own is None:
                raise _Refused(404, problem(404, "Not Found", f"Product {ean} not found."))
            everyone = [(self.retailer_id, own.price, False, own.offer_id),
                        *((s, p, b, str(uuid.uuid5(uuid.NAMESPACE_URL, f"{ean}/{s}")))
                          for s, p, b in self._competitors.get(ean, []))]  # fmt: skip
        best = next((e for e in everyone if e[2]), min(everyone, key=lambda e: e[1]))
        offers = [
            {"offerId": offer_id, "retailerId": seller, "countryCode": country,
             "bestOffer": (seller, offer_id) == (best[0], best[3]), "price": float(price),
             "fulfilmentMethod": "FBR", "condition": "NEW"}
            for seller, price, _, offer_id in everyone
        ]  # fmt: skip
        if q.get("best-offer-only") == "true":
            offers = [o for o in offers if o["bestOffer"]]
        return {"offers": offers}

    def _set_price(self, offer_id: str, body: dict[str, Any]) -> Response:
        """One or more bundle prices: quantity 1 must be there, quantities increasing and unit
        prices decreasing, 1..9999 with two decimals (checked beyond the schema, as bol does)."""
        bundles = body["pricing"]["bundlePrices"]
        problems = []
        quantities = [b.get("quantity") for b in bundles]
        prices = [Decimal(str(b.get("unitPrice"))) for b in bundles]
        if 1 not in quantities:
            problems.append({"name": "pricing.bundlePrices", "reason": "quantity 1 is required"})
        if quantities != sorted(set(quantities)) or prices != sorted(prices, reverse=True):
            problems.append({"name": "pricing.bundlePrices", "reason": "not in increasing order"})
        for n, price in enumerate(prices):
            if price != price.quantize(Decimal("0.01")) or not 1 <= price <= 9999:
                problems.append({"name": f"pricing.bundlePrices[{n}].unitPrice",
                                 "reason": "must be 1..9999 with 2 decimals"})  # fmt: skip
        if problems:
            raise _Refused(400, problem(400, "Bad Request", "Request contains invalid value(s).",
                                        violations=problems))  # fmt: skip
        with self._lock:
            offer = self.offers.get(offer_id)
            if offer is None:
                raise _Refused(404, problem(404, "Not Found", f"Offer {offer_id} not found."))

        def apply() -> None:
            offer.price = prices[quantities.index(1)]

        return self._accept("UPDATE_OFFER_PRICE", offer_id, apply)

    def _items(self, ids: list[str]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(order, item) for each order item id; 400 for an unknown one, as bol answers."""
        found = []
        for item_id in ids:
            pair = next(
                (
                    (o, i)
                    for o in self.orders.values()
                    for i in o["orderItems"]
                    if i["orderItemId"] == item_id
                ),
                None,
            )
            if pair is None:
                raise _Refused(
                    400,
                    problem(400, "Bad Request", "Request contains invalid value(s).",
                            violations=[{"name": "orderItemId", "reason": f"{item_id} unknown"}]),
                )  # fmt: skip
            found.append(pair)
        return found

    def _ship(self, body: dict[str, Any]) -> Response:
        with self._lock:
            pairs = self._items([str(i["orderItemId"]) for i in body["orderItems"]])
        wanted = {str(i["orderItemId"]): i.get("quantity") for i in body["orderItems"]}
        transport = body.get("transport") or {}

        def apply() -> str | None:
            for _, item in pairs:
                if _open(item) == 0:
                    return f"order item {item['orderItemId']} has no open quantity"
            stamp = _now_iso()
            for _order, item in pairs:
                qty = wanted[item["orderItemId"]] or _open(item)
                item["quantityShipped"] += min(int(qty), _open(item))
                item["latestChangedDateTime"] = stamp
            order_ids = dict.fromkeys(o["orderId"] for o, _ in pairs)
            for order_id in order_ids:
                self._shipments.append(
                    {
                        "order_id": order_id,
                        "tracking_number": transport.get("trackAndTrace"),
                        "carrier": transport.get("transporterCode"),
                        "shipment_reference": body.get("shipmentReference"),
                    }
                )
            return None

        return self._accept("CONFIRM_SHIPMENT", str(body["orderItems"][0]["orderItemId"]), apply)

    def _cancel(self, body: dict[str, Any]) -> Response:
        with self._lock:
            ((_, item),) = self._items([str(i["orderItemId"]) for i in body["orderItems"]])

        def apply() -> str | None:
            if _open(item) == 0:
                return f"order item {item['orderItemId']} has no open quantity"
            item["quantityCancelled"] += _open(item)
            item["latestChangedDateTime"] = _now_iso()
            return None

        return self._accept("CANCEL_ORDER", item["orderItemId"], apply)


def _subscription_view(sub: SandboxSubscription) -> dict[str, Any]:
    return {
        "id": sub.id,
        "resources": sub.topic.split(","),
        "url": sub.address,
        "subscriptionType": sub.extra.get("kind", "WEBHOOK"),
        "enabled": sub.active,
    }


def _match(method: str, path: str) -> tuple[str, str] | None:
    """(endpoint template, the id in the path) of an API call; None: no such route."""
    for route_method, pattern, endpoint in _ROUTES:
        m = re.fullmatch(pattern, path)
        if m and method == route_method:
            return endpoint, m.groupdict().get("id", "")
    return None


def _open(item: dict[str, Any]) -> int:
    return (
        int(item["quantity"])
        - int(item.get("quantityShipped", 0))
        - int(item.get("quantityCancelled", 0))
    )


def _media() -> dict[str, str]:
    return {"Content-Type": MEDIA_TYPE}


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        raise _Refused(400, problem(400, "Bad Request", "body is not JSON")) from None
