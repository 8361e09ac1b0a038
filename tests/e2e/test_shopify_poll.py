"""The Shopify poll backstop, end to end on the local stack: an order whose webhook never came
is found by the next poll (`keel poll shopify`, or its schedule), once, counted as missed by
webhooks; a poll that meets a 429/5xx outage fails without moving past the order, and the next
one takes it."""

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
from tests.e2e.conftest import Product, make_product, shopify

pytestmark = pytest.mark.e2e


def place_unnotified(stack: LocalStack, product: Product, qty: int) -> str:
    """An order Shopify has but whose webhook never reached Keel."""
    body = shopify(stack).order_body(
        [SandboxLine(product.refs["shopify"], product.sku, product.sku, qty, Decimal("10.00"))]
    )
    url = f"{stack.sandbox_url('shopify')}/__sandbox/orders"
    answer = httpx.post(url, params={"notify": "false"}, json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def test_an_order_whose_webhook_never_arrived_is_found_by_the_next_poll(
    stack: LocalStack, specs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    product = make_product(stack, on_hand=5)
    order_id = place_unnotified(stack, product, 2)
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


def test_polls_during_an_outage_fail_and_the_next_takes_the_order(
    stack: LocalStack, specs: Path
) -> None:
    """Retried within the run (Retry-After honoured), then the run fails: with 429 and with
    503, the watermark stays where it was, and the first poll after the outage takes the order."""
    product = make_product(stack, on_hand=5)
    stack.fire_schedule("poll-shopify")  # the watermark is where earlier polls left it
    _, inventory, orders = stores(stack)
    account = stack.account("shopify")
    watermark = orders.watermark("shopify", account)
    order_id = place_unnotified(stack, product, 1)
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
