"""Cutting short lines on WooCommerce, against the sandbox in-process: quantities set, empty
lines removed, stock given back, one customer note, retry-safety and refusals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from local_stack.sandboxes.base import SandboxLine
from shared.channels.errors import NothingToDo, PermanentError
from shared.channels.port import CancelsLines
from shared.channels.spec import load
from shared.channels.woocommerce import CHANNEL
from shared.channels.woocommerce.oversell import WooLineCanceller
from shared.channels.woocommerce.secret import WooSecret
from shared.domain.orders import Order
from shared.domain.oversell import LineCut
from tests.unit.test_woocommerce_fulfillment import BASE, Shop

NOTE = "Sorry: we could not supply 1 x Lamp"


def two_line_shop() -> tuple[Shop, Order]:
    shop = Shop()
    refs = shop.sandbox.add_listing("LAMP", "Lamp", Decimal("30.00"), 5)
    shop.lines = [*shop.lines, SandboxLine(refs, "LAMP", "Lamp", 2, Decimal("30.00"))]
    return shop, shop.order()


def canceller(shop: Shop) -> WooLineCanceller:
    secret = WooSecret.model_validate(shop.sandbox.keel_secret(BASE))
    return WooLineCanceller(secret, shop.client())


def line_id(order: Order, title: str) -> str:
    return next(ln.line_id for ln in order.lines if ln.title == title)


def test_the_registry_names_this_adapter_and_it_offers_the_capability() -> None:
    shop = Shop()
    secret = WooSecret.model_validate(shop.sandbox.keel_secret(BASE))
    assert isinstance(load(CHANNEL.cancel_lines or "")(secret, shop.client()), CancelsLines)


def test_cut_lines_shrink_or_go_the_stock_comes_back_and_the_buyer_is_told() -> None:
    shop, order = two_line_shop()
    lamp_stock = next(s for s in shop.sandbox.shown() if s["sku"] == "LAMP")["quantity"]
    cuts = [
        LineCut(line_id(order, "Lamp"), 1, 1, "Lamp"),
        LineCut(line_id(order, "Mug"), 0, 2, "Mug"),
    ]
    canceller(shop).cancel_lines(order, cuts, NOTE)
    shown = shop.api("GET", f"/orders/{order.external_id}")
    assert [(li["name"], li["quantity"], li["total"]) for li in shown["line_items"]] == [
        ("Lamp", 1, "30.00")
    ]
    assert shown["total"] == "30.00"
    notes = shop.api("GET", f"/orders/{order.external_id}/notes")
    assert [(n["note"], n["customer_note"]) for n in notes] == [(NOTE, True)]
    after = next(s for s in shop.sandbox.shown() if s["sku"] == "LAMP")["quantity"]
    assert after == lamp_stock + 1


def test_a_retry_after_a_lost_answer_changes_nothing() -> None:
    shop, order = two_line_shop()
    cuts = [LineCut(line_id(order, "Lamp"), 1, 1, "Lamp")]
    canceller(shop).cancel_lines(order, cuts, NOTE)
    before = len(shop.calls)
    with pytest.raises(NothingToDo):
        canceller(shop).cancel_lines(order, cuts, NOTE)
    assert [m for m, _ in shop.calls[before:]] == ["GET", "GET"]
    assert len(shop.api("GET", f"/orders/{order.external_id}/notes")) == 1


def test_an_order_the_shop_completed_or_cancelled_is_not_edited() -> None:
    shop, order = two_line_shop()
    shop.sandbox.cancel(int(order.external_id), notify=False)
    with pytest.raises(NothingToDo):
        canceller(shop).cancel_lines(order, [LineCut(line_id(order, "Lamp"), 1, 1, "Lamp")], NOTE)
    assert len(shop.api("GET", f"/orders/{order.external_id}")["line_items"]) == 2


def test_the_sandbox_refuses_a_line_that_is_not_the_orders() -> None:
    shop, order = two_line_shop()
    with pytest.raises(PermanentError):
        canceller(shop)._call(
            "PUT",
            f"/orders/{order.external_id}",
            json={"line_items": [{"id": 999999, "quantity": 1}]},
        )
