"""The Sendcloud v3 client against Sendcloud's own documents (specs/sendcloud): the announce
request against the spec's request schema, the spec's response and error examples, and how each
HTTP answer is classified (respx: no server). The sandbox takes what the real API takes."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from local_stack.http import Request
from local_stack.sandboxes.sendcloud import SendcloudSandbox
from shared.carriers.sendcloud.client import SendcloudCarrier, retry_after_seconds
from shared.carriers.sendcloud.secret import SendcloudSecret
from shared.channels.errors import AuthError, NothingToDo, PermanentError, RetryableError
from shared.domain.orders import Money, Order, OrderLine, ShippingAddress
from shared.domain.shipments import Shipment

BASE = "https://panel.sendcloud.sc/api/v3"
AT = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _spec(specs: Path, name: str) -> Any:
    return json.loads((specs / "sendcloud" / name).read_text())


# --- the announce request against the v3 schema ----------------------------------------------


class SchemaError(AssertionError):
    pass


def check(schema: dict[str, Any], value: Any, spec: dict[str, Any], at: str = "") -> None:
    """The JSON Schema subset the v3 spec uses for requests: $ref, allOf/anyOf/oneOf, type,
    required, properties, items, enum, lengths, pattern, minimum. Enough to hold Keel's request
    to what Sendcloud documents; no dependency for it."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        check(spec["components"]["schemas"][name], value, spec, at)
        return
    for sub in schema.get("allOf", []):
        check(sub, value, spec, at)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            passed = 0
            for sub in schema[key]:
                try:
                    check(sub, value, spec, at)
                    passed += 1
                except SchemaError:
                    pass
            if not passed:
                raise SchemaError(f"{at or '/'}: matches none of {key}")
    kinds = schema.get("type")
    if kinds is not None:
        types: dict[str, type | tuple[type, ...]] = {
            "object": dict,
            "array": list,
            "string": str,
            "integer": int,
            "number": (int, float),
            "boolean": bool,
            "null": type(None),
        }
        allowed = [kinds] if isinstance(kinds, str) else kinds
        ok = any(
            isinstance(value, types[k])
            and not (k in ("integer", "number") and isinstance(value, bool))
            for k in allowed
        )
        if not ok:
            raise SchemaError(f"{at or '/'}: {value!r} is not {kinds}")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                raise SchemaError(f"{at}/{key}: required")
        for key, sub in (schema.get("properties") or {}).items():
            if key in value:
                check(sub, value[key], spec, f"{at}/{key}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", 10**9):
            raise SchemaError(f"{at}: {len(value)} items")
        for i, item in enumerate(value):
            check(schema.get("items", {}), item, spec, f"{at}/{i}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", 10**9):
            raise SchemaError(f"{at}: length of {value!r}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise SchemaError(f"{at}: {value!r} !~ {schema['pattern']}")
    if "enum" in schema and value not in schema["enum"]:
        raise SchemaError(f"{at}: {value!r} not in {schema['enum']}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise SchemaError(f"{at}: {value} < {schema['minimum']}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            raise SchemaError(f"{at}: {value} <= {schema['exclusiveMinimum']}")


def _v3(specs: Path) -> dict[str, Any]:
    spec: dict[str, Any] = _spec(specs, "sendcloud-v3.openapi.json")
    return spec


def _announce_op(spec: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = spec["paths"]["/shipments/announce"]["post"]
    return op


def secret() -> SendcloudSecret:
    return SendcloudSecret(
        base_url=BASE,
        public_key="pub",
        secret_key="sec",
        webhook_secret="sec",
        shipping_option_code="postnl:standard",
        sender_name="Keel Warehouse",
        sender_address_line_1="Stadhuisplein 10",
        sender_postal_code="5611 EM",
        sender_city="Eindhoven",
        sender_country_code="NL",
    )


def order(region: str = "", external_id: str = "1001") -> Order:
    eur = "EUR"
    line = OrderLine(
        line_id="L1",
        quantity=2,
        unit_price=Money(Decimal("12.50"), eur),
        presentment_unit_price=Money(Decimal("12.50"), eur),
        title="Blue mug",
        sku="KEEL-MUG-BLUE",
    )
    tip = OrderLine(
        line_id="T1",
        quantity=1,
        unit_price=Money(Decimal("2.00"), eur),
        presentment_unit_price=Money(Decimal("2.00"), eur),
        title="Tip",
        stock=False,
    )
    return Order(
        channel="shopify",
        account="keel-demo",
        external_id=external_id,
        name=f"#{external_id}",
        created_at=AT,
        channel_updated_at=AT,
        total=Money(Decimal("27.00"), eur),
        presentment_total=Money(Decimal("27.00"), eur),
        lines=(line, tip),
        shipping_address=ShippingAddress(
            name="John Doe",
            address_line_1="Insulindelaan 115",
            postal_code="5642CV",
            city="Eindhoven",
            country_code="US" if region else "NL",
            region=region,
            email="john.doe@example.com",
        ),
    )


def test_the_checker_has_teeth(specs: Path) -> None:
    """The spec's own examples pass; the same example without what the spec requires fails."""
    spec = _v3(specs)
    op = _announce_op(spec)
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    examples = op["requestBody"]["content"]["application/json"]["examples"]
    for example in examples.values():
        check(schema, example["value"], spec)
    broken = json.loads(json.dumps(examples["CreateDomesticSingleParcelShipment"]["value"]))
    del broken["parcels"][0]["parcel_items"][0]["hs_code"]
    with pytest.raises(SchemaError, match="hs_code"):
        check(schema, broken, spec)
    broken["parcels"] = []
    with pytest.raises(SchemaError, match="parcels"):
        check(schema, broken, spec)


def _carrier() -> SendcloudCarrier:
    return SendcloudCarrier(secret(), httpx.Client())


@respx.mock
def test_the_announce_body_is_what_the_v3_schema_asks_for(specs: Path) -> None:
    spec = _v3(specs)
    op = _announce_op(spec)
    created = op["responses"]["201"]["content"]["application/json"]["examples"]
    respx.get(f"{BASE}/shipments").mock(return_value=httpx.Response(200, json={"data": []}))
    route = respx.post(f"{BASE}/shipments/announce").mock(
        return_value=httpx.Response(
            201, json=created["CreatedSingleParcelDomesticShipment"]["value"]
        )
    )
    _carrier().announce(order(region="NY"))
    body = json.loads(route.calls.last.request.content)
    check(op["requestBody"]["content"]["application/json"]["schema"], body, spec)
    assert body["external_reference_id"] == "shopify#keel-demo#1001"
    assert body["order_number"] == "#1001"
    assert body["to_address"]["state_province_code"] == "US-NY"  # ISO 3166-2, as the spec says
    assert body["total_order_price"] == {"currency": "EUR", "value": "27.00"}
    assert body["parcels"] == [{"weight": {"value": "1.000", "unit": "kg"}}]  # 2 units, no tip
    assert route.calls.last.request.headers["authorization"] == basic("pub", "sec")


@respx.mock
def test_the_spec_examples_of_an_announced_shipment_read_as_one(specs: Path) -> None:
    op = _announce_op(_v3(specs))
    example = op["responses"]["201"]["content"]["application/json"]["examples"][
        "CreatedSingleParcelDomesticShipment"
    ]["value"]
    respx.get(f"{BASE}/shipments").mock(return_value=httpx.Response(200, json={"data": []}))
    respx.post(f"{BASE}/shipments/announce").mock(return_value=httpx.Response(201, json=example))
    shipment = _carrier().announce(order())
    assert shipment == Shipment(
        carrier="sendcloud",
        shipment_id="XXX-Shipment-id",
        parcel_id="383707309",
        tracking_number="3SYZXG8498635",
        carrier_service="postnl",
        tracking_url=example["data"]["parcels"][0]["tracking_url"],
        label_url="https://panel.sendcloud.sc/api/v3/parcels/383707309/documents/label",
    )


@respx.mock
def test_a_retry_finds_the_shipment_and_announces_nothing(specs: Path) -> None:
    listed = _v3(specs)["paths"]["/shipments"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["examples"]["RetrievedDomesticSingleParcelShipments"]["value"]
    live = json.loads(json.dumps(listed))
    live["data"][0]["parcels"][0]["status"] = {"code": "READY_TO_SEND", "message": "Ready"}
    lookup = respx.get(
        f"{BASE}/shipments", params={"external_reference_id": "shopify#keel-demo#1001"}
    )
    lookup.mock(return_value=httpx.Response(200, json=live))
    announce = respx.post(f"{BASE}/shipments/announce")
    shipment = _carrier().announce(order())
    assert (shipment.parcel_id, shipment.tracking_number) == ("383707309", "3SYZXG5051720")
    assert not announce.called
    # The spec's own example is a cancelled shipment: that one is not "found".
    lookup.mock(return_value=httpx.Response(200, json=listed))
    assert _carrier().find("shopify#keel-demo#1001") is None


@respx.mock
def test_a_409_on_announce_returns_the_shipment_that_holds_the_reference(specs: Path) -> None:
    """Lookup empty, then 409 (a concurrent first attempt landed in between): the holder."""
    created = _announce_op(_v3(specs))["responses"]["201"]["content"]["application/json"][
        "examples"
    ]["CreatedSingleParcelDomesticShipment"]["value"]
    respx.get(f"{BASE}/shipments").mock(
        side_effect=[
            httpx.Response(200, json={"data": []}),
            httpx.Response(200, json={"data": [created["data"]]}),
        ]
    )
    respx.post(f"{BASE}/shipments/announce").mock(
        return_value=httpx.Response(409, json={"errors": [{"status": "409", "code": "conflict"}]})
    )
    assert _carrier().announce(order()).parcel_id == "383707309"


@respx.mock
def test_a_409_for_a_cancelled_holder_is_permanent(specs: Path) -> None:
    listed = _v3(specs)["paths"]["/shipments"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["examples"]["RetrievedDomesticSingleParcelShipments"]["value"]  # status CANCELLED
    respx.get(f"{BASE}/shipments").mock(return_value=httpx.Response(200, json=listed))
    respx.post(f"{BASE}/shipments/announce").mock(return_value=httpx.Response(409, json={}))
    with pytest.raises(PermanentError, match="cancelled") as caught:
        _carrier().announce(order())
    assert caught.value.status == 409


@respx.mock
def test_a_404_from_the_lookup_means_nothing_was_found() -> None:
    respx.get(f"{BASE}/shipments").mock(return_value=httpx.Response(404, json={"errors": []}))
    assert _carrier().find("shopify#keel-demo#1001") is None


# --- error classification --------------------------------------------------------------------


def _answer(status: int, **kw: Any) -> httpx.Response:
    return httpx.Response(status, **kw)


@respx.mock
@pytest.mark.parametrize(
    ("answer", "error", "retry_after"),
    [
        (_answer(429, headers={"Retry-After": "7"}), RetryableError, 7.0),
        (_answer(429), RetryableError, None),
        (_answer(500), RetryableError, None),
        (_answer(503, headers={"Retry-After": "2"}), RetryableError, 2.0),
        (
            _answer(401, json={"errors": [{"detail": "Invalid username/password."}]}),
            AuthError,
            None,
        ),
        (_answer(403), AuthError, None),
        (
            _answer(422, json={"errors": [{"detail": "Address not deliverable"}]}),
            PermanentError,
            None,
        ),
    ],
)
def test_answers_are_classified(
    answer: httpx.Response, error: type[Exception], retry_after: float | None
) -> None:
    respx.get(f"{BASE}/shipments").mock(return_value=answer)
    with pytest.raises(error) as caught:
        _carrier().announce(order())
    if isinstance(caught.value, RetryableError):
        assert caught.value.retry_after_s == retry_after
    assert type(caught.value) is error


@respx.mock
def test_a_validation_error_carries_sendcloud_s_own_words(specs: Path) -> None:
    bad_request = _announce_op(_v3(specs))["responses"]["400"]["content"]["application/json"][
        "examples"
    ]["Failed"]["value"]
    respx.get(f"{BASE}/shipments").mock(return_value=httpx.Response(200, json={"data": []}))
    respx.post(f"{BASE}/shipments/announce").mock(
        return_value=httpx.Response(400, json=bad_request)
    )
    with pytest.raises(PermanentError) as caught:
        _carrier().announce(order())
    assert type(caught.value) is PermanentError and caught.value.status == 400
    assert "/to_address/name This field is required." in str(caught.value)


@respx.mock
def test_transport_failures_are_retryable() -> None:
    respx.get(f"{BASE}/shipments").mock(side_effect=httpx.ConnectTimeout("slow"))
    with pytest.raises(RetryableError, match="ConnectTimeout"):
        _carrier().announce(order())


def test_an_order_without_an_address_is_refused_before_any_call() -> None:
    with respx.mock:
        respx.get(f"{BASE}/shipments").mock(return_value=httpx.Response(200, json={"data": []}))
        with pytest.raises(PermanentError, match="no shipping address"):
            _carrier().announce(replace(order(), shipping_address=None))


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("3", 3.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("-4", 0.0),
        ("Sat, 28 Nov 2026 09:00:30 GMT", 30.0),
        ("Sat, 28 Nov 2026 08:59:00 GMT", 0.0),  # in the past: now
        ("soon", None),
        ("nan", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value, now=AT) == seconds


# --- cancel ----------------------------------------------------------------------------------

SHIPMENT = Shipment("sendcloud", "XXX-Shipment-id", "383707309", "3SYZXG8498635")


@respx.mock
@pytest.mark.parametrize("status", [200, 202])  # cancelled, or queued for cancellation
def test_cancel_accepted(status: int) -> None:
    route = respx.post(f"{BASE}/shipments/XXX-Shipment-id/cancel").mock(
        return_value=httpx.Response(status, json={"data": {"status": "cancelled"}})
    )
    _carrier().cancel(SHIPMENT)
    assert route.called


@respx.mock
def test_cancel_of_a_shipment_sendcloud_does_not_know_is_nothing_to_do() -> None:
    respx.post(f"{BASE}/shipments/XXX-Shipment-id/cancel").mock(
        return_value=httpx.Response(404, json={"errors": [{"code": "not_found"}]})
    )
    with pytest.raises(NothingToDo):
        _carrier().cancel(SHIPMENT)


@respx.mock
@pytest.mark.parametrize(
    ("code", "outcome"), [("CANCELLED", NothingToDo), ("DELIVERED", PermanentError)]
)
def test_a_409_on_cancel_is_read_from_the_shipment_s_state(
    specs: Path, code: str, outcome: type[Exception]
) -> None:
    """409 means "already cancelled" (a retry whose first answer was lost) or "too late"."""
    listed = _v3(specs)["paths"]["/shipments"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["examples"]["RetrievedDomesticSingleParcelShipments"]["value"]
    shipment = listed["data"][0]
    shipment["parcels"][0]["status"] = {"code": code, "message": code.title()}
    respx.post(f"{BASE}/shipments/XXX-Shipment-id/cancel").mock(
        return_value=httpx.Response(
            409, json={"errors": [{"status": "409", "code": "invalid", "detail": "No."}]}
        )
    )
    respx.get(f"{BASE}/shipments/XXX-Shipment-id").mock(
        return_value=httpx.Response(200, json={"data": shipment})
    )
    with pytest.raises(outcome) as caught:
        _carrier().cancel(SHIPMENT)
    assert type(caught.value) is outcome


# --- the sandbox takes what the real API takes -----------------------------------------------


def test_the_sandbox_accepts_the_spec_s_request_examples(specs: Path) -> None:
    sandbox = SendcloudSandbox()
    auth = basic(sandbox.public_key, sandbox.secret_key)
    examples = _announce_op(_v3(specs))["requestBody"]["content"]["application/json"]["examples"]
    for name, example in examples.items():
        answer = sandbox(
            Request(
                "POST",
                "/api/v3/shipments/announce",
                {},
                {"Authorization": auth, "Host": "sandbox"},
                json.dumps(example["value"]).encode(),
            )
        )
        assert answer.status == 201, (name, answer.body)


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        (lambda b: b["to_address"].pop("city"), "/to_address/city"),
        (
            lambda b: b["from_address"].update(country_code="Netherlands"),
            "/from_address/country_code",
        ),
        (lambda b: b["parcels"][0].pop("weight"), "/parcels/0/weight/value"),
        (
            lambda b: b["parcels"][0]["parcel_items"][0].pop("hs_code"),
            "/parcels/0/parcel_items/0/hs_code",
        ),
        (
            lambda b: b["parcels"][0]["parcel_items"][1]["weight"].update(value="1.02"),
            "/parcels/0/parcel_items/1/weight/value",
        ),
        (lambda b: b.update(parcels=b["parcels"] * 16), "/parcels"),
        (lambda b: b.pop("ship_with"), "/ship_with/properties/shipping_option_code"),
    ],
)
def test_the_sandbox_refuses_what_the_spec_requires_with_sendcloud_s_error_shape(
    specs: Path, change: Any, pointer: str
) -> None:
    sandbox = SendcloudSandbox()
    auth = basic(sandbox.public_key, sandbox.secret_key)
    op = _announce_op(_v3(specs))
    body = json.loads(
        json.dumps(
            op["requestBody"]["content"]["application/json"]["examples"][
                "CreateDomesticSingleParcelShipment"
            ]["value"]
        )
    )
    change(body)
    answer = sandbox(
        Request("POST", "/api/v3/shipments/announce", {}, {"Authorization": auth},
                json.dumps(body).encode())
    )  # fmt: skip
    assert answer.status == 400
    errors = json.loads(answer.body)["errors"]
    documented = op["responses"]["400"]["content"]["application/json"]["examples"]["Failed"]
    assert set(errors[0]) == set(documented["value"]["errors"][0])  # detail, status, source, code
    assert pointer in [e["source"]["pointer"] for e in errors]


# --- a shipment Sendcloud made but could not announce ----------------------------------------


def _failed_example(specs: Path) -> dict[str, Any]:
    examples = _announce_op(_v3(specs))["responses"]["201"]["content"]["application/json"][
        "examples"
    ]
    value: dict[str, Any] = examples["DomesticSingleParcelShipmentAnnouncementFailed"]["value"]
    return value


@respx.mock
def test_a_201_whose_announcement_failed_is_permanent_with_sendcloud_s_words(
    specs: Path,
) -> None:
    failed = _failed_example(specs)
    respx.get(f"{BASE}/shipments").mock(return_value=httpx.Response(200, json={"data": []}))
    respx.post(f"{BASE}/shipments/announce").mock(return_value=httpx.Response(201, json=failed))
    with pytest.raises(PermanentError) as caught:
        _carrier().announce(order())
    assert "could not announce shipment XXX-Shipment-id" in str(caught.value)
    assert "An error occurred while connecting to the carrier." in str(caught.value)


@respx.mock
def test_a_retry_that_finds_the_failed_announcement_says_so_too(specs: Path) -> None:
    failed = _failed_example(specs)
    respx.get(f"{BASE}/shipments").mock(
        return_value=httpx.Response(200, json={"data": [failed["data"]]})
    )
    announce = respx.post(f"{BASE}/shipments/announce")
    with pytest.raises(PermanentError, match="could not announce"):
        _carrier().announce(order())
    assert not announce.called  # the reference is taken: a second booking would be refused


@respx.mock
@pytest.mark.parametrize(
    "data", [None, {"parcels": [{"id": 1}]}, {"id": "x", "parcels": []}, {"id": "x"}]
)
def test_an_answer_without_a_shipment_keel_can_use_is_permanent(data: Any) -> None:
    respx.get(f"{BASE}/shipments").mock(return_value=httpx.Response(200, json={"data": []}))
    respx.post(f"{BASE}/shipments/announce").mock(
        return_value=httpx.Response(201, json={"data": data})
    )
    with pytest.raises(PermanentError):
        _carrier().announce(order())


@respx.mock
def test_a_company_without_a_person_s_name_is_addressed_by_the_company() -> None:
    respx.get(f"{BASE}/shipments").mock(return_value=httpx.Response(200, json={"data": []}))
    route = respx.post(f"{BASE}/shipments/announce").mock(return_value=httpx.Response(500))
    to = order().shipping_address
    assert to is not None
    address = replace(to, name="", company="Acme BV")
    with pytest.raises(RetryableError):
        _carrier().announce(replace(order(), shipping_address=address))
    sent = json.loads(route.calls.last.request.content)["to_address"]
    assert (sent["name"], sent["company_name"]) == ("Acme BV", "Acme BV")
