"""The sandbox refuses what the real WooCommerce API refuses (spec: rest-v3-examples), and its
control surface places and cancels orders the way a shop does, telling Keel by signed webhook."""

from __future__ import annotations

import base64
import json
import re
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from local_stack.http import Request, Response
from local_stack.sandboxes.base import ChannelSandbox, SandboxLine
from local_stack.sandboxes.woocommerce import WooCommerceSandbox, wc_json
from shared.channels.woocommerce.orders import WooOrdersInbound
from shared.channels.woocommerce.secret import WooSecret
from shared.channels.woocommerce.signature import is_ping, verify_headers
from shared.domain.orders import Order

AUTH = {"Authorization": "Basic " + base64.b64encode(b"ck:cs").decode()}


def call(
    sandbox: WooCommerceSandbox,
    path: str,
    body: Any,
    headers: dict[str, str] | None = None,
    method: str = "POST",
) -> Response:
    raw = json.dumps(body).encode() if body is not None else b""
    return sandbox(Request(method, path, {}, headers if headers is not None else AUTH, raw))


def make() -> WooCommerceSandbox:
    sandbox = WooCommerceSandbox("ck", "cs")
    sandbox.add_product(799, "Mug", "MUG", stock=1)
    sandbox.add_variation(22, 733, "Tee M", "TEE-M", stock=2)
    return sandbox


def test_batch_update_sets_stock_and_answers_like_the_spec(specs: Path) -> None:
    sandbox = make()
    response = call(
        sandbox,
        "/wp-json/wc/v3/products/batch",
        {"update": [{"id": 799, "manage_stock": True, "stock_quantity": 7}]},
    )
    assert response.status == 200
    item = json.loads(response.body)["update"][0]
    real = json.loads(
        (specs / "woocommerce/rest-v3-examples/products__batch_update_products.json").read_text()
    )["update"][0]
    assert {"id", "manage_stock", "stock_quantity", "stock_status", "sku"} <= set(real)
    assert {k: item[k] for k in ("id", "stock_quantity", "stock_status")} == {
        "id": 799,
        "stock_quantity": 7,
        "stock_status": "instock",
    }
    assert sandbox.stock_of(799) == 7


def test_bad_auth_is_401() -> None:
    sandbox = make()
    bad = {"Authorization": "Basic " + base64.b64encode(b"ck:nope").decode()}
    assert call(sandbox, "/wp-json/wc/v3/products/batch", {"update": []}, bad).status == 401
    assert call(sandbox, "/wp-json/wc/v3/products/batch", {"update": []}, {}).status == 401


def test_more_than_100_items_is_413() -> None:
    response = call(
        make(),
        "/wp-json/wc/v3/products/batch",
        {"update": [{"id": 799, "stock_quantity": 1}] * 101},
    )
    assert response.status == 413
    assert json.loads(response.body)["code"] == "woocommerce_rest_request_entity_too_large"


def test_unknown_ids_and_non_integer_stock_fail_per_item_inside_a_200() -> None:
    sandbox = make()
    response = call(
        sandbox,
        "/wp-json/wc/v3/products/batch",
        {
            "update": [
                {"id": 12345, "manage_stock": True, "stock_quantity": 1},
                {"id": 799, "manage_stock": True, "stock_quantity": 2.5},
                {"id": 799, "manage_stock": True, "stock_quantity": "3"},
                {
                    "id": 733,
                    "manage_stock": True,
                    "stock_quantity": 1,
                },  # a variation, wrong endpoint
            ]
        },
    )
    assert response.status == 200
    codes = [i.get("error", {}).get("code") for i in json.loads(response.body)["update"]]
    assert codes == [
        "woocommerce_rest_product_invalid_id",
        "rest_invalid_param",
        "rest_invalid_param",
        "woocommerce_rest_product_invalid_id",
    ]
    assert sandbox.stock_of(799) == 1


def test_variations_only_under_their_parent() -> None:
    sandbox = make()
    ok = call(
        sandbox,
        "/wp-json/wc/v3/products/22/variations/batch",
        {"update": [{"id": 733, "manage_stock": True, "stock_quantity": 4}]},
    )
    assert ok.status == 200 and sandbox.stock_of(733) == 4
    wrong = call(
        sandbox,
        "/wp-json/wc/v3/products/22/variations/batch",
        {"update": [{"id": 799, "stock_quantity": 4}]},
    )
    err = json.loads(wrong.body)["update"][0]["error"]
    assert err["code"] == "woocommerce_rest_product_variation_invalid_id"


def test_stock_quantity_is_ignored_unless_stock_is_managed() -> None:
    sandbox = WooCommerceSandbox("ck", "cs")
    sandbox.add_product(5, "Poster", "P")  # manage_stock off
    call(sandbox, "/wp-json/wc/v3/products/batch", {"update": [{"id": 5, "stock_quantity": 9}]})
    assert sandbox.stock_of(5) is None


def test_outage_answers_5xx_then_recovers() -> None:
    sandbox = make()
    sandbox.fail_next(2, 503)
    body = {"update": [{"id": 799, "manage_stock": True, "stock_quantity": 3}]}
    statuses = [call(sandbox, "/wp-json/wc/v3/products/batch", body).status for _ in range(3)]
    assert statuses == [503, 503, 200]


# --- the `/__sandbox/` control surface and the webhooks it sends ---


@pytest.fixture
def receiver(gateway_stand_in: tuple[str, list[Request]]) -> tuple[str, list[Request]]:
    base, received = gateway_stand_in
    return base + "/webhooks/woocommerce", received


def shop(webhook_url: str) -> WooCommerceSandbox:
    sandbox = WooCommerceSandbox()
    sandbox.keel_secret("http://127.0.0.1:8765")
    sandbox.notify_to(webhook_url)
    return sandbox


def auth(sandbox: WooCommerceSandbox) -> dict[str, str]:
    token = base64.b64encode(f"{sandbox.consumer_key}:{sandbox.consumer_secret}".encode())
    return {"Authorization": "Basic " + token.decode()}


def lower(request: Request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


def listing(sandbox: WooCommerceSandbox, listing_id: str) -> dict[str, Any]:
    return next(row for row in sandbox.shown() if row["listing_id"] == listing_id)


def test_a_default_sandbox_is_a_channel_sandbox_with_its_own_credentials() -> None:
    sandbox: ChannelSandbox = WooCommerceSandbox()
    secret = WooSecret.model_validate(sandbox.keel_secret("http://127.0.0.1:8765/"))
    assert secret.consumer_key.startswith("ck_") and secret.consumer_secret.startswith("cs_")
    assert secret.base_url == "http://127.0.0.1:8765"
    assert sandbox.local_only_secrets() == {
        "woocommerce_consumer_key": secret.consumer_key,
        "woocommerce_consumer_secret": secret.consumer_secret,
        "woocommerce_webhook_secret": secret.webhook_secret,
    }
    assert WooCommerceSandbox().webhook_secret != secret.webhook_secret


def test_placing_an_order_lowers_stock_and_sends_a_signed_order_created(
    receiver: tuple[str, list[Request]],
) -> None:
    url, received = receiver
    sandbox = shop(url)
    mug = sandbox.add_listing("MUG", "Mug", Decimal("12.50"), 5)
    tee = sandbox.add_listing("TEE-M", "Tee M", Decimal("20"), 3, variant=True)
    assert tee["item_id"] == tee["variation_id"] and mug["item_id"] == mug["product_id"]
    body = sandbox.order_body(
        [
            SandboxLine(mug, "MUG", "Mug", 2, Decimal("12.50")),
            SandboxLine(tee, "TEE-M", "Tee M", 1, Decimal("20")),
        ]
    )
    response = call(sandbox, "/__sandbox/orders", body, headers={})
    assert response.status == 200
    order_id = json.loads(response.body)["id"]
    assert isinstance(order_id, str)
    assert listing(sandbox, mug["item_id"])["quantity"] == 3
    assert listing(sandbox, tee["item_id"])["quantity"] == 2

    [delivery] = received
    headers = lower(delivery)
    assert verify_headers(sandbox.webhook_secret, delivery.body, headers)
    assert not verify_headers("another secret", delivery.body, headers)
    assert headers["x-wc-webhook-topic"] == "order.created"
    assert (headers["x-wc-webhook-resource"], headers["x-wc-webhook-event"]) == ("order", "created")
    assert headers["x-wc-webhook-source"] == "http://127.0.0.1:8765/"
    assert re.fullmatch(r"[0-9a-f]{32}", headers["x-wc-webhook-delivery-id"])
    assert not is_ping(headers, delivery.body)
    order = WooOrdersInbound().parse_webhook(headers, delivery.body, "shop.example")
    assert isinstance(order, Order) and order.external_id == order_id
    assert [(ln.channel_variant_id, ln.channel_sku, ln.quantity) for ln in order.lines] == [
        (mug["item_id"], "MUG", 2),
        (tee["item_id"], "TEE-M", 1),
    ]
    assert order.lines[0].unit_price.amount == Decimal("12.50")
    assert order.total.amount == Decimal("45.00") and order.total.currency == "EUR"

    kept = call(sandbox, f"/wp-json/wc/v3/orders/{order_id}", None, auth(sandbox), "GET")
    assert kept.status == 200 and json.loads(kept.body) == json.loads(delivery.body)
    assert call(sandbox, f"/wp-json/wc/v3/orders/{order_id}", None, {}, "GET").status == 401
    missing = call(sandbox, "/wp-json/wc/v3/orders/999999", None, auth(sandbox), "GET")
    assert json.loads(missing.body)["code"] == "woocommerce_rest_shop_order_invalid_id"


def test_bodies_are_encoded_like_wc_webhook_deliver(
    specs: Path, receiver: tuple[str, list[Request]]
) -> None:
    raw = (specs / "woocommerce/webhooks/order_created.body.json").read_bytes()
    assert wc_json(json.loads(raw)) == raw.strip()
    url, received = receiver
    sandbox = shop(url)
    refs = sandbox.add_listing("HALF", "Mug 1/2 café", Decimal("3"), 4)
    call(
        sandbox,
        "/__sandbox/orders",
        sandbox.order_body([SandboxLine(refs, "HALF", "", 1, Decimal("3"))]),
    )
    call(
        sandbox,
        "/__sandbox/orders",
        sandbox.order_body([SandboxLine(refs, "HALF", "", 1, Decimal("3"))]),
    )
    first, second = received
    assert b'"name":"Mug 1\\/2 caf\\u00e9"' in first.body
    assert first.body == wc_json(json.loads(first.body))  # compact, escaped, byte for byte
    ids = {lower(r)["x-wc-webhook-delivery-id"] for r in received}
    assert len(ids) == 2  # fresh every delivery
    assert lower(first)["x-wc-webhook-id"] == lower(second)["x-wc-webhook-id"]


def test_sandbox_orders_have_the_spec_shape(specs: Path) -> None:
    """Only fields the real order has, with the same JSON types."""
    real = json.loads(
        (specs / "woocommerce/rest-v3-examples/orders__retrieve_an_order.json").read_text()
    )
    sandbox = WooCommerceSandbox()
    refs = sandbox.add_listing("MUG", "Mug", Decimal("12.50"), 5)
    order_id = sandbox.place_order(
        sandbox.order_body([SandboxLine(refs, "MUG", "Mug", 2, Decimal("12.50"))])
    )
    order = sandbox.order(order_id)

    def shape(doc: dict[str, Any]) -> dict[str, str]:
        """JSON types: a PHP float that happens to be whole is written as an integer."""
        kind = {"int": "number", "float": "number"}
        return {
            k: kind.get(type(v).__name__, type(v).__name__) for k, v in doc.items() if v is not None
        }

    assert set(order) <= set(real)
    assert {k: t for k, t in shape(order).items() if k in shape(real)} == {
        k: t for k, t in shape(real).items() if k in shape(order)
    }
    line, real_line = order["line_items"][0], real["line_items"][0]
    assert set(line) <= set(real_line)
    assert shape(line) == {k: t for k, t in shape(real_line).items() if k in line}
    assert line["price"] == 12.5 and line["subtotal"] == "25.00"


def test_a_full_order_keeps_its_ids_and_refuses_what_woo_refuses(specs: Path) -> None:
    real = json.loads(
        (specs / "woocommerce/rest-v3-examples/orders__retrieve_an_order.json").read_text()
    )
    sandbox = WooCommerceSandbox("ck", "cs")
    sandbox.add_product(93, "Woo Single #1", "", stock=10)
    sandbox.add_variation(22, 23, "Ship Your Idea", "Bar3", stock=4)
    response = call(sandbox, "/__sandbox/orders", real)
    assert json.loads(response.body) == {"id": "727"}
    assert (sandbox.stock_of(93), sandbox.stock_of(23)) == (8, 3)
    assert sandbox.order(727)["total"] == "29.35"
    assert [d.topic for d in sandbox.deliveries] == ["order.created"]
    assert sandbox.deliveries[0].error is not None  # nowhere to send: recorded, not raised

    again = call(sandbox, "/__sandbox/orders", real)
    assert again.status == 400
    unknown = {"line_items": [{"product_id": 4242, "quantity": 1}]}
    assert json.loads(call(sandbox, "/__sandbox/orders", unknown).body)["code"] == (
        "woocommerce_rest_invalid_product_id"
    )
    for bad in ("2", True, 0):
        body = {"line_items": [{"product_id": 93, "quantity": bad, "subtotal": "3.00"}]}
        assert call(sandbox, "/__sandbox/orders", body).status == 400
    assert sandbox.stock_of(93) == 8 and len(sandbox.deliveries) == 1


def test_an_unpaid_order_is_pending_and_leaves_stock_alone() -> None:
    sandbox = WooCommerceSandbox()
    refs = sandbox.add_listing("MUG", "Mug", Decimal("1"), 5)
    body = sandbox.order_body([SandboxLine(refs, "MUG", "Mug", 2, Decimal("1"))])
    order_id = sandbox.place_order({**body, "set_paid": False})
    assert sandbox.order(order_id)["status"] == "pending"
    assert sandbox.order(order_id)["date_paid_gmt"] is None
    assert listing(sandbox, refs["item_id"])["quantity"] == 5


def test_cancelling_restores_stock_and_sends_a_signed_order_updated(
    receiver: tuple[str, list[Request]],
) -> None:
    url, received = receiver
    sandbox = shop(url)
    tee = sandbox.add_listing("TEE-M", "Tee M", Decimal("20"), 3, variant=True)
    order_id = sandbox.place_order(
        sandbox.order_body([SandboxLine(tee, "TEE-M", "Tee M", 2, Decimal("20"))])
    )
    assert listing(sandbox, tee["item_id"])["quantity"] == 1
    response = call(sandbox, f"/__sandbox/orders/{order_id}/cancel", None)
    assert response.status == 200 and json.loads(response.body)["id"] == str(order_id)
    assert listing(sandbox, tee["item_id"])["quantity"] == 3

    created, updated = received
    headers = lower(updated)
    assert headers["x-wc-webhook-topic"] == "order.updated"
    assert headers["x-wc-webhook-id"] != lower(created)["x-wc-webhook-id"]
    assert verify_headers(sandbox.webhook_secret, updated.body, headers)
    payload = json.loads(updated.body)
    assert payload["status"] == "cancelled" and payload["id"] == order_id
    assert payload["date_modified_gmt"] >= json.loads(created.body)["date_modified_gmt"]
    cancelled = WooOrdersInbound().parse_webhook(headers, updated.body, "shop.example")
    assert isinstance(cancelled, Order) and cancelled.cancelled_at is not None

    call(sandbox, f"/__sandbox/orders/{order_id}/cancel", None)  # no change: nothing sent
    assert len(received) == 2 and listing(sandbox, tee["item_id"])["quantity"] == 3
    assert call(sandbox, "/__sandbox/orders/999999/cancel", None).status == 404


def test_listings_show_every_sellable_item() -> None:
    sandbox = WooCommerceSandbox("ck", "cs")
    mug = sandbox.add_listing("MUG", "Mug", Decimal("12.50"), 5)
    tee = sandbox.add_listing("TEE-M", "Tee M", Decimal("20.00"), None, variant=True)
    sandbox.add_product(5, "Poster", "POSTER")  # seeded without a price or managed stock
    response = call(sandbox, "/__sandbox/listings", None, {}, "GET")
    assert response.status == 200
    store = {"account": sandbox.base_url, "marketplace": "", "compare_at": None, "gtin": None}
    assert json.loads(response.body) == [
        {"listing_id": "5", "sku": "POSTER", "quantity": None, "price": None, **store},
        {"listing_id": mug["item_id"], "sku": "MUG", "quantity": 5, "price": "12.50", **store},
        {"listing_id": tee["item_id"], "sku": "TEE-M", "quantity": None, "price": "20.00", **store},
    ]
    assert tee["product_id"] not in {row["listing_id"] for row in sandbox.shown()}


def test_outage_through_the_control_surface_hits_the_api_only() -> None:
    sandbox = make()
    response = call(sandbox, "/__sandbox/outage", {"requests": 1, "status": 429}, headers={})
    assert response.status == 200
    body = {"update": [{"id": 799, "manage_stock": True, "stock_quantity": 3}]}
    assert call(sandbox, "/__sandbox/listings", None, {}, "GET").status == 200
    failed = call(sandbox, "/wp-json/wc/v3/products/batch", body)
    assert failed.status == 429 and failed.headers["Retry-After"] == "1"
    assert call(sandbox, "/wp-json/wc/v3/products/batch", body).status == 200


def test_the_activation_ping_is_unsigned_and_recognised(
    receiver: tuple[str, list[Request]],
) -> None:
    url, received = receiver
    sandbox = shop(url)
    delivery = sandbox.ping()
    assert delivery.status == 200 and delivery.error is None
    [request] = received
    assert request.body == b"webhook_id=1"
    assert is_ping(lower(request), request.body)


def test_orders_placed_at_once_each_take_their_stock() -> None:
    """The sandbox's server is threaded: concurrent orders must not lose a stock change."""
    sandbox = WooCommerceSandbox()
    refs = sandbox.add_listing("MUG", "Mug", Decimal("1"), 50)
    body = sandbox.order_body([SandboxLine(refs, "MUG", "Mug", 1, Decimal("1"))])
    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(lambda _: sandbox.place_order(body), range(20)))
    assert len(set(ids)) == 20
    assert listing(sandbox, refs["item_id"])["quantity"] == 30
    assert len(sandbox.deliveries) == 20
