"""The Shopify sandbox: its control surface, its webhooks, and an Admin GraphQL API that refuses
what the real 2026-10 API refuses."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from local_stack.http import Request, Response
from local_stack.sandboxes.base import ChannelSandbox, SandboxLine
from local_stack.sandboxes.shopify import ShopifySandbox
from shared.channels.shopify.graphql import INVENTORY_LEVELS_QUERY, SET_QUANTITIES_MUTATION
from shared.channels.shopify.orders import ShopifyOrdersInbound
from shared.channels.shopify.secret import ShopifySecret
from shared.channels.shopify.signature import verify
from shared.domain.orders import Order

GRAPHQL = "/admin/api/2026-10/graphql.json"


def call(
    sandbox: ShopifySandbox,
    path: str,
    body: Any = None,
    method: str = "POST",
    headers: dict[str, str] | None = None,
) -> Response:
    raw = json.dumps(body).encode() if body is not None else b""
    return sandbox(Request(method, path, {}, headers or {}, raw))


def graphql(
    sandbox: ShopifySandbox, query: str, variables: dict[str, Any], token: str | None = None
) -> tuple[int, dict[str, Any]]:
    answer = call(
        sandbox,
        GRAPHQL,
        {"query": query, "variables": variables},
        headers={"X-Shopify-Access-Token": token or sandbox.access_token},
    )
    return answer.status, json.loads(answer.body)


def row(refs: dict[str, str], quantity: int, change_from: int | None) -> dict[str, Any]:
    return {
        "inventoryItemId": f"gid://shopify/InventoryItem/{refs['inventory_item_id']}",
        "locationId": f"gid://shopify/Location/{refs['location_id']}",
        "quantity": quantity,
        "changeFromQuantity": change_from,
    }


def set_input(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"name": "available", "reason": "correction", "quantities": list(rows)}


@pytest.fixture
def receiver(gateway_stand_in: tuple[str, list[Request]]) -> tuple[str, list[Request]]:
    base, received = gateway_stand_in
    return base + "/webhooks/shopify", received


@pytest.fixture
def sandbox(specs: Path) -> ShopifySandbox:
    return ShopifySandbox()


def lower(request: Request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


def quantity_of(sandbox: ShopifySandbox, refs: dict[str, str]) -> Any:
    return next(r["quantity"] for r in sandbox.shown() if r["listing_id"] == refs["variant_id"])


# --- ChannelSandbox and control surface ---
def test_a_default_sandbox_is_a_channel_sandbox_with_its_own_credentials() -> None:
    sandbox: ChannelSandbox = ShopifySandbox()
    secret = ShopifySecret.model_validate(sandbox.keel_secret("http://127.0.0.1:8765/"))
    assert secret.access_token.startswith("shpat_")
    assert secret.admin_base_url == "http://127.0.0.1:8765"
    assert sandbox.local_only_secrets() == {
        "shopify_webhook_secret": secret.webhook_secret,
        "shopify_access_token": secret.access_token,
    }
    other = ShopifySandbox().keel_secret("http://127.0.0.1:1")
    assert (other["webhook_secret"], other["access_token"]) != (
        secret.webhook_secret,
        secret.access_token,
    )
    assert ShopifySandbox("given").keel_secret("http://127.0.0.1:1")["webhook_secret"] == "given"


def test_placing_an_order_lowers_stock_and_sends_a_signed_orders_create(
    sandbox: ShopifySandbox, receiver: tuple[str, list[Request]]
) -> None:
    url, received = receiver
    sandbox.notify_to(url)
    mug = sandbox.add_listing("MUG", "Mug", Decimal("12.50"), 5)
    tee = sandbox.add_listing("TEE-M", "Tee M", Decimal("20"), 3, variant=True)
    body = sandbox.order_body(
        [
            SandboxLine(mug, "MUG", "Mug", 2, Decimal("12.50")),
            SandboxLine(tee, "TEE-M", "Tee M", 1, Decimal("20")),
        ]
    )
    answer = call(sandbox, "/__sandbox/orders", body)
    assert answer.status == 200
    order_id = json.loads(answer.body)["id"]
    assert order_id == str(body["id"])
    assert (quantity_of(sandbox, mug), quantity_of(sandbox, tee)) == (3, 2)

    [delivery] = received
    headers = lower(delivery)
    assert verify(sandbox.webhook_secret, delivery.body, headers["x-shopify-hmac-sha256"])
    assert not verify("another secret", delivery.body, headers["x-shopify-hmac-sha256"])
    assert headers["x-shopify-topic"] == "orders/create"
    assert headers["x-shopify-shop-domain"] == sandbox.shop_domain
    assert headers["x-shopify-api-version"] == "2026-10"
    order = ShopifyOrdersInbound().parse_webhook(headers, delivery.body, "keel-demo.myshopify.com")
    assert isinstance(order, Order) and order.external_id == order_id
    assert [(ln.channel_variant_id, ln.quantity) for ln in order.lines] == [
        (mug["variant_id"], 2),
        (tee["variant_id"], 1),
    ]


def test_an_order_without_an_id_gets_one(sandbox: ShopifySandbox) -> None:
    mug = sandbox.add_listing("MUG", "Mug", Decimal("1"), 5)
    body = sandbox.order_body([SandboxLine(mug, "MUG", "Mug", 1, Decimal("1"))])
    del body["id"]
    answer = call(sandbox, "/__sandbox/orders", body)
    order_id = json.loads(answer.body)["id"]
    assert answer.status == 200 and order_id.isdigit()
    assert sandbox.order(order_id)["admin_graphql_api_id"] == f"gid://shopify/Order/{order_id}"
    assert sandbox.deliveries[-1].error is not None  # no webhook url: recorded, not raised


@pytest.mark.parametrize("broken", ["updated_at", "line_items.quantity"])
def test_a_malformed_order_is_refused_with_the_reason_and_never_stored(
    sandbox: ShopifySandbox, broken: str
) -> None:
    """#21: an order without `updated_at` was stored, and every later `orders` read (the
    poll) failed with a leaked KeyError until the sandbox restarted."""
    mug = sandbox.add_listing("MUG", "Mug", Decimal("1"), 5)
    body = sandbox.order_body([SandboxLine(mug, "MUG", "Mug", 1, Decimal("1"))])
    if broken == "updated_at":
        del body["updated_at"]
    else:
        del body["line_items"][0]["quantity"]
    answer = call(sandbox, "/__sandbox/orders", body)
    assert answer.status == 400
    assert broken.split(".", maxsplit=1)[0] in json.loads(answer.body)["errors"]
    assert sandbox.deliveries == [] and quantity_of(sandbox, mug) == 5
    query = "{ orders(first: 5) { nodes { id updatedAt } } }"
    status, found = graphql(sandbox, query, {})
    assert status == 200 and found["data"]["orders"]["nodes"] == []


def test_cancelling_sends_orders_cancelled_and_restocks_only_when_asked(
    sandbox: ShopifySandbox, receiver: tuple[str, list[Request]]
) -> None:
    url, received = receiver
    sandbox.notify_to(url)
    mug = sandbox.add_listing("MUG", "Mug", Decimal("1"), 5)
    line = [SandboxLine(mug, "MUG", "Mug", 2, Decimal("1"))]
    first = json.loads(call(sandbox, "/__sandbox/orders", sandbox.order_body(line)).body)["id"]
    second = json.loads(call(sandbox, "/__sandbox/orders", sandbox.order_body(line)).body)["id"]
    assert quantity_of(sandbox, mug) == 1

    answer = call(sandbox, f"/__sandbox/orders/{first}/cancel")
    assert answer.status == 200 and json.loads(answer.body) == {"id": first}
    assert quantity_of(sandbox, mug) == 1  # Shopify restocks only if asked
    call(sandbox, f"/__sandbox/orders/{second}/cancel", {"restock": True})
    assert quantity_of(sandbox, mug) == 3

    cancelled = received[2]
    headers = lower(cancelled)
    assert headers["x-shopify-topic"] == "orders/cancelled"
    assert verify(sandbox.webhook_secret, cancelled.body, headers["x-shopify-hmac-sha256"])
    payload = json.loads(cancelled.body)
    assert str(payload["id"]) == first and payload["cancelled_at"]
    assert call(sandbox, f"/__sandbox/orders/{first}/cancel").status == 422
    assert call(sandbox, "/__sandbox/orders/404/cancel").status == 404


def test_an_unreachable_webhook_url_is_recorded_not_raised(sandbox: ShopifySandbox) -> None:
    sandbox.notify_to("http://127.0.0.1:9/webhooks/shopify")
    mug = sandbox.add_listing("MUG", "Mug", Decimal("1"), 5)
    body = sandbox.order_body([SandboxLine(mug, "MUG", "Mug", 1, Decimal("1"))])
    assert call(sandbox, "/__sandbox/orders", body).status == 200
    [delivery] = sandbox.deliveries
    assert delivery.topic == "orders/create" and delivery.error and delivery.status is None
    assert quantity_of(sandbox, mug) == 4


def test_listings_show_every_variant(sandbox: ShopifySandbox) -> None:
    mug = sandbox.add_listing("MUG", "Mug", Decimal("12.5"), 5)
    gift = sandbox.add_listing("GIFT", "Gift card", Decimal("25"), None)
    answer = call(sandbox, "/__sandbox/listings", method="GET")
    assert answer.status == 200
    shop = {"account": sandbox.shop_domain, "marketplace": "", "compare_at": None, "gtin": None}
    assert json.loads(answer.body) == [
        {"listing_id": mug["variant_id"], "sku": "MUG", "quantity": 5, "price": "12.50", **shop},
        {
            "listing_id": gift["variant_id"],
            "sku": "GIFT",
            "quantity": None,
            "price": "25.00",
            **shop,
        },
    ]
    assert set(mug) == {"variant_id", "inventory_item_id", "location_id", "sku"}
    assert all(v.isdigit() for k, v in mug.items() if k != "sku")


def test_outage_through_the_control_surface_hits_the_api_only(sandbox: ShopifySandbox) -> None:
    mug = sandbox.add_listing("MUG", "Mug", Decimal("1"), 5)
    assert call(sandbox, "/__sandbox/outage", {"requests": 2, "status": 503}).status == 200
    assert call(sandbox, "/__sandbox/listings", method="GET").status == 200
    ids = {"ids": [f"gid://shopify/InventoryItem/{mug['inventory_item_id']}"]}
    variables = {**ids, "locationId": f"gid://shopify/Location/{mug['location_id']}"}
    assert [graphql(sandbox, INVENTORY_LEVELS_QUERY, variables)[0] for _ in range(3)] == [
        503,
        503,
        200,
    ]


# --- Admin GraphQL ---
def test_the_level_query_answers_available_and_null_for_unknown_items(
    sandbox: ShopifySandbox,
) -> None:
    mug = sandbox.add_listing("MUG", "Mug", Decimal("1"), 5)
    item = f"gid://shopify/InventoryItem/{mug['inventory_item_id']}"
    variables = {
        "ids": [item, "gid://shopify/InventoryItem/999"],
        "locationId": f"gid://shopify/Location/{mug['location_id']}",
    }
    status, body = graphql(sandbox, INVENTORY_LEVELS_QUERY, variables)
    assert status == 200 and "errors" not in body
    assert body["data"]["nodes"] == [
        {
            "id": item,
            "inventoryLevel": {"quantities": [{"name": "available", "quantity": 5}]},
        },
        None,
    ]
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == cost["actualQueryCost"] == 3
    assert set(cost["throttleStatus"]) == {"maximumAvailable", "currentlyAvailable", "restoreRate"}


def test_a_wrong_token_is_401_like_shopify(sandbox: ShopifySandbox) -> None:
    status, body = graphql(sandbox, INVENTORY_LEVELS_QUERY, {}, token="shpat_nope")
    assert status == 401
    assert body == {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }


def test_documents_are_validated_against_the_real_schema(sandbox: ShopifySandbox) -> None:
    status, body = graphql(sandbox, "{ shop { inventoryLevelz } }", {})
    assert status == 200 and "data" not in body
    assert "inventoryLevelz" in body["errors"][0]["message"]
    assert "cost" in body["extensions"]


def test_compare_and_set_is_all_or_nothing(sandbox: ShopifySandbox) -> None:
    mug = sandbox.add_listing("MUG", "Mug", Decimal("1"), 5)
    tee = sandbox.add_listing("TEE", "Tee", Decimal("1"), 2)
    variables = {"key": "k1", "input": set_input(row(mug, 9, 5), row(tee, 9, 1))}
    _, body = graphql(sandbox, SET_QUANTITIES_MUTATION, variables)
    payload = body["data"]["inventorySetQuantities"]
    assert payload["inventoryAdjustmentGroup"] is None
    assert payload["userErrors"] == [
        {
            "field": ["input", "quantities", "1", "changeFromQuantity"],
            "message": "The specified compare quantity does not match the current quantity.",
            "code": "CHANGE_FROM_QUANTITY_STALE",
        }
    ]
    assert (sandbox.level(mug["inventory_item_id"]), sandbox.level(tee["inventory_item_id"])) == (
        5,
        2,
    )


def test_a_missing_change_from_quantity_is_refused_but_null_skips_the_check(
    sandbox: ShopifySandbox,
) -> None:
    mug = sandbox.add_listing("MUG", "Mug", Decimal("1"), 5)
    absent = row(mug, 1, None)
    del absent["changeFromQuantity"]
    _, body = graphql(sandbox, SET_QUANTITIES_MUTATION, {"key": "a", "input": set_input(absent)})
    [error] = body["data"]["inventorySetQuantities"]["userErrors"]
    assert error["field"] == ["input", "quantities", "0", "changeFromQuantity"]
    assert sandbox.level(mug["inventory_item_id"]) == 5
    _, body = graphql(
        sandbox, SET_QUANTITIES_MUTATION, {"key": "b", "input": set_input(row(mug, 1, None))}
    )
    assert body["data"]["inventorySetQuantities"]["userErrors"] == []
    assert sandbox.level(mug["inventory_item_id"]) == 1


def test_the_idempotency_directive_is_required(sandbox: ShopifySandbox) -> None:
    mug = sandbox.add_listing("MUG", "Mug", Decimal("1"), 5)
    without = SET_QUANTITIES_MUTATION.replace(" @idempotent(key: $key)", "").replace(
        ", $key: String!", ""
    )
    _, body = graphql(sandbox, without, {"input": set_input(row(mug, 1, 5))})
    assert "@idempotent" in body["errors"][0]["message"]
    assert body["data"]["inventorySetQuantities"] is None
    assert sandbox.level(mug["inventory_item_id"]) == 5


def test_a_replayed_idempotency_key_does_not_apply_twice(sandbox: ShopifySandbox) -> None:
    mug = sandbox.add_listing("MUG", "Mug", Decimal("1"), 5)
    variables = {"key": "same", "input": set_input(row(mug, 7, 5))}
    _, first = graphql(sandbox, SET_QUANTITIES_MUTATION, variables)
    group = first["data"]["inventorySetQuantities"]["inventoryAdjustmentGroup"]
    assert group["changes"] == [
        {
            "name": "available",
            "delta": 2,
            "quantityAfterChange": 7,
            "item": {"id": f"gid://shopify/InventoryItem/{mug['inventory_item_id']}"},
            "location": {"id": f"gid://shopify/Location/{mug['location_id']}"},
        }
    ]
    sandbox.set_level(mug["inventory_item_id"], 4)  # a sale after Keel's call

    _, replay = graphql(sandbox, SET_QUANTITIES_MUTATION, variables)
    assert replay["data"] == first["data"]  # the first answer, word for word
    assert sandbox.level(mug["inventory_item_id"]) == 4  # and the sale is not overwritten

    _, fresh = graphql(sandbox, SET_QUANTITIES_MUTATION, {**variables, "key": "new"})
    [stale] = fresh["data"]["inventorySetQuantities"]["userErrors"]
    assert stale["code"] == "CHANGE_FROM_QUANTITY_STALE"  # a new key is a new request

    other = {"key": "same", "input": set_input(row(mug, 8, 4))}
    _, mismatch = graphql(sandbox, SET_QUANTITIES_MUTATION, other)
    [error] = mismatch["data"]["inventorySetQuantities"]["userErrors"]
    assert error["code"] == "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"
    assert sandbox.level(mug["inventory_item_id"]) == 4


def test_an_exhausted_bucket_answers_throttled_with_http_200(sandbox: ShopifySandbox) -> None:
    mug = sandbox.add_listing("MUG", "Mug", Decimal("1"), 5)
    sandbox.set_throttle(capacity=20, restore_rate=0.001)
    variables = {"key": "t1", "input": set_input(row(mug, 4, 5))}
    status, body = graphql(sandbox, SET_QUANTITIES_MUTATION, variables)
    assert status == 200 and body["extensions"]["cost"]["requestedQueryCost"] == 11
    status, body = graphql(sandbox, SET_QUANTITIES_MUTATION, {**variables, "key": "t2"})
    assert status == 200 and "data" not in body
    assert body["errors"] == [
        {
            "message": "Throttled",
            "extensions": {
                "code": "THROTTLED",
                "documentation": "https://shopify.dev/api/usage/rate-limits",
            },
        }
    ]
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 11 and cost["actualQueryCost"] is None
    assert cost["throttleStatus"]["maximumAvailable"] == 20
    assert cost["throttleStatus"]["currentlyAvailable"] < 11
    assert sandbox.level(mug["inventory_item_id"]) == 4
