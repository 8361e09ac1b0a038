"""Confirming a shipment on WooCommerce, against the sandbox in-process: status `completed`, the
tracking in the order and in a customer note, retry-safety and classified errors."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from local_stack.http import Request
from local_stack.sandboxes.base import SandboxLine
from local_stack.sandboxes.woocommerce import WooCommerceSandbox, wc_json
from shared.channels.errors import AuthError, NothingToDo, PermanentError, RetryableError
from shared.channels.port import ConfirmsShipments, ShipmentConfirmation
from shared.channels.spec import load
from shared.channels.woocommerce import CHANNEL
from shared.channels.woocommerce.fulfillment import WooFulfillment
from shared.channels.woocommerce.orders import WooOrdersInbound
from shared.channels.woocommerce.secret import WooSecret
from shared.domain.orders import Order

BASE = "http://127.0.0.1:9"


class Shop:
    def __init__(self) -> None:
        self.sandbox = WooCommerceSandbox()
        self.calls: list[tuple[str, str]] = []
        self.fail_notes = 0  # the next N note POSTs answer 503
        self.hide_meta = False  # a shop whose REST API does not return underscore meta
        refs = self.sandbox.add_listing("MUG", "Mug", Decimal("5.00"), 50)
        self.lines = [SandboxLine(refs, "MUG", "Mug", 2, Decimal("5.00"))]

    def client(self) -> httpx.Client:
        def forward(request: httpx.Request) -> httpx.Response:
            self.calls.append((request.method, request.url.path))
            if self.fail_notes and request.method == "POST" and request.url.path.endswith("/notes"):
                self.fail_notes -= 1
                return httpx.Response(503, json={"code": "x", "message": "unavailable"})
            answer = self.sandbox(
                Request(
                    request.method,
                    request.url.path,
                    parse_qs(request.url.query.decode()),
                    dict(request.headers),
                    request.content,
                )
            )
            body = answer.body
            if self.hide_meta and request.method == "GET" and answer.status == 200:
                shown = json.loads(body)
                if isinstance(shown, dict):
                    shown["meta_data"] = []
                body = json.dumps(shown).encode()
            return httpx.Response(answer.status, content=body, headers=answer.headers)

        return httpx.Client(transport=httpx.MockTransport(forward))

    def adapter(self, **wrong: str) -> WooFulfillment:
        secret = self.sandbox.keel_secret(BASE) | wrong
        return WooFulfillment(WooSecret.model_validate(secret), self.client())

    def order(self) -> Order:
        placed = self.sandbox.place_order(self.sandbox.order_body(self.lines), notify=False)
        order = WooOrdersInbound().parse_webhook(
            {"x-wc-webhook-topic": "order.created"},
            wc_json(self.api("GET", f"/orders/{placed}")),  # as its REST API shows it
            "shop.example",
        )
        assert isinstance(order, Order)
        return order

    def api(self, method: str, rel: str) -> Any:
        """What the shop answers Keel's credentials (not recorded as one of the adapter's calls)."""
        calls = list(self.calls)
        url = f"{BASE}/wp-json/wc/v3{rel}"
        answer = self.client().request(method, url, headers=authorized(self))
        self.calls = calls
        return answer.json()

    def shipments(self) -> list[dict[str, Any]]:
        return list(
            json.loads(self.sandbox(Request("GET", "/__sandbox/shipments", {}, {}, b"")).body)
        )


def shipped(order: Order, number: str = "JVGL0123456789") -> ShipmentConfirmation:
    return ShipmentConfirmation(
        carrier="DHL",
        tracking_number=number,
        tracking_url=f"https://tracking.example/{number}",
        lines=tuple((ln.line_id, ln.quantity) for ln in order.lines),
    )


def authorized(shop: Shop) -> dict[str, str]:
    secret = WooSecret.model_validate(shop.sandbox.keel_secret(BASE))
    request = httpx.Request("GET", BASE)
    auth = httpx.BasicAuth(secret.consumer_key, secret.consumer_secret)
    return dict(next(auth.auth_flow(request)).headers)


def test_the_registry_names_this_adapter_and_it_offers_the_capability() -> None:
    shop = Shop()
    factory = load(CHANNEL.confirm_shipment or "")
    secret = WooSecret.model_validate(shop.sandbox.keel_secret(BASE))
    assert isinstance(factory(secret, shop.client()), ConfirmsShipments)


def test_a_confirmation_completes_the_order_and_leaves_a_customer_note() -> None:
    shop = Shop()
    order = shop.order()
    shop.adapter().confirm_shipment(order, shipped(order))
    assert shop.api("GET", f"/orders/{order.external_id}")["status"] == "completed"
    notes = shop.api("GET", f"/orders/{order.external_id}/notes")
    assert len(notes) == 1 and notes[0]["customer_note"] is True
    assert "DHL" in notes[0]["note"] and "JVGL0123456789" in notes[0]["note"]
    assert shop.shipments() == [
        {"order_id": order.external_id, "tracking_number": "JVGL0123456789", "carrier": "DHL"}
    ]
    assert ("PUT", f"/wp-json/wc/v3/orders/{order.external_id}") in shop.calls


def test_a_retried_confirmation_is_nothing_to_do_and_writes_nothing() -> None:
    shop = Shop()
    order = shop.order()
    shop.adapter().confirm_shipment(order, shipped(order))
    before = len(shop.calls)
    with pytest.raises(NothingToDo):
        shop.adapter().confirm_shipment(order, shipped(order))
    assert [m for m, _ in shop.calls[before:]] == ["GET", "GET"]  # read only
    assert len(shop.api("GET", f"/orders/{order.external_id}/notes")) == 1
    assert len(shop.shipments()) == 1


def test_the_note_proves_it_told_where_the_shop_hides_the_tracking_meta() -> None:
    shop = Shop()
    order = shop.order()
    shop.hide_meta = True
    shop.adapter().confirm_shipment(order, shipped(order))
    with pytest.raises(NothingToDo):
        shop.adapter().confirm_shipment(order, shipped(order))
    assert [m for m, _ in shop.calls].count("PUT") == 1


def test_a_lost_note_is_added_on_the_retry_without_a_second_completion() -> None:
    """The PUT landed, the note call failed (503): the retry leaves the note only."""
    shop = Shop()
    order = shop.order()
    shop.fail_notes = 1
    with pytest.raises(RetryableError):
        shop.adapter().confirm_shipment(order, shipped(order))
    before = len(shop.calls)
    shop.adapter().confirm_shipment(order, shipped(order))
    assert [m for m, _ in shop.calls[before:]] == ["GET", "GET", "POST"]
    assert len(shop.api("GET", f"/orders/{order.external_id}/notes")) == 1
    assert len(shop.shipments()) == 1


def test_an_order_the_shop_ended_is_not_completed() -> None:
    shop = Shop()
    order = shop.order()
    shop.sandbox.cancel(int(order.external_id), notify=False)
    with pytest.raises(NothingToDo, match="cancelled"):
        shop.adapter().confirm_shipment(order, shipped(order))
    assert shop.api("GET", f"/orders/{order.external_id}")["status"] == "cancelled"
    assert shop.shipments() == []


@pytest.mark.parametrize(
    ("status", "error"), [(429, RetryableError), (503, RetryableError), (401, AuthError)]
)
def test_http_failures_are_classified(status: int, error: type[Exception]) -> None:
    shop = Shop()
    order = shop.order()
    shop.sandbox.fail_next(1, status)
    with pytest.raises(error) as raised:
        shop.adapter().confirm_shipment(order, shipped(order))
    if status == 429:
        assert isinstance(raised.value, RetryableError) and raised.value.retry_after_s == 1.0


def test_wrong_keys_are_an_auth_error_and_an_unknown_order_permanent() -> None:
    shop = Shop()
    order = shop.order()
    with pytest.raises(AuthError):
        shop.adapter(consumer_secret="cs_wrong").confirm_shipment(order, shipped(order))
    with pytest.raises(PermanentError) as raised:
        shop.adapter().confirm_shipment(replace(order, external_id="999999"), shipped(order))
    assert raised.value.status == 404 and not isinstance(raised.value, AuthError)


@pytest.mark.parametrize(
    "body",
    [
        {"status": "shipped"},  # not a WooCommerce status
        {"status": ["completed"]},
        {"meta_data": [{"value": 1}]},  # a meta entry without a key
        ["completed"],
    ],
)
def test_the_sandbox_refuses_order_updates_woocommerce_refuses(body: Any) -> None:
    shop = Shop()
    order = shop.order()
    answer = shop.sandbox(
        Request(
            "PUT",
            f"/wp-json/wc/v3/orders/{order.external_id}",
            {},
            authorized(shop),
            json.dumps(body).encode(),
        )
    )
    assert answer.status == 400
    assert shop.api("GET", f"/orders/{order.external_id}")["status"] == "processing"


def test_the_sandbox_wants_auth_on_the_order_update_and_notes() -> None:
    shop = Shop()
    order = shop.order()
    for method, rel in (("PUT", ""), ("POST", "/notes"), ("GET", "/notes")):
        body = b'{"status": "completed", "note": "x"}'
        path = f"/wp-json/wc/v3/orders/{order.external_id}{rel}"
        assert shop.sandbox(Request(method, path, {}, {}, body)).status == 401
