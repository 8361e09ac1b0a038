"""The sandbox refuses what the real WooCommerce API refuses (spec: rest-v3-examples)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from local_stack.http import Request, Response
from local_stack.sandboxes.woocommerce import WooCommerceSandbox

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
