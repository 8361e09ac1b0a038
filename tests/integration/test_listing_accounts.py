"""A listing is (SKU, channel, account, marketplace) (#27): the catalog on DynamoDB keeps each
one apart, looks a channel's ids up per account, and gives the sync one listing per slot; the
composition root finds each account's secret from configuration alone."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest

from functions.ingest.handler import handler as ingest
from functions.webhook.handler import handler as webhook
from local_stack.resources import Provisioned
from local_stack.sandboxes.shopify import SandboxLine, ShopifySandbox
from shared.channels.errors import UnknownAccount
from shared.domain.inventory import Movement, MovementCause
from shared.domain.listings import Listing, ListingRules
from shared.runtime import Runtime
from shared.services.stock_outbound import StockAccount
from shared.stores.catalog import CatalogStore, RefAlreadyMapped
from shared.stores.inventory import InventoryStore
from shared.stores.orders import OrderStore
from tests.integration.conftest import (
    SECRETS,
    SHOP_DOMAIN,
    SHOPIFY_SECRET,
    context,
    drain,
    sqs_event,
)
from tests.integration.test_handlers import api_event

NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)
SECOND_SHOP = "keel-outlet.myshopify.com"


def test_each_listing_of_a_sku_is_kept_apart_by_account_and_marketplace(
    catalog: CatalogStore,
) -> None:
    catalog.put_listing(
        Listing("MUG", "shopify", {"variant_id": "1", "sku": "MUG"}), ("variant_id", "sku")
    )
    catalog.put_listing(
        Listing(
            "MUG",
            "shopify",
            {"variant_id": "2", "sku": "MUG"},
            ListingRules(buffer=2),
            account=SECOND_SHOP,
        ),
        ("variant_id", "sku"),
    )
    for market in ("A1PA6795UKMFR9", "A1805IZSGTT6HS"):
        catalog.put_listing(
            Listing("MUG", "amazon", {"sku": "MUG", "marketplace_id": market}, marketplace=market)
        )
    catalog.put_listing(Listing("MUG", "bol", {"ean": "8712345678906"}, countries=("NL", "BE")))
    found = {x.key: x for x in catalog.listings_for("MUG")}
    assert sorted(found) == [
        "amazon/A1805IZSGTT6HS",
        "amazon/A1PA6795UKMFR9",
        "bol",
        "shopify",
        f"shopify@{SECOND_SHOP}",
    ]
    assert found[f"shopify@{SECOND_SHOP}"].account == SECOND_SHOP
    assert found["amazon/A1PA6795UKMFR9"].marketplace == "A1PA6795UKMFR9"
    assert found["bol"].countries == ("NL", "BE")
    # A channel's ids are looked up per account: the second shop's variant is its own.
    assert catalog.find_sku("shopify", "variant_id", "2") is None
    assert catalog.find_sku(f"shopify@{SECOND_SHOP}", "variant_id", "2") == "MUG"
    assert catalog.find_sku(f"shopify@{SECOND_SHOP}", "sku", "MUG") == "MUG"


def test_two_stores_may_use_one_id_for_different_skus_but_one_store_may_not(
    catalog: CatalogStore,
) -> None:
    catalog.put_listing(Listing("MUG", "woocommerce", {"product_id": "42"}), ("product_id",))
    other = Listing("TEE", "woocommerce", {"product_id": "42"}, account="outlet.example")
    catalog.put_listing(other, ("product_id",))
    with pytest.raises(RefAlreadyMapped, match="woocommerce product_id 42"):
        catalog.put_listing(Listing("TEE", "woocommerce", {"product_id": "42"}), ("product_id",))


def test_the_sync_reads_one_listing_per_slot_within_all_its_marketplaces_rules(
    catalog: CatalogStore,
) -> None:
    catalog.put_listing(
        Listing("MUG", "amazon", {"sku": "MUG"}, ListingRules(buffer=1), marketplace="DE")
    )
    catalog.put_listing(
        Listing("MUG", "amazon", {"sku": "MUG"}, ListingRules(Decimal("0.5")), marketplace="NL")
    )
    catalog.record_shown("MUG", "amazon", 4, NOW)
    listings, shows = catalog.listings_and_shows(["MUG", "TEE"], "amazon", True, ("DE", "NL"))
    assert set(listings) == {"MUG"}
    assert listings["MUG"].rules == ListingRules(share=Decimal("0.5"), buffer=1)
    assert shows["MUG"].confirmed is not None and shows["MUG"].confirmed.quantity == 4
    only_de, _ = catalog.listings_and_shows(["MUG"], "amazon", True, ("DE",))
    assert only_de["MUG"].rules == ListingRules(buffer=1)
    pairs = catalog.listed_and_pending(["MUG"], "amazon", ("DE", "NL"))
    assert pairs["MUG"][0] is not None and pairs["MUG"][0].rules.buffer == 1


def test_rules_change_per_listing_key(catalog: CatalogStore) -> None:
    catalog.put_listing(Listing("MUG", "shopify", {"variant_id": "1"}))
    catalog.put_listing(Listing("MUG", "shopify", {"variant_id": "2"}, account=SECOND_SHOP))
    changed = catalog.change_rules(
        "MUG", f"shopify@{SECOND_SHOP}", ListingRules(cap=3), "ops", "outlet sells little", NOW
    )
    assert changed.rules.cap == 3 and changed.account == SECOND_SHOP
    first = catalog.listing("MUG", "shopify")
    assert first is not None and first.rules.cap is None
    (record,) = catalog.rule_changes("MUG")
    assert record["listing"] == f"shopify@{SECOND_SHOP}" and record["channel"] == "shopify"


def _second_shop(monkeypatch: pytest.MonkeyPatch, domain: str = SECOND_SHOP) -> str:
    name = f"it/shopify/{domain}"
    secret: dict[str, Any] = {**SECRETS["shopify"], "shop_domain": domain}
    boto3.client("secretsmanager").create_secret(Name=name, SecretString=json.dumps(secret))
    monkeypatch.setenv("SHOPIFY_ACCOUNT_SECRET_NAMES", json.dumps([name]))
    return name


def test_a_second_shop_is_configuration_its_secret_names_its_account(
    deployed: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = _second_shop(monkeypatch)
    kit = Runtime().channel("shopify")
    assert list(kit.accounts()) == ["", SECOND_SHOP] and kit.accounts()[SECOND_SHOP] == name
    assert kit.account_key(SHOP_DOMAIN) == ""  # the first account, however it is spelled
    assert kit.account_key(f"https://{SECOND_SHOP.upper()}/") == SECOND_SHOP
    assert kit.account_name("") == SHOP_DOMAIN
    with pytest.raises(UnknownAccount, match="no shopify account"):
        kit.account_key("stranger.myshopify.com")
    assert kit.stock_accounts() == (StockAccount(""), StockAccount(SECOND_SHOP))
    assert kit.raw_secret(account=SECOND_SHOP)["shop_domain"] == SECOND_SHOP
    assert kit.raw_secret()["shop_domain"] == SHOP_DOMAIN
    # A per-account poll schedule names its account by its secret (infra knows no more).
    assert kit.account_key_of_secret(name) == SECOND_SHOP
    assert kit.account_key_of_secret(deployed.secrets["shopify"]) == ""
    with pytest.raises(UnknownAccount, match="not one of shopify's secrets"):
        kit.account_key_of_secret("it/woocommerce")
    assert kit.accounts_to_poll({}) == ["", SECOND_SHOP]
    assert kit.accounts_to_poll({"account_secret": name}) == [SECOND_SHOP]
    assert kit.accounts_to_poll({"account": SHOP_DOMAIN}) == [""]


def test_a_channel_with_one_account_reads_no_secret_to_know_it(deployed: Provisioned) -> None:
    kit = Runtime().channel("woocommerce")
    assert kit.stock_accounts() == (StockAccount(),)


def _two_shops(
    deployed: Provisioned, monkeypatch: pytest.MonkeyPatch, catalog: CatalogStore
) -> None:
    _second_shop(monkeypatch)
    catalog.put_product("MUG", "Mug")
    catalog.put_listing(Listing("MUG", "shopify", {"variant_id": "44"}), ("variant_id",))
    # The outlet shop's variant 44 is another product: ids are per shop.
    catalog.put_listing(Listing("TEE", "shopify", {"variant_id": "44"}, account=SECOND_SHOP),
                        ("variant_id",))  # fmt: skip
    for sku in ("MUG", "TEE"):
        inventory = InventoryStore(deployed.tables["inventory"], boto3.client("dynamodb"))
        inventory.receive(Movement(sku, MovementCause.RECEIPT, 5, "po", "t", NOW), safety_stock=0)


def test_each_shop_s_deliveries_are_verified_with_its_own_secret_and_matched_in_its_listings(
    deployed: Provisioned,
    monkeypatch: pytest.MonkeyPatch,
    catalog: CatalogStore,
    orders: OrderStore,
    sqs: Any,
) -> None:
    _two_shops(deployed, monkeypatch, catalog)
    line = [SandboxLine(44, "X", "Thing", 2, Decimal("10.00"))]
    delivered: list[str] = []
    for domain, number in ((SHOP_DOMAIN, 1), (SECOND_SHOP, 2)):
        shop = ShopifySandbox(SHOPIFY_SECRET, shop_domain=domain)
        body = shop.encode({**shop.order_payload(line), "id": number})
        answer = webhook(api_event(body, shop.headers(body, webhook_id=f"w{number}")), context("w"))
        assert answer["statusCode"] == 200
        delivered.extend(m["Body"] for m in drain(sqs, deployed.queue_urls["ingest"]))
    assert ingest(sqs_event(*delivered), context("ingest")) == {"batchItemFailures": []}
    found = {o.account: o for o in orders.orders()}
    assert found[SHOP_DOMAIN].lines[0].sku == "MUG" and found[SHOP_DOMAIN].listing_account == ""
    assert found[SECOND_SHOP].lines[0].sku == "TEE"
    assert found[SECOND_SHOP].listing_account == SECOND_SHOP


def test_a_shop_keel_has_no_secret_for_is_refused_and_a_forged_one_is_401(
    deployed: Provisioned, monkeypatch: pytest.MonkeyPatch, catalog: CatalogStore
) -> None:
    _two_shops(deployed, monkeypatch, catalog)
    line = [SandboxLine(44, "X", "Thing", 1, Decimal("10.00"))]
    stranger = ShopifySandbox(SHOPIFY_SECRET, shop_domain="stranger.myshopify.com")
    body = stranger.encode(stranger.order_payload(line))
    answer = webhook(api_event(body, stranger.headers(body)), context("w"))
    assert answer["statusCode"] == 403
    forged = ShopifySandbox("not-the-outlet-secret", shop_domain=SECOND_SHOP)
    body = forged.encode(forged.order_payload(line))
    assert webhook(api_event(body, forged.headers(body)), context("w"))["statusCode"] == 401
