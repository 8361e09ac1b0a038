"""Confirming a shipment on Shopify, against the sandbox in-process: fulfillment orders read,
`fulfillmentCreate` sent (both validated against the 2026-10 schema by the sandbox and here),
retry-safety, and the classified errors the order workflow's retries rely on."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import httpx
import pytest
from graphql import GraphQLSchema, parse, validate
from graphql.execution.values import get_variable_values
from graphql.language import OperationDefinitionNode

from local_stack.http import Request, Response
from local_stack.sandboxes.base import SandboxLine
from local_stack.sandboxes.shopify import ShopifySandbox
from shared.channels.errors import AuthError, NothingToDo, PermanentError, RetryableError
from shared.channels.port import ConfirmsShipments, ShipmentConfirmation
from shared.channels.shopify import CHANNEL
from shared.channels.shopify.fulfillment import ShopifyFulfillment
from shared.channels.shopify.orders import ShopifyOrdersInbound
from shared.channels.shopify.secret import ShopifySecret
from shared.channels.spec import load
from shared.domain.orders import Order

BASE = "http://127.0.0.1:8767"


class Shop:
    """The sandbox behind an httpx client, every GraphQL body Keel sent kept."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.sandbox = ShopifySandbox(clock=clock)
        self.sent: list[dict[str, Any]] = []
        refs = self.sandbox.add_listing("MUG", "Mug", Decimal("5.00"), 50)
        lamp = self.sandbox.add_listing("LAMP", "Lamp", Decimal("20.00"), 50)
        self.lines = [
            SandboxLine(refs, "MUG", "Mug", 2, Decimal("5.00")),
            SandboxLine(lamp, "LAMP", "Lamp", 1, Decimal("20.00")),
        ]

    def client(self) -> httpx.Client:
        def handle(request: httpx.Request) -> httpx.Response:
            self.sent.append(json.loads(request.content))
            answer = self.sandbox(
                Request(
                    request.method, request.url.path, {}, dict(request.headers), request.content
                )
            )
            return httpx.Response(answer.status, content=answer.body, headers=answer.headers)

        return httpx.Client(transport=httpx.MockTransport(handle))

    def adapter(self, token: str | None = None) -> ShopifyFulfillment:
        secret = self.sandbox.keel_secret(BASE) | ({"access_token": token} if token else {})
        return ShopifyFulfillment(
            ShopifySecret.model_validate(secret), self.client(), sleep=lambda s: None
        )

    def control(self, path: str, body: Any = None) -> Response:
        raw = json.dumps(body).encode() if body is not None else b""
        return self.sandbox(Request("POST", path, {}, {}, raw))

    def order(self) -> Order:
        """An order placed in the shop, as Keel's inbound parser reads it."""
        placed = json.loads(
            self.control("/__sandbox/orders", self.sandbox.order_body(self.lines)).body
        )
        body = self.sandbox.encode(self.sandbox.order(placed["id"]))
        order = ShopifyOrdersInbound().parse_webhook(
            {"X-Shopify-Topic": "orders/create"}, body, self.sandbox.shop_domain
        )
        assert isinstance(order, Order)
        return order

    def shipments(self) -> list[dict[str, Any]]:
        answer = self.sandbox(Request("GET", "/__sandbox/shipments", {}, {}, b""))
        return list(json.loads(answer.body))


def assert_valid_request(schema: GraphQLSchema, sent: dict[str, Any]) -> None:
    """A GraphQL body Keel sent: its document and its variables, as the schema accepts them."""
    document = parse(sent["query"])
    assert validate(schema, document) == []
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    coerced = get_variable_values(schema, operation.variable_definitions or (), sent["variables"])
    assert isinstance(coerced, dict), coerced


def shipped(order: Order, number: str = "3SABCD0123456789") -> ShipmentConfirmation:
    return ShipmentConfirmation(
        carrier="PostNL",
        tracking_number=number,
        tracking_url=f"https://tracking.example/{number}",
        lines=tuple((ln.line_id, ln.quantity) for ln in order.lines),
    )


def test_the_registry_names_this_adapter_and_it_offers_the_capability() -> None:
    shop = Shop()
    factory = load(CHANNEL.confirm_shipment or "")
    secret = ShopifySecret.model_validate(shop.sandbox.keel_secret(BASE))
    assert isinstance(factory(secret, shop.client()), ConfirmsShipments)


def test_a_confirmation_fulfils_every_line_once_with_the_tracking(schema: GraphQLSchema) -> None:
    shop = Shop()
    order = shop.order()
    shop.adapter().confirm_shipment(order, shipped(order))
    assert shop.shipments() == [
        {"order_id": order.external_id, "tracking_number": "3SABCD0123456789", "carrier": "PostNL"}
    ]
    create = shop.sent[-1]
    tracking = create["variables"]["fulfillment"]["trackingInfo"]
    assert tracking == {
        "company": "PostNL",
        "number": "3SABCD0123456789",
        "url": "https://tracking.example/3SABCD0123456789",
    }
    items = create["variables"]["fulfillment"]["lineItemsByFulfillmentOrder"][0]
    assert sorted(i["quantity"] for i in items["fulfillmentOrderLineItems"]) == [1, 2]
    # Every document and its variables as Keel sent them are what the 2026-10 API accepts.
    for sent in shop.sent:
        assert_valid_request(schema, sent)


def test_a_retried_confirmation_is_nothing_to_do_and_fulfils_nothing_twice() -> None:
    shop = Shop()
    order = shop.order()
    shop.adapter().confirm_shipment(order, shipped(order))
    with pytest.raises(NothingToDo):
        shop.adapter().confirm_shipment(order, shipped(order))
    assert len(shop.shipments()) == 1
    assert len(shop.sandbox.mutation_calls()) == 1


def test_only_the_lines_that_left_are_fulfilled() -> None:
    shop = Shop()
    order = shop.order()
    first = order.lines[0]
    part = ShipmentConfirmation("DHL", "JVGL0001", None, ((first.line_id, first.quantity),))
    shop.adapter().confirm_shipment(order, part)
    sent = shop.sent[-1]["variables"]["fulfillment"]
    assert "url" not in sent["trackingInfo"]  # no URL known: Shopify builds one for known carriers
    assert len(sent["lineItemsByFulfillmentOrder"][0]["fulfillmentOrderLineItems"]) == 1
    shop.adapter().confirm_shipment(order, shipped(order))  # the rest, later
    assert [s["tracking_number"] for s in shop.shipments()] == ["JVGL0001", "3SABCD0123456789"]


def test_an_order_the_shop_cancelled_is_not_fulfilled() -> None:
    shop = Shop()
    order = shop.order()
    shop.control(f"/__sandbox/orders/{order.external_id}/cancel", {})
    with pytest.raises(NothingToDo):
        shop.adapter().confirm_shipment(order, shipped(order))
    assert shop.shipments() == []


def test_a_throttled_answer_is_retryable_with_the_wait_it_needs() -> None:
    shop = Shop(clock=lambda: 1000.0)  # the bucket refills with time: here, none passes
    order = shop.order()
    shop.sandbox.set_throttle(capacity=1000, restore_rate=50, available=0)
    with pytest.raises(RetryableError) as raised:
        shop.adapter().confirm_shipment(order, shipped(order))
    assert raised.value.retry_after_s is not None and 0 < raised.value.retry_after_s <= 20
    assert shop.shipments() == []


@pytest.mark.parametrize(
    ("status", "error"), [(429, RetryableError), (503, RetryableError), (401, AuthError)]
)
def test_http_failures_are_classified(status: int, error: type[Exception]) -> None:
    shop = Shop()
    order = shop.order()
    shop.sandbox.fail_next(1, status)
    with pytest.raises(error):
        shop.adapter().confirm_shipment(order, shipped(order))


def test_a_wrong_token_is_an_auth_error_and_an_unknown_order_permanent() -> None:
    shop = Shop()
    order = shop.order()
    with pytest.raises(AuthError):
        shop.adapter(token="shpat_wrong").confirm_shipment(order, shipped(order))
    unknown = replace(order, external_id="1")
    with pytest.raises(PermanentError) as raised:
        shop.adapter().confirm_shipment(unknown, shipped(order))
    assert not isinstance(raised.value, AuthError)


def _scripted(answers: list[dict[str, Any]], sent: list[dict[str, Any]]) -> httpx.Client:
    """Shopify answers the test writes itself: states the sandbox does not produce."""

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={"data": answers.pop(0)})

    return httpx.Client(transport=httpx.MockTransport(handle))


def _fulfillment_orders(status: str, remaining: int) -> dict[str, Any]:
    line = {
        "id": "gid://shopify/FulfillmentOrderLineItem/9",
        "remainingQuantity": remaining,
        "lineItem": {"id": "gid://shopify/LineItem/7"},
    }
    node = {
        "id": "gid://shopify/FulfillmentOrder/5",
        "status": status,
        "lineItems": {"nodes": [line]},
    }
    return {"order": {"id": "gid://shopify/Order/1", "fulfillmentOrders": {"nodes": [node]}}}


def _adapter(answers: list[dict[str, Any]], sent: list[dict[str, Any]]) -> ShopifyFulfillment:
    secret = ShopifySandbox().keel_secret(BASE)
    return ShopifyFulfillment(ShopifySecret.model_validate(secret), _scripted(answers, sent))


@pytest.mark.parametrize("status", ["ON_HOLD", "SCHEDULED", "INCOMPLETE"])
def test_a_line_held_in_shopify_is_permanent_not_nothing_to_do(status: str) -> None:
    """Only the merchant can release it; calling it done would mark the buyer told."""
    order = Shop().order()
    sent: list[dict[str, Any]] = []
    confirmation = ShipmentConfirmation("PostNL", "3S1", None, (("7", 1),))
    with pytest.raises(PermanentError, match=status):
        _adapter([_fulfillment_orders(status, 1)], sent).confirm_shipment(order, confirmation)
    assert len(sent) == 1  # no fulfillmentCreate


def test_a_refusal_because_an_overlapping_attempt_fulfilled_it_is_nothing_to_do() -> None:
    order = Shop().order()
    refused = {
        "fulfillmentCreate": {"fulfillment": None, "userErrors": [{"field": None, "message": "x"}]}
    }
    answers = [_fulfillment_orders("OPEN", 1), refused, _fulfillment_orders("CLOSED", 0)]
    confirmation = ShipmentConfirmation("PostNL", "3S1", None, (("7", 1),))
    with pytest.raises(NothingToDo):
        _adapter(answers, []).confirm_shipment(order, confirmation)
    still_open = [_fulfillment_orders("OPEN", 1), refused, _fulfillment_orders("OPEN", 1)]
    with pytest.raises(PermanentError, match="refused"):
        _adapter(still_open, []).confirm_shipment(order, confirmation)
