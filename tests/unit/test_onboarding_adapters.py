"""Each channel's listing reader and subscription manager against its sandbox, in process: the
ids a reader gives are the ones Keel's listing needs (the ones the sandbox itself assigned), and
what a subscription manager registers is what the channel then delivers to."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from local_stack.http import Request
from local_stack.sandboxes.amazon import AmazonSandbox
from local_stack.sandboxes.bol import BolSandbox
from local_stack.sandboxes.listing_controls import ListingControls
from local_stack.sandboxes.shopify import ShopifySandbox
from local_stack.sandboxes.woocommerce import WooCommerceSandbox
from shared.channels.errors import PermanentError
from shared.channels.port import ManagesSubscriptions, ReadsListings
from shared.channels.registry import BY_NAME
from shared.channels.spec import load
from tests.unit.test_price_adapters import BASE, client

D = Decimal
GTIN13 = "4006381333931"


def reader(channel: str, sandbox: Any) -> ReadsListings:
    spec = BY_NAME[channel]
    assert spec.read_listings is not None
    secret = load(spec.secret_schema).model_validate(sandbox.keel_secret(BASE))
    made: ReadsListings = load(spec.read_listings)(secret, client(sandbox))
    return made


def manager(channel: str, sandbox: Any) -> ManagesSubscriptions:
    spec = BY_NAME[channel]
    assert spec.manage_subscriptions is not None
    secret = load(spec.secret_schema).model_validate(sandbox.keel_secret(BASE))
    made: ManagesSubscriptions = load(spec.manage_subscriptions)(secret, client(sandbox))
    return made


def control(sandbox: Any, method: str, path: str, body: Any = None) -> Any:
    raw = json.dumps(body).encode() if body is not None else b""
    answer = ListingControls(sandbox, sandbox)(Request(method, "/__sandbox" + path, {}, {}, raw))
    assert answer.status < 300, answer.body
    return json.loads(answer.body)


def test_every_channel_reads_its_listings_and_manages_its_subscriptions() -> None:
    for spec in BY_NAME.values():
        assert spec.read_listings, spec.name
        assert spec.manage_subscriptions, spec.name


def test_woocommerce_reads_products_and_variations_with_the_ids_keel_needs() -> None:
    sandbox = WooCommerceSandbox()
    mug = sandbox.add_listing("MUG", "Mug", D("12.50"), 5, gtin=GTIN13)
    tee = sandbox.add_listing("TEE-M", "Tee M", D("20.00"), 3, variant=True)
    for n in range(120):  # more than one page
        sandbox.add_listing(f"X{n}", f"X {n}", D("1.00"), None)
    hand = control(sandbox, "POST", "/listings", {"sku": "HAND", "price": "9.95", "quantity": 2})
    rows = {r.sku: r for r in reader("woocommerce", sandbox).read_listings()}
    assert len(rows) == 123
    assert dict(rows["MUG"].refs) == mug and rows["MUG"].gtin == "0" + GTIN13
    assert dict(rows["TEE-M"].refs) == tee and rows["TEE-M"].quantity == 3
    assert rows["X7"].quantity is None and rows["HAND"].listing_id == hand["listing_id"]
    assert rows["MUG"].price == D("12.50") and rows["MUG"].confirmed
    one = reader("woocommerce", sandbox).read_listing(tee)
    assert one is not None and one.sku == "TEE-M"
    assert reader("woocommerce", sandbox).read_listing({"product_id": "99999"}) is None


def test_woocommerce_webhooks_are_registered_signed_with_keels_secret_and_re_armed() -> None:
    sandbox = WooCommerceSandbox()
    sandbox.subscriptions.preregistered = False
    hooks = manager("woocommerce", sandbox)
    made = hooks.subscribe("order.created", "http://keel.test/webhooks/woocommerce")
    assert made.active and made.topic == "order.created"
    (listed,) = hooks.subscriptions()
    assert listed == made
    assert control(sandbox, "GET", "/subscriptions") == [
        {"id": made.id, "topic": "order.created",
         "address": "http://keel.test/webhooks/woocommerce", "active": True},
    ]  # fmt: skip
    control(sandbox, "POST", f"/subscriptions/{made.id}/disable")
    assert not hooks.subscriptions()[0].active
    assert hooks.subscriptions()[0].detail == "disabled"
    again = hooks.repair(listed, "http://keel.test/webhooks/woocommerce")
    assert again.active and again.id == made.id
    assert sandbox.subscriptions.items[made.id].secret == sandbox.webhook_secret


def test_a_woocommerce_webhook_is_disabled_after_five_failed_deliveries() -> None:
    sandbox = WooCommerceSandbox()
    sub = sandbox.subscriptions.add("order.updated", "http://127.0.0.1:9/nowhere", "s")
    for _ in range(5):
        sandbox.deliver("order.updated", {"id": 1})
    assert not sub.active
    assert sandbox.deliver("order.updated", {"id": 1}).error == "no active webhook"


@pytest.mark.parametrize("body", [{"price": "1"}, {"sku": "A", "price": "x"}, [1]])
def test_a_bad_hand_made_listing_is_refused(body: Any) -> None:
    sandbox = WooCommerceSandbox()
    request = Request("POST", "/__sandbox/listings", {}, {}, json.dumps(body).encode())
    answer = ListingControls(sandbox, sandbox)(request)
    assert answer.status == 400
    assert sandbox.shown() == []


def test_bol_reads_the_offers_export_as_candidates_and_confirms_one_offer_live() -> None:
    sandbox = BolSandbox()
    sandbox.process_delay_s = 0
    mug = sandbox.add_listing("MUG", "Mug", D("12.50"), 5, gtin=GTIN13)
    sandbox.add_listing("TEE", "Tee", D("20.00"), 3)
    rows = {r.sku: r for r in reader("bol", sandbox).read_listings()}
    assert set(rows) == {"MUG", "TEE"}
    assert dict(rows["MUG"].refs) == mug and rows["MUG"].gtin == "0" + GTIN13
    assert rows["MUG"].product_id == GTIN13 and not rows["MUG"].confirmed
    assert (rows["MUG"].quantity, rows["MUG"].price) == (5, D("12.50"))
    sandbox.offers[mug["offer_id"]].amount = 2  # since the export: the report is stale
    live = reader("bol", sandbox).read_listing(mug)
    assert live is not None and live.confirmed and live.quantity == 2
    assert live.countries == ("NL", "BE")
    assert reader("bol", sandbox).read_listing({"offer_id": "gone"}) is None


def test_bol_subscriptions_are_made_and_re_enabled_through_their_processes() -> None:
    sandbox = BolSandbox()
    sandbox.process_delay_s = 0
    subs = manager("bol", sandbox)
    made = subs.subscribe("ORDER", "http://keel.test/webhooks/bol")
    assert made.active and made.topic == "ORDER"
    assert control(sandbox, "GET", "/subscriptions")[0]["topic"] == "ORDER"
    control(sandbox, "POST", f"/subscriptions/{made.id}/disable")
    assert not subs.subscriptions()[0].active
    delivered = sandbox.push("ORDER", "CHANGE", "1")
    assert delivered.error == "no active subscription"
    fixed = subs.repair(subs.subscriptions()[0], "http://keel.test/webhooks/bol")
    assert fixed.active and fixed.id == made.id


def test_shopify_reads_every_variant_page_with_its_inventory_item_and_location() -> None:
    sandbox = ShopifySandbox()
    mug = sandbox.add_listing("MUG", "Mug", D("12.50"), 5, gtin=GTIN13)
    tee = sandbox.add_listing("TEE-M", "Tee", D("20.00"), 3, variant=True)
    for n in range(105):  # more than one page
        sandbox.add_listing(f"X{n}", f"X {n}", D("1.00"), None)
    sandbox.add_listing("MUG", "Mug again", D("12.50"), 1)  # Shopify lets SKUs repeat
    rows = list(reader("shopify", sandbox).read_listings())
    assert len(rows) == 108
    by_id = {r.listing_id: r for r in rows}
    first = by_id[mug["variant_id"]]
    assert dict(first.refs) == mug and first.gtin == "0" + GTIN13
    assert (first.quantity, first.price, first.title) == (5, D("12.50"), "Mug")
    assert by_id[tee["variant_id"]].title == "Tee - Tee"
    assert by_id[tee["variant_id"]].product_id is not None
    assert [r.quantity for r in rows if r.sku == "X0"] == [None]  # not tracked
    assert [r.sku for r in rows].count("MUG") == 2
    one = reader("shopify", sandbox).read_listing(mug)
    assert one is not None and one.quantity == 5
    assert reader("shopify", sandbox).read_listing({"variant_id": "424242"}) is None


def test_shopify_webhooks_are_made_once_and_a_removed_one_is_made_again() -> None:
    sandbox = ShopifySandbox()
    sandbox.subscriptions.preregistered = False
    hooks = manager("shopify", sandbox)
    made = hooks.subscribe("orders/create", "http://keel.test/webhooks/shopify")
    assert made.topic == "orders/create" and made.active
    assert hooks.subscriptions() == [made]
    with pytest.raises(PermanentError, match="already been taken"):
        hooks.subscribe("orders/create", "http://keel.test/webhooks/shopify")
    moved = hooks.repair(made, "http://keel.test/v2/webhooks/shopify")
    assert moved.address == "http://keel.test/v2/webhooks/shopify"
    sub_id = made.id.rsplit("/", 1)[-1]
    assert control(sandbox, "POST", f"/subscriptions/{sub_id}/disable")["active"] is False
    assert hooks.subscriptions() == []


def test_amazon_reads_each_marketplaces_report_as_candidates_and_confirms_one_item() -> None:
    sandbox = AmazonSandbox()
    sandbox.report_delay_s = 0
    nl, de = sandbox.marketplace_id, sandbox.more_marketplace_ids[0]
    mug = sandbox.add_listing("MUG", "Mug", D("12.50"), 5, marketplace=nl, gtin=GTIN13)
    mug_de = sandbox.add_listing("MUG", "Mug", D("13.50"), 5, marketplace=de)
    sandbox.add_listing("TEE", "Tee", D("20.00"), None, marketplace=nl)
    rows = {r.sku: r for r in reader("amazon", sandbox).read_listings(nl)}
    assert set(rows) == {"MUG", "TEE"}
    assert not rows["MUG"].confirmed and rows["MUG"].gtin == "0" + GTIN13
    assert rows["MUG"].product_id == mug["asin"] == mug_de["asin"]  # one product, one ASIN
    assert (rows["MUG"].quantity, rows["MUG"].price) == (5, D("12.50"))
    assert rows["TEE"].quantity is None
    (de_row,) = reader("amazon", sandbox).read_listings(de)
    assert (de_row.marketplace, de_row.price, de_row.listing_id) == (de, D("13.50"), f"{de}/MUG")
    sandbox.listing("MUG", nl).quantity = 1  # since the report
    live = reader("amazon", sandbox).read_listing(rows["MUG"].refs)
    assert live is not None and live.confirmed and live.quantity == 1
    assert dict(live.refs) == mug and live.gtin == "0" + GTIN13  # with its product type
    assert reader("amazon", sandbox).read_listing({"sku": "GONE", "marketplace_id": nl}) is None


def test_amazon_subscribes_each_notification_type_to_keels_queue_once() -> None:
    sandbox = AmazonSandbox()
    sandbox.subscriptions.preregistered = False
    arn = "arn:aws:sqs:eu-west-1:123456789012:keel-amazon-notifications"
    subs = manager("amazon", sandbox)
    assert subs.subscriptions() == []
    made = subs.subscribe("ORDER_CHANGE", arn)
    offers = subs.subscribe("ANY_OFFER_CHANGED", arn)
    assert {(s.topic, s.address) for s in subs.subscriptions()} == {
        ("ORDER_CHANGE", arn), ("ANY_OFFER_CHANGED", arn),
    }  # fmt: skip
    assert len(sandbox._destinations) == 1  # one destination for the queue, reused
    moved = subs.repair(made, arn.replace("keel-", "keel-v2-"))
    assert moved.address.endswith("keel-v2-amazon-notifications") and moved.id != made.id
    control(sandbox, "POST", f"/subscriptions/{offers.id}/disable")
    assert [s.topic for s in subs.subscriptions()] == ["ORDER_CHANGE"]
