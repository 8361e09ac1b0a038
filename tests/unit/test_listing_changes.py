"""Channel change signals (#25): a notified hand edit on Shopify, WooCommerce or Amazon is read by
the channel's own parser as what the sandbox really sends, and repaired without a sweep: the
listing read again, compared with Keel's values, the channel's shown value recorded as the
publish's base and a trigger sent. Keel's own write coming back as the same news reads as in
step and ends there (no loop)."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from local_stack.sandboxes.woocommerce import wc_json
from shared.channels.port import ListingChanged, ParsesWebhooks
from shared.channels.registry import BY_NAME
from shared.channels.spec import load
from shared.services.reconcile import check_listing
from tests.unit.test_onboarding_adapters import control
from tests.unit.test_reconcile import World

D = Decimal
NOTIFYING = ["shopify", "woocommerce", "amazon"]  # bol has no stock or price event


def capture(world: World) -> list[tuple[dict[str, str], bytes]]:
    """What the sandbox would deliver to Keel, with the headers its webhook would carry."""
    sent: list[tuple[dict[str, str], bytes]] = []
    sandbox: Any = world.sandbox
    if world.channel == "shopify":
        sandbox._notify = lambda topic, body: sent.append(
            (sandbox.headers(body, topic=topic), body)
        )
    elif world.channel == "woocommerce":
        sandbox.deliver = lambda topic, payload: sent.append(
            (sandbox.webhook_headers(topic, wc_json(payload)), wc_json(payload))
        )
    else:
        sandbox.send_raw = lambda body: sent.append(({}, body.encode()))
    return sent


def parse(world: World, headers: dict[str, str], body: bytes) -> Any:
    parser: ParsesWebhooks = load(BY_NAME[world.channel].inbound or "")()
    account = world.sandbox.seller_id.lower() if world.channel == "amazon" else "shop"
    return parser.parse_webhook(headers, body, account)


def notified_edit(world: World, **change: Any) -> list[ListingChanged]:
    sent = capture(world)
    control(world.sandbox, "PATCH", f"/listings/{world.listing_id}", {**change, "notify": True})
    found = [parse(world, headers, body) for headers, body in sent]
    assert found and all(isinstance(x, ListingChanged) for x in found), found
    return found


@pytest.mark.parametrize("channel", NOTIFYING)
def test_a_notified_hand_edit_is_repaired_without_a_sweep(channel: str) -> None:
    world = World(channel)
    news = notified_edit(world, quantity=2)
    checked = [check_listing(world.reconciler(), world.stores.catalog, "", n) for n in news]
    assert [(d.field, d.keel, d.channel) for c in checked for d in c.drift] == [
        ("quantity", "7", "2")
    ]
    assert sum(c.repaired for c in checked) == 1
    assert world.triggers.stock == [("MUG", channel)] and world.triggers.prices == []
    assert world.stores.world.shown[("MUG", channel)][0] == 2  # the publish's base
    assert "quantity 2 (Keel 7); 1 repaired" in checked[0].said


@pytest.mark.parametrize("channel", ["shopify", "woocommerce"])
def test_a_notified_price_edit_is_repaired(channel: str) -> None:
    world = World(channel)
    news = notified_edit(world, price="9.99")
    checked = [check_listing(world.reconciler(), world.stores.catalog, "", n) for n in news]
    assert [(d.field, d.channel) for c in checked for d in c.drift] == [("price", "9.99")]
    assert world.triggers.prices == [("MUG", world.listing.key)]
    assert world.book.shown[("MUG", world.listing.key)] == (D("9.99"), None)


@pytest.mark.parametrize("channel", NOTIFYING)
def test_keels_own_write_coming_back_as_news_ends_there(channel: str) -> None:
    world = World(channel)
    news = notified_edit(world, quantity=7)  # what Keel derives: its own write's echo
    checked = [check_listing(world.reconciler(), world.stores.catalog, "", n) for n in news]
    assert all(c.drift == () and c.repaired == 0 for c in checked)
    assert world.triggers.stock == world.triggers.prices == []
    assert checked[0].said == "read 1: as Keel derives"


def test_news_of_a_listing_keel_does_not_have_changes_nothing() -> None:
    world = World("shopify")
    checked = check_listing(
        world.reconciler(),
        world.stores.catalog,
        "",
        ListingChanged((("inventory_item_id", "424242"),)),
    )
    assert checked.listings == () and checked.said == "names no listing of Keel's"
    assert world.triggers.stock == []


def test_news_of_another_account_reads_only_that_accounts_listings() -> None:
    world = World("woocommerce")
    news = notified_edit(world, quantity=2)
    checked = check_listing(world.reconciler(), world.stores.catalog, "outlet", news[0])
    assert checked.listings == () and world.triggers.stock == []


def test_each_signal_names_its_listing_by_a_ref_keel_indexes() -> None:
    """The refs the parsers name must be in the channel's lookup refs (else find_sku never
    answers and every signal is silently ignored)."""
    named = {"shopify": {"inventory_item_id", "variant_id"}, "woocommerce": {"item_id"},
             "amazon": {"sku"}}  # fmt: skip
    for channel, refs in named.items():
        assert refs <= set(BY_NAME[channel].lookup_refs), channel


def test_the_parsers_refuse_what_they_cannot_read() -> None:
    shopify = load(BY_NAME["shopify"].inbound or "")()
    headers = {"X-Shopify-Topic": "inventory_levels/update"}
    with pytest.raises(ValueError):
        shopify.parse_webhook(headers, b'{"inventory_item_id": "x"}', "shop")
    product = {"X-Shopify-Topic": "products/update"}
    assert shopify.parse_webhook(product, b'{"id": 5, "variants": []}', "shop") is None
    woo = load(BY_NAME["woocommerce"].inbound or "")()
    with pytest.raises(ValueError):
        woo.parse_webhook({"X-WC-Webhook-Topic": "product.updated"}, b"{}", "shop")
    parent = json.dumps({"id": 10, "variations": [11, 12]}).encode()
    assert woo.parse_webhook({"X-WC-Webhook-Topic": "product.updated"}, parent, "shop") == (
        ListingChanged((("item_id", "10"), ("item_id", "11"), ("item_id", "12")))
    )


def test_an_amazon_quantity_change_for_another_seller_is_refused() -> None:
    world = World("amazon")
    body = world.sandbox.quantity_notification("MUG", 3)
    amazon = load(BY_NAME["amazon"].inbound or "")()
    found = amazon.parse_webhook({}, json.dumps(body).encode(), world.sandbox.seller_id.lower())
    assert found == ListingChanged((("sku", "MUG"),))
    with pytest.raises(ValueError, match="another seller"):
        amazon.parse_webhook({}, json.dumps(body).encode(), "a-different-seller")
    afn = replace_payload(body, FulfillmentChannelCode="AMAZON_EU")
    with pytest.raises(ValueError, match="DEFAULT"):
        amazon.parse_webhook({}, json.dumps(afn).encode(), world.sandbox.seller_id.lower())


def replace_payload(body: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**body, "Payload": {**body["Payload"], **fields}}


def test_listing_changed_must_name_a_listing() -> None:
    with pytest.raises(ValueError):
        ListingChanged(())
    with pytest.raises(ValueError):
        ListingChanged((("sku", ""),))
    assert replace(ListingChanged((("sku", "A"),)), marketplace="x").marketplace == "x"
