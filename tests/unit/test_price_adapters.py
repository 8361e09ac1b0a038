"""Each channel's price adapter against its sandbox, in process: the shapes the real APIs take
(Shopify's bulk variant update, WooCommerce's string prices, bol's bundle price with a process
status, Amazon's purchasable_offer read-modify-write), and what each sandbox then shows."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from local_stack.http import Request
from local_stack.sandboxes.amazon import AmazonSandbox
from local_stack.sandboxes.bol import BolSandbox
from local_stack.sandboxes.shopify import ShopifySandbox
from local_stack.sandboxes.woocommerce import WooCommerceSandbox
from shared.channels.amazon.prices import AmazonPrices, offers_with_price
from shared.channels.bol.prices import BolPrices
from shared.channels.errors import PermanentError
from shared.channels.port import (
    ConfirmsPrices,
    PendingState,
    PriceUpdate,
    SetsPrices,
)
from shared.channels.registry import BY_NAME
from shared.channels.spec import load
from shared.domain.listings import Listing
from tests.unit.amazon_support import connect

BASE = "http://127.0.0.1:9"
D = Decimal


def client(sandbox: Any) -> httpx.Client:
    def handle(request: httpx.Request) -> httpx.Response:
        answer = sandbox(
            Request(
                request.method,
                request.url.path,
                parse_qs(request.url.query.decode()),
                dict(request.headers),
                request.content,
            )
        )
        return httpx.Response(answer.status, content=answer.body, headers=answer.headers)

    return httpx.Client(transport=httpx.MockTransport(handle))


def adapter(channel: str, sandbox: Any) -> SetsPrices:
    spec = BY_NAME[channel]
    assert spec.outbound_prices is not None
    secret = load(spec.secret_schema).model_validate(sandbox.keel_secret(BASE))
    made: SetsPrices = load(spec.outbound_prices)(secret, client(sandbox))
    return made


def shown(sandbox: Any, sku: str) -> list[dict[str, Any]]:
    return [row for row in sandbox.shown() if row["sku"] == sku]


def test_every_channel_that_publishes_stock_publishes_prices() -> None:
    assert all(c.outbound_prices for c in BY_NAME.values() if c.publishes_stock)


def test_shopify_sets_price_and_compare_at_per_product_and_ends_a_sale(specs: Path) -> None:
    sandbox = ShopifySandbox()
    mug = sandbox.add_listing("MUG", "Mug", D("12.50"), 5)
    tee = sandbox.add_listing("TEE", "Tee", D("20.00"), 5)
    prices = adapter("shopify", sandbox)
    mug_listing = Listing("MUG", "shopify", refs=mug)
    tee_listing = Listing("TEE", "shopify", refs=tee)
    results = prices.set_prices(
        [PriceUpdate(mug_listing, D("14.95"), D("19.95")), PriceUpdate(tee_listing, D("21.00"))]
    )
    assert [r.error for r in results] == [None, None]
    assert (shown(sandbox, "MUG")[0]["price"], shown(sandbox, "MUG")[0]["compare_at"]) == (
        "14.95",
        "19.95",
    )
    assert shown(sandbox, "TEE")[0]["price"] == "21.00"
    (ended,) = prices.set_prices([PriceUpdate(mug_listing, D("19.95"))])
    assert ended.error is None
    assert (shown(sandbox, "MUG")[0]["price"], shown(sandbox, "MUG")[0]["compare_at"]) == (
        "19.95",
        None,
    )
    ghost = Listing("GHOST", "shopify", refs={**mug, "variant_id": "999999"})
    (missing,) = prices.set_prices([PriceUpdate(ghost, D("1.00"))])
    assert isinstance(missing.error, PermanentError)


def test_woocommerce_sends_strings_and_an_empty_sale_price_ends_a_sale() -> None:
    sandbox = WooCommerceSandbox()
    mug = sandbox.add_listing("MUG", "Mug", D("12.50"), 5)
    tee = sandbox.add_listing("TEE-M", "Tee M", D("20.00"), None, variant=True)
    prices = adapter("woocommerce", sandbox)
    mug_listing = Listing("MUG", "woocommerce", refs=mug)
    tee_listing = Listing("TEE-M", "woocommerce", refs=tee)
    results = prices.set_prices(
        [PriceUpdate(mug_listing, D("9.95"), D("12.95")), PriceUpdate(tee_listing, D("22.00"))]
    )
    assert [r.error for r in results] == [None, None]
    row = shown(sandbox, "MUG")[0]
    assert (row["price"], row["compare_at"]) == ("9.95", "12.95")
    assert shown(sandbox, "TEE-M")[0]["price"] == "22.00"
    prices.set_prices([PriceUpdate(mug_listing, D("12.95"))])
    row = shown(sandbox, "MUG")[0]
    assert (row["price"], row["compare_at"]) == ("12.95", None)


def test_the_woocommerce_sandbox_refuses_a_number_where_a_string_belongs() -> None:
    sandbox = WooCommerceSandbox()
    mug = sandbox.add_listing("MUG", "Mug", D("12.50"), 5)
    http = client(sandbox)
    secret = sandbox.keel_secret(BASE)
    answer = http.post(
        f"{BASE}/wp-json/wc/v3/products/batch",
        json={"update": [{"id": int(mug["product_id"]), "regular_price": 9.95}]},
        auth=(secret["consumer_key"], secret["consumer_secret"]),
    )
    assert answer.json()["update"][0]["error"]["code"] == "rest_invalid_param"
    assert shown(sandbox, "MUG")[0]["price"] == "12.50"


def test_bol_price_is_pending_until_its_process_status_reads_success() -> None:
    sandbox = BolSandbox()
    sandbox.process_delay_s = 0.0
    refs = sandbox.add_listing("MUG", "Mug", D("9.99"), 3)
    prices = adapter("bol", sandbox)
    assert isinstance(prices, BolPrices) and isinstance(prices, ConfirmsPrices)
    listing = Listing("MUG", "bol", refs=refs)
    update = PriceUpdate(listing, D("11.49"))
    (result,) = prices.set_prices([update])
    assert result.error is None and result.pending is not None
    (check,) = prices.check_prices([(update, result.pending)])
    assert check.state is PendingState.APPLIED
    assert shown(sandbox, "MUG")[0]["price"] == "11.49"
    (too_high,) = prices.set_prices([PriceUpdate(listing, D("10000.00"))])
    assert isinstance(too_high.error, PermanentError)


def test_the_bol_sandbox_refuses_a_price_outside_the_spec() -> None:
    sandbox = BolSandbox()
    refs = sandbox.add_listing("MUG", "Mug", D("9.99"), 3)
    prices = adapter("bol", sandbox)
    assert isinstance(prices, BolPrices)
    token = prices.client.token()
    raw = sandbox(
        Request(
            "PUT",
            f"/retailer/offers/{refs['offer_id']}/price",
            {},
            {
                "authorization": f"Bearer {token}",
                "content-type": "application/vnd.retailer.v10+json",
                "accept": "application/vnd.retailer.v10+json",
            },
            b'{"pricing": {"bundlePrices": [{"quantity": 1, "unitPrice": 0.5}]}}',
        )
    )
    assert raw.status == 400


def test_amazon_writes_this_marketplaces_consumer_price_and_keeps_the_b2b_one() -> None:
    sandbox = AmazonSandbox(apply_delay_s=0.0)
    nl, de = sandbox.marketplace_id, (sandbox.more_marketplace_ids or ("A1PA6795UKMFR9",))[0]
    refs_nl = sandbox.add_marketplace_listing("MUG", "Mug", D("19.95"), 5, nl)
    if de in sandbox.more_marketplace_ids:
        sandbox.add_marketplace_listing("MUG", "Mug", D("19.95"), 5, de)
    api, _ = connect(sandbox)
    prices = AmazonPrices(api)
    listing = Listing("MUG", "amazon", refs=refs_nl, marketplace=nl)
    update = PriceUpdate(listing, D("17.45"))
    (result,) = prices.set_prices([update])
    assert result.error is None and result.pending is not None
    (check,) = prices.check_prices([(update, result.pending)])
    assert check.state is PendingState.APPLIED
    offers = sandbox.listing("MUG", nl).offers
    assert {o["audience"] for o in offers} == {"ALL", "B2B"}  # the business price survived
    rows = {r["marketplace"]: r["price"] for r in shown(sandbox, "MUG")}
    assert rows[nl] == "17.45"
    if de in rows:
        assert rows[de] == "19.95"  # another marketplace's price is its own


def test_amazon_during_a_sale_sends_the_discounted_price_beside_the_regular_one() -> None:
    offers = [
        {
            "marketplace_id": "M",
            "audience": "B2B",
            "our_price": [{"schedule": [{"value_with_tax": 9.0}]}],
        }
    ]
    listing = Listing("MUG", "amazon", refs={"sku": "MUG"}, marketplace="M")
    result = offers_with_price(offers, "M", PriceUpdate(listing, D("14.95"), D("19.95")))
    consumer = next(o for o in result if o["audience"] == "ALL")
    assert consumer["our_price"][0]["schedule"][0]["value_with_tax"] == 19.95
    assert consumer["discounted_price"][0]["schedule"][0]["value_with_tax"] == 14.95
    assert result[0] == offers[0] and offers[0].get("currency") is None  # the input untouched


@pytest.mark.parametrize("price", ["0", "-1"])
def test_the_amazon_sandbox_reports_an_invalid_price(price: str) -> None:
    sandbox = AmazonSandbox(apply_delay_s=0.0)
    refs = sandbox.add_listing("MUG", "Mug", D("19.95"), 5)
    api, _ = connect(sandbox)
    listing = Listing("MUG", "amazon", refs=refs)
    offers = offers_with_price([], sandbox.marketplace_id, PriceUpdate(listing, D("1")))
    offers[0]["our_price"][0]["schedule"][0]["value_with_tax"] = float(price)
    answer = api.call(
        "patchListingsItem",
        "PATCH",
        f"/listings/2021-08-01/items/{sandbox.seller_id}/MUG",
        params={"marketplaceIds": sandbox.marketplace_id},
        json={
            "productType": "PRODUCT",
            "patches": [
                {"op": "replace", "path": "/attributes/purchasable_offer", "value": offers}
            ],
        },
    ).json()
    assert answer["status"] == "INVALID"


def test_bol_competing_offers_are_read_with_the_best_offer_flagged() -> None:
    sandbox = BolSandbox()
    refs = sandbox.add_listing("MUG", "Mug", D("9.99"), 3)
    others = [{"seller_id": "R2", "price": "9.49"}, {"seller_id": "R3", "price": "8.99"}]
    sandbox.competitors({"sku": "MUG", "offers": others})
    spec = BY_NAME["bol"]
    assert spec.read_competition is not None
    secret = load(spec.secret_schema).model_validate(sandbox.keel_secret(BASE))
    reader = load(spec.read_competition)(secret, client(sandbox))
    found = reader.competing_offers(Listing("MUG", "bol", refs=refs, countries=("NL", "BE")))
    assert found.product_ref == refs["ean"]
    by_seller = {o.seller_id: (o.price, o.buy_box) for o in found.offers}
    assert by_seller == {
        sandbox.retailer_id: (D("9.99"), False),
        "R2": (D("9.49"), False),
        "R3": (D("8.99"), True),  # the lowest is bol's best offer unless told otherwise
    }
    with pytest.raises(PermanentError):
        reader.competing_offers(Listing("MUG", "bol", refs={"offer_id": "x"}))


def test_bols_commission_and_amazons_fees_estimate_become_a_percent_and_a_fixed_fee() -> None:
    bol = BolSandbox()
    refs = bol.add_listing("MUG", "Mug", D("9.99"), 3)
    spec = BY_NAME["bol"]
    assert spec.estimate_fees is not None
    secret = load(spec.secret_schema).model_validate(bol.keel_secret(BASE))
    fee = load(spec.estimate_fees)(secret, client(bol)).fee(Listing("MUG", "bol", refs=refs),
                                                            D("12.50"), "EUR")  # fmt: skip
    assert (fee.percent, fee.fixed) == (D("12.00"), D("0.99")) and "total 2.49" in fee.said
    amazon = AmazonSandbox(apply_delay_s=0.0)
    arefs = amazon.add_listing("MUG", "Mug", D("19.95"), 5)
    api, _ = connect(amazon)
    from shared.channels.amazon.fees import AmazonFees

    listing = Listing("MUG", "amazon", refs=arefs)
    estimate = AmazonFees(api).fee(listing, D("20.00"), "EUR")
    assert (estimate.percent, estimate.fixed) == (D("15.0"), D("0.00"))
    assert "ReferralFee 3.0" in estimate.said
    ghost = Listing("GHOST", "amazon", refs={**arefs, "sku": "GHOST"})
    with pytest.raises(PermanentError):
        AmazonFees(api).fee(ghost, D("20.00"), "EUR")
