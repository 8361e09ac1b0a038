"""Discover, link and connect as services, against every channel's sandbox in process and the
in-memory stores: matches by SKU, GTIN and product id, each conflict kind, a stale report's
candidates, prices decided on link, and connect twice leaving one subscription per topic."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from local_stack.sandboxes.amazon import AmazonSandbox
from local_stack.sandboxes.bol import BolSandbox
from local_stack.sandboxes.shopify import ShopifySandbox
from local_stack.sandboxes.woocommerce import WooCommerceSandbox
from shared.channels.amazon import client as amazon_client
from shared.channels.pacing import Rate
from shared.channels.registry import BY_NAME
from shared.domain.matching import DUPLICATE_SKU, SHARED_GTIN, TWO_SKUS
from shared.domain.pricing import Guard, SkuPrice
from shared.services.onboarding import (
    ChannelAccess,
    connect_channel,
    discover_channel,
    link_matches,
    subscription_status,
)
from shared.services.pricing import Pricing
from tests.fakes.prices import MemoryPriceBook
from tests.fakes.stores import MemoryStores
from tests.unit.test_onboarding_adapters import control, manager, reader

D = Decimal
NOW = datetime(2026, 12, 6, 9, tzinfo=UTC)
MUG_GTIN, TEE_GTIN, LAMP_GTIN = "4006381333931", "0036000291452", "5901234123457"


def access(
    channel: str, sandbox: Any, places: tuple[tuple[str, str], ...] = (("", ""),)
) -> ChannelAccess:
    return ChannelAccess(
        BY_NAME[channel],
        places,
        lambda _: reader(channel, sandbox),
        lambda _: manager(channel, sandbox),
    )


def keel() -> tuple[MemoryStores, MemoryPriceBook, Pricing]:
    stores, book = MemoryStores(), MemoryPriceBook()
    stores.catalog.put_product("MUG", "Blue mug", "0" + MUG_GTIN)
    stores.catalog.put_product("TEE", "T-shirt", "0" + TEE_GTIN)
    stores.catalog.put_product("LAMP", "Lamp", "0" + LAMP_GTIN)
    stores.catalog.put_product("CAP", "Cap")  # on no channel
    book.put_price(SkuPrice("MUG", D("12.50"), D("4.00")), "ops", "seed", NOW)
    return stores, book, Pricing(book, stores.catalog.listings_for, Guard(), lambda: NOW)


FAST = {"getSubscription": (100.0, 100), "getDestinations": (100.0, 100)}


def matched(report: dict[str, Any]) -> set[tuple[str, str]]:
    return {(m["sku"], m["by"]) for m in report["matched"]}


def test_shopify_discovery_matches_by_sku_and_gtin_and_reports_its_conflicts() -> None:
    stores, book, pricing = keel()
    shop = ShopifySandbox()
    mug = shop.add_listing("MUG", "Mug", D("12.50"), 4)
    shop.add_listing("tee-red-m", "Tee", D("20.00"), 2, gtin=TEE_GTIN)  # matches by GTIN only
    shop.add_listing("LAMP", "Lamp", D("30.00"), 1)
    shop.add_listing("LAMP", "Lamp (copy)", D("30.00"), 1)  # a duplicate SKU on the channel
    shop.add_listing("POSTER", "Poster", D("5.00"), 9)  # a listing Keel does not know
    report = discover_channel(access("shopify", shop), stores.catalog, stores.catalog).as_dict()
    assert matched(report) == {("MUG", "sku"), ("TEE", "gtin")}
    assert [c["kind"] for c in report["conflicts"]] == [DUPLICATE_SKU]
    assert [x["sku"] for x in report["unmatched_on_channel"]] == ["POSTER"]
    assert {x["sku"] for x in report["unmatched_in_keel"]} == {"CAP"}

    found = discover_channel(access("shopify", shop), stores.catalog, stores.catalog)
    linked = link_matches(
        access("shopify", shop), found.found.matched, stores.catalog, pricing, "ops"
    )
    assert {x["sku"] for x in linked.linked} == {"MUG", "TEE"}
    (listing,) = stores.catalog.listings_for("MUG")
    assert listing.refs == mug  # the ids the stock and price adapters need
    assert linked.priced == 1 and book.targets("MUG")["shopify"].price == D("12.50")
    again = discover_channel(access("shopify", shop), stores.catalog, stores.catalog).as_dict()
    assert again["matched"] == [] and len(again["already_linked"]) == 2


def test_woocommerce_and_bol_report_a_gtin_of_two_skus_and_a_listing_naming_two() -> None:
    stores, _, _ = keel()
    stores.catalog.put_product("MUG-2", "Blue mug, second SKU", "0" + MUG_GTIN)
    woo = WooCommerceSandbox()
    woo.add_listing("old-mug", "Mug", D("12.50"), 4, gtin=MUG_GTIN)  # GTIN of MUG and MUG-2
    woo.add_listing("TEE", "Tee", D("20.00"), 2, variant=True, gtin=LAMP_GTIN)  # TEE vs LAMP
    report = discover_channel(access("woocommerce", woo), stores.catalog, stores.catalog).as_dict()
    assert not report["matched"]
    assert {c["kind"] for c in report["conflicts"]} == {SHARED_GTIN, TWO_SKUS}

    bol = BolSandbox()
    bol.process_delay_s = 0
    bol.add_listing("", "Tee", D("20.00"), 2, gtin=TEE_GTIN)  # no reference: the EAN says
    report = discover_channel(access("bol", bol), stores.catalog, stores.catalog).as_dict()
    assert matched(report) == {("TEE", "gtin")}


def test_a_stale_reports_candidates_are_read_again_before_they_are_linked() -> None:
    stores, _, pricing = keel()
    amazon = AmazonSandbox()
    amazon.report_delay_s = 0
    nl, de = amazon.marketplace_id, amazon.more_marketplace_ids[0]
    amazon.add_listing("MUG", "Mug", D("12.50"), 4, marketplace=nl)
    amazon.add_listing("mug-de", "Mug", D("13.50"), 4, marketplace=de)  # same ASIN? no: own SKU
    amazon.add_listing("TEE", "Tee", D("20.00"), 2, marketplace=nl)
    places = ((("", nl)), ("", de))
    found = discover_channel(access("amazon", amazon, places), stores.catalog, stores.catalog)
    assert {(m.sku, m.listing.marketplace) for m in found.found.matched} == {
        ("MUG", nl),
        ("TEE", nl),
    }
    del amazon._listings[(nl, "TEE")]  # gone since the report
    linked = link_matches(access("amazon", amazon, places), found.found.matched, stores.catalog,
                          pricing, "ops")  # fmt: skip
    assert [x["sku"] for x in linked.linked] == ["MUG"]
    (skipped,) = linked.skipped
    assert (skipped["sku"], skipped["listing_id"], skipped["marketplace"]) == (
        "TEE",
        f"{nl}/TEE",
        nl,
    )
    assert skipped["why"] == "gone since the channel's report"
    (mug,) = stores.catalog.listings_for("MUG")
    assert mug.refs["product_type"] == "PRODUCT"  # from the live read, not the report


@pytest.mark.parametrize(
    ("channel", "make", "address"),
    [
        ("shopify", ShopifySandbox, "http://keel.test/webhooks/shopify"),
        ("woocommerce", WooCommerceSandbox, "http://keel.test/webhooks/woocommerce"),
        ("bol", BolSandbox, "http://keel.test/webhooks/bol"),
        (
            "amazon",
            lambda: AmazonSandbox(rates=FAST),
            "arn:aws:sqs:eu-west-1:1234567890:keel-amazon",
        ),
    ],
)
def test_connect_twice_leaves_one_subscription_per_topic_and_re_arms_a_disabled_one(
    channel: str, make: Any, address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Amazon's notifications calls are paced at 1 a second: this test makes a dozen of them.
    for operation in ("getSubscription", "getDestinations"):
        monkeypatch.setitem(amazon_client.RATES, operation, Rate(100.0, 100))
    monkeypatch.setattr(amazon_client, "_BUCKETS", {})
    sandbox = make()
    if channel == "bol":
        sandbox.process_delay_s = 0
    wanted = BY_NAME[channel].subscriptions
    first = connect_channel(access(channel, sandbox), address)
    assert [s.action for s in first] == ["created"] * len(wanted)
    second = connect_channel(access(channel, sandbox), address)
    assert [s.action for s in second] == ["kept"] * len(wanted)
    assert len(sandbox.subscriptions.items) == len(wanted)
    assert all(s.healthy for s in subscription_status(access(channel, sandbox), address))
    victim = next(iter(sandbox.subscriptions.items))
    control(sandbox, "POST", f"/subscriptions/{victim}/disable")  # as after failed deliveries
    assert not all(s.healthy for s in subscription_status(access(channel, sandbox), address))
    third = connect_channel(access(channel, sandbox), address)
    assert sorted(s.action for s in third) == sorted(
        ["kept"] * (len(wanted) - 1)
        + [("created" if channel in ("shopify", "amazon") else "re-enabled")]
    )
    assert all(s.healthy for s in subscription_status(access(channel, sandbox), address))
    assert sum(1 for s in sandbox.subscriptions.items.values() if s.active) == len(wanted)
