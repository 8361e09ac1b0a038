"""Channels as plug-ins, end to end: orders placed in either channel's sandbox, stock reaching
every channel, catalog changes published, the scheduled resync, and outages on the way out."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from keel_cli.main import main as keel
from local_stack.sandboxes.base import SandboxLine
from local_stack.stack import LocalStack, stores
from shared.channels.errors import RetryableError
from shared.domain.listings import ListingRules, channel_quantity
from tests.e2e.conftest import Product, make_product, shopify, shows, woo

pytestmark = pytest.mark.e2e
CHANNELS = ("shopify", "woocommerce")


def place(stack: LocalStack, channel: str, product: Product, qty: int) -> str:
    sandbox = stack.sandboxes[channel]
    body = sandbox.order_body(
        [SandboxLine(product.refs[channel], product.sku, product.sku, qty, Decimal("10.00"))]
    )
    answer = httpx.post(f"{stack.sandbox_url(channel)}/__sandbox/orders", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def listing_id(product: Product, channel: str) -> str:
    refs = product.refs[channel]
    return refs.get("variant_id") or refs["item_id"]


def assert_every_channel_shows_the_derived_quantity(stack: LocalStack, product: Product) -> None:
    catalog, inventory, _ = stores(stack)
    level = inventory.get(product.sku)
    assert level is not None
    for channel in CHANNELS:
        listing = catalog.listing(product.sku, channel)
        assert listing is not None
        derived = channel_quantity(level.available, listing.rules)
        assert shows(stack, channel, listing_id(product, channel)) == derived, channel


@pytest.mark.parametrize("channel", CHANNELS)
def test_an_order_placed_in_a_channel_is_taken_once_and_every_channel_follows(
    stack: LocalStack, channel: str
) -> None:
    product = make_product(stack, on_hand=10, rules=ListingRules(buffer=1))
    order_id = place(stack, channel, product, 3)
    assert stack.wait_idle(30)
    _, inventory, orders = stores(stack)
    order = orders.get(stack.order_key(channel, order_id))
    assert order is not None and order.status.value == "reserved"
    assert [ln.sku for ln in order.lines] == [product.sku]
    level = inventory.get(product.sku)
    assert level is not None and (level.reserved, level.available) == (3, 7)
    # The channel that sold lowered its own count to 47 (from a stale 50); Keel's derived
    # quantity is what it ends up showing, as every other channel does.
    assert_every_channel_shows_the_derived_quantity(stack, product)
    assert shows(stack, "woocommerce", product.woo_id) == 6  # buffer 1
    assert shows(stack, "shopify", product.variant_id) == 7


def test_a_cap_change_reaches_the_channel_although_no_stock_moved(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    product = make_product(stack, on_hand=40)
    assert shows(stack, "woocommerce", product.woo_id) == 40
    state = stack.write_state(tmp_path / "local.json")
    args = ["--state-file", str(state), "listings", "set", product.sku, "woocommerce"]
    assert keel([*args, "--cap", "10", "--reason", "slow mover", "--actor", "ops", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cap"] == 10
    assert stack.wait_idle(30)
    assert shows(stack, "woocommerce", product.woo_id) == 10
    assert shows(stack, "shopify", product.variant_id) == 40  # other channels unaffected
    catalog, _, _ = stores(stack)
    (change,) = catalog.rule_changes(product.sku)
    assert (change["actor"], change["reason"], change["cap"]) == ("ops", "slow mover", 10)
    # validated: nothing changes on a refused value
    assert keel([*args, "--share", "1.5", "--reason", "typo"]) == 2
    assert keel([*args, "--buffer", "-1", "--reason", "typo"]) == 2
    assert len(catalog.rule_changes(product.sku)) == 1
    capsys.readouterr()
    # #21: a change that changes nothing writes no audit entry; a change says before -> after
    assert keel([*args, "--cap", "10", "--reason", "again"]) == 0
    assert "no change" in capsys.readouterr().out
    assert keel([*args, "--cap", "12", "--reason", "more room"]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "cap 10 → share" in said and "cap 12 (by" in said
    assert [c["cap"] for c in catalog.rule_changes(product.sku)] == [10, 12]


def test_the_scheduled_resync_repairs_a_channel_changed_by_hand(stack: LocalStack) -> None:
    product = make_product(stack, on_hand=5)
    refs = product.refs["shopify"]
    shopify(stack).set_level(refs["inventory_item_id"], 99, refs["location_id"])
    woo(stack).add_product(product.woo_id, product.sku, product.sku, 99)  # edited in the admin
    assert shows(stack, "shopify", product.variant_id) == 99
    stack.fire_schedule("resync-all-listings")
    assert stack.wait_idle(30)
    assert_every_channel_shows_the_derived_quantity(stack, product)


def test_a_shopify_outage_ends_in_retries_then_the_right_value(stack: LocalStack) -> None:
    product = make_product(stack, on_hand=4)
    shopify(stack).fail_next(2, 503)
    place(stack, "woocommerce", product, 1)
    assert stack.wait_idle(60)
    assert shows(stack, "shopify", product.variant_id) == 3
    assert stack.queue_depths()["sync-shopify-dlq"] == 0


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_cancellation_in_a_channel_returns_the_stock_to_every_channel(
    stack: LocalStack, channel: str
) -> None:
    product = make_product(stack, on_hand=6)
    order_id = place(stack, channel, product, 4)
    assert stack.wait_idle(30)
    assert shows(stack, "shopify", product.variant_id) == 2
    cancel = httpx.post(
        f"{stack.sandbox_url(channel)}/__sandbox/orders/{order_id}/cancel", timeout=10
    )
    assert cancel.status_code == 200, cancel.text
    assert stack.wait_idle(30)
    _, inventory, orders = stores(stack)
    order = orders.get(stack.order_key(channel, order_id))
    assert order is not None and order.status.value == "cancelled"
    level = inventory.get(product.sku)
    assert level is not None and (level.reserved, level.available) == (0, 6)
    assert_every_channel_shows_the_derived_quantity(stack, product)
    assert shows(stack, "woocommerce", product.woo_id) == 6


def test_stock_receipts_and_adjustments_reach_every_channel_once(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    product = make_product(stack, on_hand=2)
    place(stack, "shopify", product, 1)
    assert stack.wait_idle(30)
    state = stack.write_state(tmp_path / "local.json")
    base = ["--state-file", str(state), "stock"]
    for _ in range(2):  # the same receipt booked twice adds once
        assert keel([*base, "receive", product.sku, "5", "--reference", "PO-9", "--json"]) == 0
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert (first["applied"], second["applied"], second["on_hand"]) == (True, False, 7)
    adjust = [*base, "adjust", product.sku, "-2", "--reference", "COUNT-7", "--json"]
    assert keel([*adjust, "--reason", "damaged"]) == 0
    assert keel([*adjust, "--reason", "damaged (retyped)"]) == 0  # same reference: once
    assert [json.loads(x)["on_hand"] for x in capsys.readouterr().out.splitlines()] == [5, 5]
    # never below what orders hold: 5 on hand, 1 reserved
    assert keel([*base, "adjust", product.sku, "-5", "--reason", "count"]) == 2
    assert "removing 5, but only 4 are not promised" in " ".join(capsys.readouterr().out.split())
    # #21: a reference reused for a different quantity is refused, saying what it holds
    assert keel([*base, "receive", product.sku, "3", "--reference", "PO-9"]) == 1
    assert "PO-9 already records +5 (receipt" in capsys.readouterr().out
    assert keel([*base, "receive", product.sku, "5", "--reference", "PO-9"]) == 0
    assert "already recorded as this; nothing changed" in capsys.readouterr().out
    assert keel([*base, "receive", "NO-SUCH-SKU", "1", "--reference", "x"]) == 1
    assert stack.wait_idle(30)
    _, inventory, _ = stores(stack)
    level = inventory.get(product.sku)
    assert level is not None and (level.on_hand, level.reserved) == (5, 1)
    assert sum(m.quantity for m in inventory.ledger(product.sku)) == 5
    assert_every_channel_shows_the_derived_quantity(stack, product)


def test_a_held_order_does_not_leave_its_channel_showing_less(stack: LocalStack) -> None:
    """The shop lowered its own count for an order Keel holds (no stock moved in Keel): the
    shop is brought back to the derived quantity, not left until the next resync."""
    product = make_product(stack, on_hand=2)
    order_id = place(stack, "woocommerce", product, 3)
    assert stack.wait_idle(30)
    _, _, orders = stores(stack)
    order = orders.get(stack.order_key("woocommerce", order_id))
    assert order is not None and order.status.value == "held"
    assert_every_channel_shows_the_derived_quantity(stack, product)
    assert shows(stack, "woocommerce", product.woo_id) == 2


def test_an_order_whose_webhook_never_arrived_is_found_by_the_poll(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """WooCommerce never retries a failed delivery: the scheduled poll takes the order in,
    once, counts it as missed by webhooks, and a cancellation it finds releases the stock."""
    product = make_product(stack, on_hand=5)
    sandbox = stack.sandboxes["woocommerce"]
    body = sandbox.order_body(
        [SandboxLine(product.refs["woocommerce"], product.sku, product.sku, 2, Decimal("10.00"))]
    )
    url = f"{stack.sandbox_url('woocommerce')}/__sandbox/orders"
    order_id = httpx.post(url, params={"notify": "false"}, json=body, timeout=10).json()["id"]
    assert stack.wait_idle(30)
    _, inventory, orders = stores(stack)
    # No webhook: Keel does not know it.
    assert orders.get(stack.order_key("woocommerce", order_id)) is None
    state = stack.write_state(tmp_path / "local.json")
    assert keel(["--state-file", str(state), "poll", "woocommerce", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert stack.order_key("woocommerce", order_id) in report["missed_by_webhooks"]
    assert stack.wait_idle(30)
    level = inventory.get(product.sku)
    assert level is not None and level.reserved == 2
    assert_every_channel_shows_the_derived_quantity(stack, product)
    again = stack.fire_schedule("poll-woocommerce")  # overlapping poll: nothing twice
    assert stack.order_key("woocommerce", order_id) not in again["missed_by_webhooks"]
    httpx.post(f"{url}/{order_id}/cancel", params={"notify": "false"}, timeout=10)
    stack.fire_schedule("poll-woocommerce")
    assert stack.wait_idle(30)
    level = inventory.get(product.sku)
    assert level is not None and level.reserved == 0
    order = orders.get(stack.order_key("woocommerce", order_id))
    assert order is not None and order.status.value == "cancelled"
    assert (
        keel(["--state-file", str(state), "orders", "show", f"woocommerce#{order_id}", "--json"])
        == 0
    )
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "cancelled" and shown["reserved"] == {}
    assert [(status, note) for _, status, note in shown["history"]] == [
        ("reserved", "stock reserved (poll)"),
        ("cancelled", "poll"),
    ]


def test_refunds_are_recorded_and_a_full_refund_returns_the_stock_everywhere(
    stack: LocalStack,
) -> None:
    """A WooCommerce order lists its refunds without their lines: a partial refund that
    restocked in the shop is recorded and the shop is put back on Keel's number (the order
    still holds its goods); the full refund ends it and releases them to every channel."""
    product = make_product(stack, on_hand=6)
    order_id = place(stack, "woocommerce", product, 3)
    assert stack.wait_idle(30)
    sandbox_orders = f"{stack.sandbox_url('woocommerce')}/__sandbox/orders"
    line_id = str(woo(stack).order(int(order_id))["line_items"][0]["id"])
    partial = httpx.post(
        f"{sandbox_orders}/{order_id}/refund",
        json={"amount": "10.00", "reason": "scratched", "restock": True,
              "lines": [{"line_id": line_id, "quantity": 1}]},
        timeout=10,
    )  # fmt: skip
    assert partial.status_code == 200, partial.text
    assert stack.wait_idle(30)
    _, inventory, orders = stores(stack)
    order = orders.get(stack.order_key("woocommerce", order_id))
    assert order is not None and order.status.value == "partially_refunded"
    assert [(r.amount.amount, r.note) for r in order.refunds] == [(Decimal("10.00"), "scratched")]
    assert inventory.get(product.sku).reserved == 3
    assert_every_channel_shows_the_derived_quantity(stack, product)
    refused = httpx.post(f"{sandbox_orders}/{order_id}/refund", json={"amount": "99"}, timeout=10)
    assert refused.status_code == 400  # more than is left: the shop refuses it
    full = httpx.post(f"{sandbox_orders}/{order_id}/refund", json={"amount": "20.00"}, timeout=10)
    assert full.json()["status"] == "refunded"
    assert stack.wait_idle(30)
    order = orders.get(stack.order_key("woocommerce", order_id))
    assert order is not None and order.status.value == "refunded"
    assert inventory.get(product.sku).reserved == 0
    assert_every_channel_shows_the_derived_quantity(stack, product)
    assert shows(stack, "shopify", product.variant_id) == 6


def test_a_poll_that_meets_an_outage_retries_and_never_moves_past_an_order(
    stack: LocalStack,
) -> None:
    """Short outages are retried within the run; a long one fails the run with the watermark
    where it was, and the next run takes the order."""
    product = make_product(stack, on_hand=5)
    url = f"{stack.sandbox_url('woocommerce')}/__sandbox"
    body = woo(stack).order_body(
        [SandboxLine(product.refs["woocommerce"], product.sku, product.sku, 1, Decimal("10.00"))]
    )
    first = httpx.post(f"{url}/orders", params={"notify": "false"}, json=body, timeout=10)
    assert stack.wait_idle(30)
    httpx.post(f"{url}/outage", json={"requests": 2, "status": 503}, timeout=10)
    report = stack.fire_schedule("poll-woocommerce")
    assert stack.order_key("woocommerce", first.json()["id"]) in report["missed_by_webhooks"]
    assert stack.wait_idle(30)
    _, _, orders = stores(stack)
    watermark = orders.watermark("woocommerce", stack.account("woocommerce"))

    second = httpx.post(f"{url}/orders", params={"notify": "false"}, json=body, timeout=10)
    assert stack.wait_idle(30)
    httpx.post(f"{url}/outage", json={"requests": 20, "status": 429}, timeout=10)
    with pytest.raises(RetryableError):
        stack.fire_schedule("poll-woocommerce")
    assert orders.watermark("woocommerce", stack.account("woocommerce")) == watermark
    httpx.post(f"{url}/outage", json={"requests": 0}, timeout=10)
    report = stack.fire_schedule("poll-woocommerce")
    assert stack.order_key("woocommerce", second.json()["id"]) in report["missed_by_webhooks"]
    assert stack.wait_idle(30)
    order = orders.get(stack.order_key("woocommerce", second.json()["id"]))
    assert order is not None and order.status.value == "reserved"
    assert_every_channel_shows_the_derived_quantity(stack, product)


# --- the Shopify poll backstop ---
def place_unnotified_in_shopify(stack: LocalStack, product: Product, qty: int) -> str:
    """An order Shopify has but whose webhook never reached Keel."""
    body = shopify(stack).order_body(
        [SandboxLine(product.refs["shopify"], product.sku, product.sku, qty, Decimal("10.00"))]
    )
    url = f"{stack.sandbox_url('shopify')}/__sandbox/orders"
    answer = httpx.post(url, params={"notify": "false"}, json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def test_a_shopify_order_whose_webhook_never_arrived_is_found_by_the_next_poll(
    stack: LocalStack, specs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    product = make_product(stack, on_hand=5)
    order_id = place_unnotified_in_shopify(stack, product, 2)
    key = stack.order_key("shopify", order_id)
    assert stack.wait_idle(30)
    _, inventory, orders = stores(stack)
    assert orders.get(key) is None  # no webhook: Keel does not know it
    state = stack.write_state(tmp_path / "local.json")
    assert keel(["--state-file", str(state), "poll", "shopify", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert key in report["missed_by_webhooks"]
    assert stack.wait_idle(30)
    level = inventory.get(product.sku)
    assert level is not None and level.reserved == 2
    order = orders.get(key)
    assert order is not None and order.status.value == "reserved"
    assert [ln.sku for ln in order.lines] == [product.sku]
    again = stack.fire_schedule("poll-shopify")  # the overlap re-reads it: nothing twice
    assert key not in again["missed_by_webhooks"]
    url = f"{stack.sandbox_url('shopify')}/__sandbox/orders/{order_id}/cancel"
    httpx.post(url, params={"notify": "false"}, json={}, timeout=10)
    stack.fire_schedule("poll-shopify")  # the cancellation too reaches Keel only by the poll
    assert stack.wait_idle(30)
    level = inventory.get(product.sku)
    assert level is not None and level.reserved == 0
    order = orders.get(key)
    assert order is not None and order.status.value == "cancelled"


def test_shopify_polls_during_an_outage_fail_and_the_next_takes_the_order(
    stack: LocalStack, specs: Path
) -> None:
    """Retried within the run (Retry-After honoured), then the run fails: with 429 and with
    503, the watermark stays where it was, and the first poll after the outage takes the order."""
    product = make_product(stack, on_hand=5)
    stack.fire_schedule("poll-shopify")  # the watermark is where earlier polls left it
    _, inventory, orders = stores(stack)
    account = stack.account("shopify")
    watermark = orders.watermark("shopify", account)
    order_id = place_unnotified_in_shopify(stack, product, 1)
    assert stack.wait_idle(30)
    outage = f"{stack.sandbox_url('shopify')}/__sandbox/outage"
    try:
        for status in (429, 503):
            httpx.post(outage, json={"requests": 20, "status": status}, timeout=10)
            with pytest.raises(RetryableError):
                stack.fire_schedule("poll-shopify")
            assert orders.watermark("shopify", account) == watermark, status  # not past it
    finally:
        httpx.post(outage, json={"requests": 0}, timeout=10)
    report = stack.fire_schedule("poll-shopify")
    key = stack.order_key("shopify", order_id)
    assert key in report["missed_by_webhooks"]
    assert stack.wait_idle(30)
    order = orders.get(key)
    assert order is not None and order.status.value == "reserved"
    level = inventory.get(product.sku)
    assert level is not None and level.reserved == 1
