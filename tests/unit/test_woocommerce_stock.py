"""The WooCommerce adapter against recorded-shape responses (respx), no server."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from shared.channels.errors import AuthError, PermanentError, RetryableError
from shared.channels.port import StockUpdate
from shared.channels.woocommerce.secret import WooSecret
from shared.channels.woocommerce.stock import WooStockPublisher
from shared.domain.listings import Listing

BASE = "https://shop.example.com"
CREDS = WooSecret(
    base_url=BASE,
    consumer_key="ck_1",
    consumer_secret="cs_1",
    webhook_secret="wh_1",
    currency="EUR",
)
EXTRA = {"webhook_secret": "w", "currency": "EUR"}


def simple(sku: str, pid: int, qty: int) -> StockUpdate:
    return StockUpdate(Listing(sku, "woocommerce", {"product_id": str(pid)}), qty)


def variation(sku: str, pid: int, vid: int, qty: int) -> StockUpdate:
    refs = {"product_id": str(pid), "variation_id": str(vid)}
    return StockUpdate(Listing(sku, "woocommerce", refs), qty)


def echo_update(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    return httpx.Response(
        200, json={"update": [{**i, "stock_status": "instock"} for i in body["update"]]}
    )


@respx.mock
def test_simple_and_variations_go_to_their_batch_endpoints_with_basic_auth() -> None:
    products = respx.post(f"{BASE}/wp-json/wc/v3/products/batch").mock(side_effect=echo_update)
    variations = respx.post(f"{BASE}/wp-json/wc/v3/products/22/variations/batch").mock(
        side_effect=echo_update
    )
    results = WooStockPublisher(CREDS).set_stock([simple("A", 799, 7), variation("B", 22, 733, 0)])
    assert [r.error for r in results] == [None, None]
    sent = json.loads(products.calls.last.request.content)
    assert sent == {"update": [{"id": 799, "manage_stock": True, "stock_quantity": 7}]}
    assert json.loads(variations.calls.last.request.content)["update"][0]["id"] == 733
    auth = products.calls.last.request.headers["authorization"]
    assert auth == httpx.BasicAuth("ck_1", "cs_1")._auth_header


@respx.mock
def test_more_than_100_items_are_split_into_requests_of_at_most_100() -> None:
    route = respx.post(f"{BASE}/wp-json/wc/v3/products/batch").mock(side_effect=echo_update)
    results = WooStockPublisher(CREDS).set_stock([simple(f"S{n}", n + 1, n) for n in range(250)])
    sizes = [len(json.loads(c.request.content)["update"]) for c in route.calls]
    assert sizes == [100, 100, 50]
    assert all(r.error is None for r in results)


@respx.mock
def test_per_item_errors_inside_a_200_fail_only_that_item() -> None:
    respx.post(f"{BASE}/wp-json/wc/v3/products/batch").mock(
        return_value=httpx.Response(
            200,
            json={
                "update": [
                    {"id": 1, "stock_quantity": 3},
                    {
                        "id": 2,
                        "error": {
                            "code": "woocommerce_rest_product_invalid_id",
                            "message": "Invalid ID.",
                            "data": {"status": 400},
                        },
                    },
                ]
            },
        )
    )
    ok, bad = WooStockPublisher(CREDS).set_stock([simple("A", 1, 3), simple("B", 2, 4)])
    assert ok.error is None
    assert isinstance(bad.error, PermanentError)
    assert "invalid_id" in str(bad.error)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (429, RetryableError),
        (503, RetryableError),
        (500, RetryableError),
        (401, AuthError),  # credentials wrong or being rotated: re-read, retry, then DLQ
        (400, PermanentError),
    ],
)
@respx.mock
def test_whole_request_failures_are_classified(status: int, expected: type) -> None:
    respx.post(f"{BASE}/wp-json/wc/v3/products/batch").mock(
        return_value=httpx.Response(
            status, json={"code": "x", "message": "y"}, headers={"Retry-After": "7"}
        )
    )
    (result,) = WooStockPublisher(CREDS).set_stock([simple("A", 1, 3)])
    assert type(result.error) is expected
    if status == 429:
        assert isinstance(result.error, RetryableError) and result.error.retry_after_s == 7


@respx.mock
def test_timeouts_are_retryable() -> None:
    respx.post(f"{BASE}/wp-json/wc/v3/products/batch").mock(side_effect=httpx.ReadTimeout("slow"))
    (result,) = WooStockPublisher(CREDS).set_stock([simple("A", 1, 3)])
    assert isinstance(result.error, RetryableError)


def test_basic_auth_needs_https_except_on_loopback() -> None:
    with pytest.raises(ValueError, match="https"):
        WooSecret(
            base_url="http://shop.example.com", consumer_key="k", consumer_secret="s", **EXTRA
        )
    assert WooSecret(
        base_url="http://127.0.0.1:8080/", consumer_key="k", consumer_secret="s", **EXTRA
    )


@respx.mock
def test_a_listing_without_usable_ids_fails_alone() -> None:
    route = respx.post(f"{BASE}/wp-json/wc/v3/products/batch").mock(side_effect=echo_update)
    broken = StockUpdate(Listing("X", "woocommerce", {"variation_id": "7"}), 1)
    good, bad = WooStockPublisher(CREDS).set_stock([simple("A", 1, 3), broken])
    assert good.error is None and route.call_count == 1
    assert isinstance(bad.error, PermanentError)


def test_credential_errors_do_not_echo_the_secret() -> None:
    with pytest.raises(ValueError) as refused:
        WooSecret.model_validate(
            {
                "base_url": "https://x.example",
                "consumer_key": "ck",
                "consumer_secrt": "cs_TOPSECRET",
            }
        )
    assert "cs_TOPSECRET" not in str(refused.value)
