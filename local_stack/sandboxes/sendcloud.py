"""A Sendcloud (API v3) sandbox: the calls Keel makes, with Sendcloud's auth, answers and errors,
and signed `parcel_status_changed` webhooks. In-memory; one per local stack.

API: `POST /shipments/announce` (synchronous: label and tracking number in the answer),
`GET /shipments?external_reference_id=`, `GET /shipments/{id}` and `POST /shipments/{id}/cancel`,
Basic auth with the public/secret key. Validation answers 400 in Sendcloud's `{"errors": [...]}`
shape (v3 spec), for what the spec's request schema requires. An `external_reference_id` is
unique per account: announcing it again answers 409 with the shipment that holds it. Cancelling
answers 409 for a shipment already cancelled or already with the carrier, as Sendcloud does.

Control surface (no auth; a contract: extend, never rename):
- `POST /__sandbox/outage` `{"requests": N, "status": 429|5xx}`: the next N API calls fail so
  (429 with Retry-After). With `"answer_lost": true` each call is carried out first and only
  its answer is replaced (a timeout after Sendcloud booked the parcel).
- `GET /__sandbox/parcels` -> `[{"parcel_id", "external_reference_id", "tracking_number",
  "status_id"}]`.
- `POST /__sandbox/parcels/{parcel_id}/status` `{"status_id": N, "message": "..."}`: the parcel
  moves, and Sendcloud sends its signed `parcel_status_changed` webhook to Keel.
- `POST /__sandbox/refuse` `{"external_reference_id": "...", "message": "..."}`: announcing that
  order fails for good (422), until `{"external_reference_id": "...", "message": null}`. With
  `"as": "announcement_failed"` the announce answers 201 with a shipment whose parcel is
  ANNOUNCEMENT_FAILED (no label, the message as its error; the spec's own example); that parcel
  holds the reference until someone re-announces it (`POST /__sandbox/parcels/{id}/status`
  `{"status_id": 1}`) or cancels it.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from local_stack.http import Request, Response
from shared.carriers.sendcloud.webhook import sign

CONTROL = "/__sandbox"
PREFIX = "/api/v3"
READY_TO_SEND = (1, "Ready to send")
ANNOUNCEMENT_FAILED = (1002, "Announcement failed")
CANCELLED = (2000, "Cancelled")
REQUIRED_ADDRESS = ("name", "address_line_1", "postal_code", "city", "country_code")
MAX_PARCELS = 15  # per synchronous announce (spec)
WEIGHT_UNITS = ("kg", "g", "lbs", "oz")


@dataclass
class Parcel:
    parcel_id: int
    shipment_id: str
    external_reference_id: str
    tracking_number: str
    carrier_code: str
    status: tuple[int, str] = READY_TO_SEND
    body: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)  # why the announcement failed


@dataclass
class Outage:
    remaining: int = 0
    status: int = 503
    answer_lost: bool = False


class SendcloudSandbox:
    carrier = "sendcloud"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.public_key = "sc-public-" + secrets.token_hex(4)
        self.secret_key = "sc-secret-" + secrets.token_hex(12)
        self.webhook_secret = self.secret_key  # Sendcloud signs with the integration's key
        self._parcels: dict[int, Parcel] = {}
        self._ids = itertools.count(383700001)
        self._refused: dict[str, tuple[str, str]] = {}  # reference -> (message, how)
        self.outage = Outage()
        self.webhook_url: str | None = None
        self.deliveries: list[tuple[int | None, bytes]] = []
        self.announced = 0  # successful announce calls (a retry that finds its parcel: none)

    # --- what the local stack asks of every sandbox ---
    def keel_secret(self, base_url: str) -> dict[str, Any]:
        return {
            "base_url": f"{base_url}{PREFIX}",
            "public_key": self.public_key,
            "secret_key": self.secret_key,
            "webhook_secret": self.webhook_secret,
            "shipping_option_code": "postnl:standard",
            "sender_name": "Keel Demo Warehouse",
            "sender_address_line_1": "Stadhuisplein 10",
            "sender_postal_code": "5611 EM",
            "sender_city": "Eindhoven",
            "sender_country_code": "NL",
        }

    def local_only_secrets(self) -> dict[str, str]:
        return {"sendcloud_webhook_secret": self.webhook_secret}

    def notify_to(self, webhook_url: str) -> None:
        self.webhook_url = webhook_url

    def parcels(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    "parcel_id": p.parcel_id,
                    "external_reference_id": p.external_reference_id,
                    "tracking_number": p.tracking_number,
                    "status_id": p.status[0],
                }
                for p in self._parcels.values()
            ]

    # --- HTTP ---
    def __call__(self, request: Request) -> Response:
        if request.path == CONTROL or request.path.startswith(CONTROL + "/"):
            return self._control(request)
        if not request.path.startswith(PREFIX):
            return _errors(404, "not_found", "Not found")
        if not self._authorized(request):
            return _errors(401, "authentication_failed", "Invalid username/password.")
        with self._lock:
            failure: Outage | None = None
            if self.outage.remaining > 0:
                self.outage.remaining -= 1
                failure = Outage(1, self.outage.status, self.outage.answer_lost)
        if failure is not None and not failure.answer_lost:
            return _outage(failure.status)
        answer = self._api(request)
        return _outage(failure.status) if failure is not None else answer

    def _api(self, request: Request) -> Response:
        path, method = request.path[len(PREFIX) :], request.method
        if path == "/shipments/announce" and method == "POST":
            return self._announce(request)
        if path == "/shipments" and method == "GET":
            return self._list(request)
        if (m := re.fullmatch(r"/shipments/([^/]+)/cancel", path)) and method == "POST":
            return self._cancel(m.group(1))
        if (m := re.fullmatch(r"/shipments/([^/]+)", path)) and method == "GET":
            return self._get(m.group(1), request)
        return _errors(404, "not_found", "Not found")

    def _authorized(self, request: Request) -> bool:
        header = {k.lower(): v for k, v in request.headers.items()}.get("authorization", "")
        expected = base64.b64encode(f"{self.public_key}:{self.secret_key}".encode()).decode()
        return header == f"Basic {expected}"

    def _announce(self, request: Request) -> Response:
        try:
            body = json.loads(request.body)
        except ValueError:
            return _errors(400, "parse_error", "JSON parse error")
        problems = _validate(body)
        if problems:
            return Response.json(400, {"errors": problems})
        reference = str(body.get("external_reference_id") or "")
        with self._lock:
            refusal, how = self._refused.get(reference, ("", ""))
            if refusal and how != "announcement_failed":
                return _errors(422, "carrier_refused", refusal, pointer="/to_address")
            holders = [p for p in self._parcels.values() if p.external_reference_id == reference]
            if reference and holders:
                holder = holders[0]
                conflict = {"status": "409", "code": "conflict",
                            "detail": "A shipment with this external_reference_id already exists.",
                            "source": {"pointer": "/external_reference_id"}}  # fmt: skip
                return Response.json(
                    409, {"errors": [conflict], "data": _shipment(holder, self._base(request))}
                )
            code = body["ship_with"]["properties"]["shipping_option_code"]
            parcel_id = next(self._ids)
            parcel = Parcel(
                parcel_id=parcel_id,
                shipment_id=f"shp-{parcel_id}",
                external_reference_id=reference,
                tracking_number=f"3SKEEL{parcel_id}",
                carrier_code=code.split(":", 1)[0],
                body=body,
            )
            if refusal:  # booked, but the carrier could not be told
                parcel.status = ANNOUNCEMENT_FAILED
                parcel.errors = [{"status": "500", "code": "parcel_announcement_error",
                                  "detail": refusal}]  # fmt: skip
            self._parcels[parcel_id] = parcel
            self.announced += 1
            return Response.json(201, {"data": _shipment(parcel, self._base(request))})

    def _list(self, request: Request) -> Response:
        reference = request.query.get("external_reference_id", [""])[-1]
        with self._lock:
            found = [
                _shipment(p, self._base(request))
                for p in self._parcels.values()
                if not reference or p.external_reference_id == reference
            ]
        return Response.json(200, {"data": found})

    def _get(self, shipment_id: str, request: Request) -> Response:
        with self._lock:
            parcel = next((p for p in self._parcels.values() if p.shipment_id == shipment_id), None)
            if parcel is None:
                return _errors(404, "not_found", "Not found")
            return Response.json(200, {"data": _shipment(parcel, self._base(request))})

    def _cancel(self, shipment_id: str) -> Response:
        with self._lock:
            parcel = next((p for p in self._parcels.values() if p.shipment_id == shipment_id), None)
            if parcel is None:
                return _errors(404, "not_found", "Not found")
            if parcel.status[0] == CANCELLED[0]:  # the spec's own example of a 409
                return _errors(409, "invalid", "This shipment is already being cancelled.")
            if parcel.status[0] not in (READY_TO_SEND[0], ANNOUNCEMENT_FAILED[0]):
                return _errors(409, "invalid", "The shipment can no longer be cancelled.")
            parcel.status = CANCELLED
        return Response.json(
            200, {"data": {"status": "cancelled", "message": "Shipment has been cancelled"}}
        )

    def _base(self, request: Request) -> str:
        host = {k.lower(): v for k, v in request.headers.items()}.get("host", "localhost")
        return f"http://{host}{PREFIX}"

    # --- control surface ---
    def _control(self, request: Request) -> Response:
        rel, method = request.path[len(CONTROL) :], request.method
        spec = json.loads(request.body or b"{}") if method == "POST" else {}
        if rel == "/outage" and method == "POST":
            with self._lock:
                self.outage = Outage(
                    int(spec.get("requests", 1)),
                    int(spec.get("status", 503)),
                    bool(spec.get("answer_lost", False)),
                )
            return Response.json(200, {"outage": self.outage.__dict__})
        if rel == "/parcels" and method == "GET":
            return Response.json(200, self.parcels())
        if rel == "/refuse" and method == "POST":
            reference, message = str(spec["external_reference_id"]), spec.get("message")
            with self._lock:
                if message:
                    self._refused[reference] = (str(message), str(spec.get("as") or "refused"))
                else:
                    self._refused.pop(reference, None)
            return Response.json(200, {"refused": sorted(self._refused)})
        if (m := re.fullmatch(r"/parcels/(\d+)/status", rel)) and method == "POST":
            status = (int(spec["status_id"]), str(spec.get("message", "")))
            delivered = self.change_status(int(m.group(1)), status)
            if delivered is None:
                return Response.json(404, {"error": "no such parcel"})
            return Response.json(200, {"parcel_id": int(m.group(1)), "webhook_status": delivered})
        return Response.json(404, {"error": "no such control"})

    def change_status(self, parcel_id: int, status: tuple[int, str]) -> int | None:
        """The parcel moves, and its signed webhook goes out (its HTTP status, 0 unsent)."""
        with self._lock:
            parcel = self._parcels.get(parcel_id)
            if parcel is None:
                return None
            parcel.status = status
            if status[0] != ANNOUNCEMENT_FAILED[0]:
                parcel.errors = []
            body = json.dumps(
                {
                    "action": "parcel_status_changed",
                    "timestamp": int(time.time() * 1000),
                    "carrier_status_change_timestamp": int(time.time() * 1000),
                    "parcel": {
                        "id": parcel.parcel_id,
                        "tracking_number": parcel.tracking_number,
                        "status": {"id": status[0], "message": status[1]},
                        "shipment": {"id": 8, "name": parcel.carrier_code},
                        "order_number": str(parcel.body.get("order_number") or ""),
                        "shipment_uuid": parcel.shipment_id,
                        "external_reference_id": parcel.external_reference_id,
                    },
                }
            ).encode()
        return self.send(body)

    def send(self, body: bytes) -> int:
        """POST a signed body to Keel (also used by tests to send the same event twice)."""
        if self.webhook_url is None:
            return 0
        headers = {
            "Content-Type": "application/json",
            "Sendcloud-Signature": sign(self.webhook_secret, body),
        }
        try:
            status = httpx.post(
                self.webhook_url, content=body, headers=headers, timeout=10
            ).status_code
        except httpx.HTTPError:
            status = 0
        with self._lock:
            self.deliveries.append((status, body))
        return status


def _shipment(parcel: Parcel, base: str) -> dict[str, Any]:
    failed = parcel.status[0] == ANNOUNCEMENT_FAILED[0]
    code = {CANCELLED[0]: "CANCELLED", ANNOUNCEMENT_FAILED[0]: "ANNOUNCEMENT_FAILED"}.get(
        parcel.status[0], "READY_TO_SEND"
    )
    label = [{"type": "label", "size": "a6",
              "link": f"{base}/parcels/{parcel.parcel_id}/documents/label"}]  # fmt: skip
    return {
        "id": parcel.shipment_id,
        "external_reference_id": parcel.external_reference_id,
        "ship_with": {
            "type": "shipping_option_code",
            "properties": {"shipping_option_code": f"{parcel.carrier_code}:standard"},
        },
        "parcels": [
            {
                "id": parcel.parcel_id,
                "status": {"code": code, "message": parcel.status[1]},
                "tracking_number": parcel.tracking_number,
                "tracking_url": f"https://tracking.example/{parcel.carrier_code}/"
                f"{parcel.tracking_number}",
                "documents": [] if failed else label,
            }
        ],
        "errors": list(parcel.errors),
    }


def _validate(body: Any) -> list[dict[str, Any]]:
    def missing(pointer: str) -> dict[str, Any]:
        return {"status": "400", "code": "required", "detail": "This field is required.",
                "source": {"pointer": pointer}}  # fmt: skip

    if not isinstance(body, dict):
        return [missing("/")]
    problems = []
    for side in ("to_address", "from_address"):
        address = body.get(side)
        if not isinstance(address, dict):
            problems.append(missing(f"/{side}"))
            continue
        problems += [missing(f"/{side}/{k}") for k in REQUIRED_ADDRESS if not address.get(k)]
        country = address.get("country_code")
        if country and not re.fullmatch(r"[A-Z]{2}", str(country)):
            problems.append({"status": "400", "code": "invalid",
                             "detail": "Not a valid ISO 3166-1 alpha-2 code.",
                             "source": {"pointer": f"/{side}/country_code"}})  # fmt: skip
    ship_with = body.get("ship_with") or {}
    if ship_with.get("type") != "shipping_option_code" or not (
        (ship_with.get("properties") or {}).get("shipping_option_code")
    ):
        problems.append(missing("/ship_with/properties/shipping_option_code"))
    parcels = body.get("parcels")
    if not isinstance(parcels, list) or not parcels:
        problems.append(missing("/parcels"))
        return problems
    if len(parcels) > MAX_PARCELS:
        problems.append({"status": "400", "code": "max_length",
                         "detail": f"Ensure this field has no more than {MAX_PARCELS} elements.",
                         "source": {"pointer": "/parcels"}})  # fmt: skip
    for i, parcel in enumerate(parcels):
        problems += _parcel_problems(parcel, f"/parcels/{i}", missing)
    return problems


def _parcel_problems(
    parcel: Any, at: str, missing: Callable[[str], dict[str, Any]]
) -> list[dict[str, Any]]:
    """What the spec's parcel-common and parcel-item require: a parcel weight (string value,
    known unit); per item quantity >= 1, hs_code, description, weight (number > 0), price."""
    if not isinstance(parcel, dict):
        return [missing(at)]
    problems = []
    weight = parcel.get("weight")
    if not isinstance(weight, dict) or not _positive(weight.get("value"), str):
        problems.append(missing(f"{at}/weight/value"))
    elif weight.get("unit") not in WEIGHT_UNITS:
        problems.append(missing(f"{at}/weight/unit"))
    for j, item in enumerate(parcel.get("parcel_items") or []):
        here = f"{at}/parcel_items/{j}"
        if not isinstance(item, dict):
            problems.append(missing(here))
            continue
        problems += [missing(f"{here}/{k}") for k in ("hs_code", "description") if k not in item]
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            problems.append(missing(f"{here}/quantity"))
        item_weight = item.get("weight")
        if not isinstance(item_weight, dict) or not _positive(item_weight.get("value"), float):
            problems.append(missing(f"{here}/weight/value"))
        price = item.get("price")
        if not isinstance(price, dict) or not price.get("value") or not price.get("currency"):
            problems.append(missing(f"{here}/price"))
    return problems


def _positive(value: Any, kind: type) -> bool:
    """A weight as the spec types it: parcels carry a decimal string, items a JSON number."""
    if kind is str and not isinstance(value, str):
        return False
    if kind is float and (not isinstance(value, int | float) or isinstance(value, bool)):
        return False
    try:
        return float(value) > 0
    except ValueError:
        return False


def _outage(status: int) -> Response:
    if status == 429:
        return _errors(429, "throttled", "Request was throttled.", {"Retry-After": "1"})
    return _errors(status, "server_error", "Server error.")


def _errors(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None, pointer: str = ""
) -> Response:
    error: dict[str, Any] = {"status": str(status), "code": code, "detail": detail}
    if pointer:
        error["source"] = {"pointer": pointer}
    return Response.json(status, {"errors": [error]}, headers)
