"""No customer data in logs: orders from the demo's customers run through the local stack, and
every log line any function (or the local stack) wrote is scanned for their e-mails, names,
phone numbers and address lines.

Captured at the level dev logs at (DEBUG for Keel's loggers, INFO for libraries), in two ways:
every log record (message, arguments, extra keys, exception text, and the JSON line Powertools
makes of it) through pytest's `caplog`, which Powertools' root-handler filter leaves alone, and
whatever reached the process's stdout/stderr through `capfd`.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from aws_lambda_powertools import Logger

from local_stack.sandboxes.base import SandboxLine
from local_stack.stack import LocalStack, stores
from shared.wiring import WIRING
from tests.e2e.conftest import Product, make_product, shopify, woo

pytestmark = pytest.mark.e2e

LOCAL_STACK_LOGGER = "keel.local"  # the pollers, stream readers and scheduler


def keel_loggers() -> list[str]:
    """Every function's Powertools logger name (importing the handlers registers them)."""
    names = {LOCAL_STACK_LOGGER}
    for function in WIRING.functions:
        module = importlib.import_module(function.handler.split(":")[0])
        names |= {v.service for v in vars(module).values() if isinstance(v, Logger)}
    return sorted(names)


def pii_of(order: dict[str, Any]) -> set[str]:
    """The customer fields of a channel order body (Shopify or WooCommerce shape)."""
    found: set[str] = set()
    for key in ("email", "contact_email", "phone"):
        if order.get(key):
            found.add(str(order[key]))
    for kind in ("billing", "shipping", "customer", "shipping_address", "billing_address"):
        party = order.get(kind) or {}
        first, last = party.get("first_name", ""), party.get("last_name", "")
        if first and last:
            found |= {f"{first} {last}", last}  # a first name alone ("Demo") is too common
        for key in ("email", "phone", "address_1", "address1", "address_2", "address2", "zip"):
            if party.get(key):
                found.add(str(party[key]))
        if party.get("postcode"):
            found.add(str(party["postcode"]))
    return {v for v in found if len(v.strip()) >= 4}


def forms(value: str) -> set[str]:
    """As the value may appear in a log line: itself, JSON-escaped, repr-escaped."""
    return {value, json.dumps(value)[1:-1], repr(value)[1:-1]}


def leaks(texts: Iterable[str], needles: set[str]) -> list[tuple[str, str]]:
    found = []
    for text in texts:
        for needle in needles:
            if any(form in text for form in forms(needle)):
                found.append((needle, text[:300]))
    return found


def record_texts(records: Iterable[logging.LogRecord]) -> list[str]:
    """All a record carries: message, arguments, extra keys, exception, the Powertools line."""
    texts = []
    for record in records:
        texts.append(record.getMessage())
        texts.append(repr(vars(record)))
        if record.exc_info:
            texts.append(logging.Formatter().formatException(record.exc_info))
        handler = getattr(logging.getLogger(record.name), "powertools_handler", None)
        if handler is not None:
            texts.append(handler.format(record))
    return texts


def place(stack: LocalStack, channel: str, product: Product, qty: int, **params: str) -> str:
    sandbox = stack.sandboxes[channel]
    body = sandbox.order_body(
        [SandboxLine(product.refs[channel], product.sku, product.sku, qty, Decimal("10.00"))]
    )
    url = f"{stack.sandbox_url(channel)}/__sandbox/orders"
    answer = httpx.post(url, params=params, json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def test_the_scan_finds_a_customer_field_however_it_is_written() -> None:
    needles = {"Zoë Ångström", "buyer@example.com"}
    record = logging.LogRecord("keel-ingest", logging.INFO, "", 0, "held", None, None)
    record.reason = "name: Zoë Ångström"
    assert leaks(record_texts([record]), needles)
    assert leaks([json.dumps({"m": "Zoë Ångström"})], needles)  # ASCII-escaped JSON
    assert not leaks(["order taken", "keel-demo.myshopify.com"], needles)


def test_no_customer_data_reaches_the_logs(
    stack: LocalStack, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    names = keel_loggers()  # before capturing: each Powertools logger is set up once
    caplog.set_level(logging.INFO)  # libraries (the root logger)
    for name in names:  # last: set_level also sets the capturing handler's level
        caplog.set_level(logging.DEBUG, logger=name)
    capfd.readouterr()  # only what this test makes

    needles = pii_of(woo(stack).order_body([])) | pii_of(shopify(stack).order_payload([]))
    assert {"buyer@example.com", "Demo Buyer", "1 Keel Street"} <= needles  # the demo's buyer

    # A reserved WooCommerce order, a Shopify order held for stock, one the poll finds.
    product = make_product(stack, on_hand=3)
    woo_order = place(stack, "woocommerce", product, 2)
    held_order = place(stack, "shopify", product, 5)
    polled = place(stack, "woocommerce", product, 1, notify="false")
    # A validly signed body Keel cannot parse, full of customer data in the wrong places: its
    # validation errors must say where, not what.
    customer = {
        "first_name": "Zoë",
        "last_name": "Ångström",
        "address1": "12 Privacy Lane",
        "phone": "+31 6 1234 5678",
        "email": "zoe.angstrom@example.org",
        "zip": "9999 ZZ",
    }
    garbled = {
        "id": 4242,
        "email": customer["email"],
        "customer": customer,
        "shipping_address": customer,
        "line_items": f"{customer['first_name']} {customer['last_name']}, {customer['address1']}",
        "total_price": customer["email"],
        "created_at": customer["phone"],
    }
    needles |= pii_of(garbled)
    body = json.dumps(garbled).encode()
    headers = shopify(stack).headers(body, webhook_id="privacy-1")
    url = stack.webhook_url_for("shopify")
    assert shopify(stack).deliver(url, body, headers).status_code == 200
    assert stack.wait_idle(30)
    stack.fire_schedule("poll-woocommerce")
    assert stack.wait_idle(30)

    _, _, orders = stores(stack)
    statuses = {
        key: (o.status.value if (o := orders.get(key)) else None)
        for key in (
            stack.order_key("woocommerce", woo_order),
            stack.order_key("shopify", held_order),
            stack.order_key("woocommerce", polled),
        )
    }
    assert list(statuses.values()) == ["reserved", "held", "reserved"], statuses
    (held,) = [h for h in orders.held_deliveries() if h.delivery_id == "privacy-1"]
    assert held.raw_body.encode() == body  # the body keeps the data (until it expires) ...
    assert not leaks([held.reason], needles), held.reason  # ... its reason does not

    messages = {(r.name, r.getMessage()) for r in caplog.records}
    assert ("keel-ingest", "delivery held") in messages  # the capture saw the functions log
    assert ("keel-ingest", "order taken") in messages
    assert ("keel-poll", "order found by the poll, not by a webhook") in messages
    out, err = capfd.readouterr()
    found = leaks([*record_texts(caplog.records), caplog.text, out, err], needles)
    assert not found, found[:5]
