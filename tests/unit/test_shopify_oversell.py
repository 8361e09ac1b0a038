"""Cutting short lines on Shopify with an order edit, against the sandbox in-process: every
body valid against the 2026-10 schema, quantities and totals cut, stock restocked, the buyer
notified, retry-safety and refusals."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import pytest
from graphql import GraphQLSchema

from shared.channels.errors import NothingToDo, PermanentError
from shared.channels.port import CancelsLines
from shared.channels.shopify import CHANNEL
from shared.channels.shopify.orders import ShopifyOrdersInbound
from shared.channels.shopify.oversell import ShopifyLineCanceller
from shared.channels.shopify.secret import ShopifySecret
from shared.channels.spec import load
from shared.domain.orders import Order
from shared.domain.oversell import LineCut
from tests.unit.test_shopify_fulfillment import BASE, Shop, assert_valid_request

NOTE = "Sorry: we could not supply 1 x Lamp"


def canceller(shop: Shop) -> ShopifyLineCanceller:
    secret = ShopifySecret.model_validate(shop.sandbox.keel_secret(BASE))
    return ShopifyLineCanceller(secret, shop.client(), sleep=lambda s: None)


def line_id(order: Order, title: str) -> str:
    return next(ln.line_id for ln in order.lines if ln.title == title)


def as_keel_reads_it(shop: Shop, order: Order) -> Order:
    body = shop.sandbox.encode(shop.sandbox.order(order.external_id))
    parsed = ShopifyOrdersInbound().parse_webhook(
        {"X-Shopify-Topic": "orders/updated"}, body, shop.sandbox.shop_domain
    )
    assert isinstance(parsed, Order)
    return parsed


def test_the_registry_names_this_adapter_and_it_offers_the_capability() -> None:
    shop = Shop()
    secret = ShopifySecret.model_validate(shop.sandbox.keel_secret(BASE))
    assert isinstance(load(CHANNEL.cancel_lines or "")(secret, shop.client()), CancelsLines)


def test_an_edit_cuts_the_lines_and_keel_reads_the_cut_order_back(schema: GraphQLSchema) -> None:
    shop = Shop()
    shop.lines[1] = replace(shop.lines[1], quantity=3)
    order = shop.order()
    lamp_level = shop.sandbox.shown()
    cuts = [
        LineCut(line_id(order, "Lamp"), 1, 2, "Lamp"),
        LineCut(line_id(order, "Mug"), 0, 2, "Mug"),
    ]
    canceller(shop).cancel_lines(order, cuts, NOTE)
    after = as_keel_reads_it(shop, order)
    assert {ln.title: ln.quantity for ln in after.lines if ln.quantity} == {"Lamp": 1}
    assert after.total.amount == Decimal("20.00")  # Keel's plausibility check agrees
    edits = shop.sandbox._state.committed_edits
    assert edits == [{"order_id": order.external_id, "notify_customer": True, "staff_note": NOTE}]
    shown_after = {s["sku"]: s["quantity"] for s in shop.sandbox.shown()}
    shown_before = {s["sku"]: s["quantity"] for s in lamp_level}
    assert shown_after["LAMP"] == shown_before["LAMP"] + 2
    assert shown_after["MUG"] == shown_before["MUG"] + 2
    for sent in shop.sent:  # begin, two quantities, commit: each valid against the schema
        assert_valid_request(schema, sent)
    assert len(shop.sent) == 4


def test_a_retry_after_a_lost_answer_commits_nothing() -> None:
    shop = Shop()
    order = shop.order()
    cuts = [LineCut(line_id(order, "Mug"), 1, 1, "Mug")]
    canceller(shop).cancel_lines(order, cuts, NOTE)
    with pytest.raises(NothingToDo):
        canceller(shop).cancel_lines(order, cuts, NOTE)
    assert len(shop.sandbox._state.committed_edits) == 1


def test_a_cancelled_order_cannot_be_edited() -> None:
    shop = Shop()
    order = shop.order()
    shop.control(f"/__sandbox/orders/{order.external_id}/cancel", {})
    with pytest.raises(PermanentError, match="cannot be edited"):
        canceller(shop).cancel_lines(order, [LineCut(line_id(order, "Mug"), 1, 1, "Mug")], NOTE)
    assert json.loads(json.dumps(shop.sandbox._state.committed_edits)) == []
