"""The bol.com sandbox refuses what bol refuses and answers in bol's shapes."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import pytest

from local_stack.http import Request, Response
from local_stack.sandboxes.base import ChannelSandbox, SandboxLine
from local_stack.sandboxes.bol import MEDIA_TYPE, BolSandbox, violations
from shared.channels.bol import signature
from shared.channels.bol.secret import BolSecret


def call(
    sandbox: BolSandbox,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    query: dict[str, list[str]] | None = None,
) -> Response:
    raw = json.dumps(body).encode() if body is not None else b""
    return sandbox(Request(method, path, query or {}, headers or {}, raw))


def token(sandbox: BolSandbox) -> str:
    basic = base64.b64encode(f"{sandbox.client_id}:{sandbox.client_secret}".encode()).decode()
    answer = call(
        sandbox,
        "POST",
        "/token",
        headers={"Authorization": f"Basic {basic}"},
        query={"grant_type": ["client_credentials"]},
    )
    assert answer.status == 200
    body = json.loads(answer.body)
    assert body["expires_in"] == 299 and body["token_type"] == "Bearer"
    return str(body["access_token"])


def api(sandbox: BolSandbox, method: str, path: str, body: Any = None, **extra: str) -> Response:
    headers = {"Authorization": f"Bearer {token(sandbox)}", "Accept": MEDIA_TYPE}
    if body is not None:
        headers["Content-Type"] = MEDIA_TYPE
    headers.update(extra)
    return call(sandbox, method, path, body, headers)


@pytest.fixture
def bol() -> BolSandbox:
    sandbox = BolSandbox()
    sandbox.process_delay_s = 0.0
    return sandbox


def test_it_is_a_channel_sandbox_whose_secret_the_schema_accepts(bol: BolSandbox) -> None:
    assert isinstance(bol, ChannelSandbox)
    BolSecret.model_validate(bol.keel_secret("http://127.0.0.1:9"))
    assert "bol_webhook_secret" in bol.local_only_secrets()


def test_stock_writes_are_validated_against_the_spec(bol: BolSandbox) -> None:
    offer = bol.add_listing("MUG", "Mug", Decimal("9.99"), 3)["offer_id"]
    path = f"/retailer/offers/{offer}/stock"
    too_many = api(bol, "PUT", path, {"amount": 1000, "managedByRetailer": True})
    assert too_many.status == 400
    assert json.loads(too_many.body)["violations"][0]["name"] == "amount"
    missing = api(bol, "PUT", path, {"amount": 3})
    assert missing.status == 400
    assert "managedByRetailer" in json.dumps(json.loads(missing.body)["violations"])
    accepted = api(bol, "PUT", path, {"amount": 7, "managedByRetailer": True})
    assert accepted.status == 202
    process = json.loads(accepted.body)
    assert process["status"] == "PENDING" and process["eventType"] == "UPDATE_OFFER_STOCK"
    status = api(bol, "GET", f"/shared/process-status/{process['processStatusId']}")
    assert json.loads(status.body)["status"] == "SUCCESS"
    assert bol.shown()[0]["quantity"] == 7


def test_the_media_type_and_a_live_token_are_required(bol: BolSandbox) -> None:
    assert api(bol, "GET", "/retailer/orders", Accept="application/json").status == 406
    live = token(bol)
    bol.expire_tokens()
    headers = {"Authorization": f"Bearer {live}", "Accept": MEDIA_TYPE}
    expired = call(bol, "GET", "/retailer/orders", headers=headers)
    assert expired.status == 401 and json.loads(expired.body)["title"] == "Expired JWT"
    unknown = call(bol, "GET", "/retailer/orders", headers={"Authorization": "Bearer nope"})
    assert unknown.status == 401


def test_rate_limits_answer_429_with_retry_after(bol: BolSandbox) -> None:
    bol.rate_limit = 2
    first = api(bol, "GET", "/retailer/orders")
    assert first.headers["X-RateLimit-Remaining"] == "1"
    api(bol, "GET", "/retailer/orders")
    limited = api(bol, "GET", "/retailer/orders")
    assert limited.status == 429 and int(limited.headers["Retry-After"]) >= 1


def test_an_order_lowers_the_offer_and_is_listed_until_empty(bol: BolSandbox) -> None:
    refs = bol.add_listing("MUG", "Mug", Decimal("9.99"), 3)
    body = bol.order_body([SandboxLine(refs, "MUG", "Mug", 2, Decimal("9.99"))])
    order_id = bol.place_order(body, notify=False)
    assert bol.shown() == [
        {
            "listing_id": refs["offer_id"],
            "sku": "MUG",
            "quantity": 1,
            "price": "9.99",  # the offer's price, as the seller listed it
            "account": bol.retailer_id,
            "marketplace": "",
            "countries": ["NL", "BE"],  # store.visible[].countryCode: one offer sells in both
            "gtin": refs["ean"],  # an offer's GTIN is its EAN
        }
    ]
    listed = json.loads(
        call(
            bol,
            "GET",
            "/retailer/orders",
            headers={"Authorization": f"Bearer {token(bol)}", "Accept": MEDIA_TYPE},
            query={"change-interval-minute": ["5"], "status": ["ALL"]},
        ).body
    )
    assert [o["orderId"] for o in listed["orders"]] == [order_id]
    empty = call(
        bol,
        "GET",
        "/retailer/orders",
        headers={"Authorization": f"Bearer {token(bol)}", "Accept": MEDIA_TYPE},
        query={"page": ["2"]},
    )
    assert json.loads(empty.body) == {}


def test_pushes_are_signed_with_a_key_the_keys_endpoint_serves(bol: BolSandbox) -> None:
    keys = json.loads(api(bol, "GET", "/retailer/subscriptions/signature-keys").body)
    (key,) = keys["signatureKeys"]
    raw = b'{"retailerId":1234567,"event":{"resource":"ORDER","type":"NEW","resourceId":"1"}}'
    headers = {"signature": bol.sign(raw)}
    assert signature.key_id(headers) == key["id"]
    assert signature.verify(key["publicKey"], raw, headers)
    assert not signature.verify(key["publicKey"], raw + b" ", headers)


def test_told_failures_end_the_next_writes_so(bol: BolSandbox) -> None:
    offer = bol.add_listing("MUG", "Mug", Decimal("9.99"), 3)["offer_id"]
    bol.fail_processes(1, "TIMEOUT")
    body = {"amount": 1, "managedByRetailer": True}
    accepted = api(bol, "PUT", f"/retailer/offers/{offer}/stock", body)
    ps = json.loads(accepted.body)["processStatusId"]
    assert json.loads(api(bol, "GET", f"/shared/process-status/{ps}").body)["status"] == "TIMEOUT"
    assert bol.shown()[0]["quantity"] == 3


def test_process_statuses_are_read_in_bulk_as_the_spec_says(bol: BolSandbox) -> None:
    offer = bol.add_listing("MUG", "Mug", Decimal("9.99"), 3)["offer_id"]
    body = {"amount": 5, "managedByRetailer": True}
    ids = [
        json.loads(api(bol, "PUT", f"/retailer/offers/{offer}/stock", body).body)["processStatusId"]
        for _ in range(2)
    ]
    queries = [{"processStatusId": p} for p in [*ids, "999"]]
    answer = api(bol, "POST", "/shared/process-status", {"processStatusQueries": queries})
    assert answer.status == 200
    payload = json.loads(answer.body)
    assert violations(payload, {"$ref": "#/components/schemas/ProcessStatusResponse"}) == []
    statuses = {s["processStatusId"]: s["status"] for s in payload["processStatuses"]}
    assert statuses == dict.fromkeys(ids, "SUCCESS")  # an id bol does not know is left out
    too_many = [{"processStatusId": str(n)} for n in range(1001)]
    refusals: list[dict[str, Any]] = [
        {"processStatusQueries": too_many},
        {"processStatusQueries": []},
        {},
    ]
    for refused in refusals:
        assert api(bol, "POST", "/shared/process-status", refused).status == 400
