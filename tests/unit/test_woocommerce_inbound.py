"""WooCommerce order webhooks: the spec's signed vector, the ping, and a strict parser."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from shared.channels.port import OrderNotice, ParsesWebhooks
from shared.channels.woocommerce.orders import WooOrdersInbound
from shared.channels.woocommerce.signature import is_ping, sign, verify, verify_headers
from shared.domain.orders import Order

CREATED = {"x-wc-webhook-topic": "order.created"}


def _vector(specs: Path) -> tuple[dict[str, Any], bytes, dict[str, str]]:
    meta = json.loads((specs / "woocommerce/webhooks/order_created.headers.json").read_text())
    body = (specs / "woocommerce/webhooks" / meta["body_file"]).read_bytes()
    return meta, body, {k.lower(): v for k, v in meta["headers"].items()}


def _parse(payload: dict[str, Any]) -> Any:
    return WooOrdersInbound().parse_webhook(CREATED, json.dumps(payload).encode(), "shop.example")


def test_spec_vector_verifies_on_the_exact_bytes_only(specs: Path) -> None:
    meta, body, headers = _vector(specs)
    secret = meta["secret"]
    assert verify_headers(secret, body, headers)
    changed = body.replace(b'"total":"29.35"', b'"total":"29.36"')
    assert changed != body and not verify_headers(secret, changed, headers)
    assert not verify_headers("another secret", body, headers)
    assert not verify(secret, body, None)
    assert not verify("", body, sign("", body))


def test_the_activation_ping_is_a_ping_and_signed_or_other_bodies_are_not(specs: Path) -> None:
    meta, body, headers = _vector(specs)
    ping = meta["ping_on_activation"]
    form = {"content-type": ping["content_type"]}
    assert is_ping(form, ping["body"].encode())
    assert not is_ping(headers, body)  # the order delivery
    assert not is_ping({**form, "x-wc-webhook-signature": "x"}, ping["body"].encode())
    assert not is_ping(form, b"webhook_id=27&x=1")
    assert not is_ping(form, b"{}")


def test_spec_body_parses_into_the_canonical_order(specs: Path) -> None:
    _, body, headers = _vector(specs)
    inbound = WooOrdersInbound()
    assert isinstance(inbound, ParsesWebhooks)
    order = inbound.parse_webhook(headers, body, "shop.example")
    assert isinstance(order, Order)
    assert (order.key, order.name) == ("woocommerce#shop.example#727", "#727")
    assert order.total.amount == Decimal("29.35") and order.total.currency == "USD"
    assert order.presentment_total == order.total
    assert order.created_at == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)
    assert order.channel_updated_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    assert order.charges is not None
    assert (order.charges.discounts, order.charges.shipping, order.charges.tax) == (
        Decimal("0.00"),
        Decimal("10.00"),
        Decimal("1.35"),
    )
    assert order.charges.taxes_included is False
    single, variation = order.lines
    # `price` is a JSON number in the body: the unit price comes from the subtotal string.
    assert (single.line_id, single.quantity, single.unit_price.amount) == ("315", 2, Decimal("3"))
    assert (single.channel_variant_id, single.channel_sku) == ("93", None)  # no variation, sku ""
    assert (variation.channel_variant_id, variation.channel_sku) == ("23", "Bar3")
    assert variation.unit_price.amount == Decimal("12.00")
    assert variation.title == "Ship Your Idea \u2013 Color: Black, Size: M Test"  # &ndash;
    lines = sum((ln.unit_price.amount * ln.quantity for ln in order.lines), Decimal(0))
    charges = order.charges.shipping + order.charges.tax - order.charges.discounts
    assert lines + charges == order.total.amount
    assert all(isinstance(ln.unit_price.amount, Decimal) for ln in order.lines)


def test_a_deleted_product_keeps_no_item_id_and_uneven_subtotals_round(specs: Path) -> None:
    _, body, _ = _vector(specs)
    payload = json.loads(body)
    payload["line_items"][0].update(product_id=0, quantity=3, subtotal="10.00")
    order = _parse(payload)
    assert order.lines[0].channel_variant_id is None
    assert order.lines[0].unit_price.amount == Decimal("3.3333")


def test_other_topics_are_not_acted_on(specs: Path) -> None:
    _, body, _ = _vector(specs)
    for topic in ("order.restored", "product.deleted", ""):
        assert (
            WooOrdersInbound().parse_webhook({"x-wc-webhook-topic": topic}, body, "shop.example")
            is None
        )
    assert WooOrdersInbound().parse_webhook({}, body, "shop.example") is None


def test_order_deleted_names_the_order_to_read_again() -> None:
    """WooCommerce sends only `{"id"}` for a trashed or deleted order (WC_Webhook)."""
    headers = {"x-wc-webhook-topic": "order.deleted"}
    notice = WooOrdersInbound().parse_webhook(headers, b'{"id": 727}', "shop.example")
    assert notice == OrderNotice("727", deleted=True)
    with pytest.raises(ValueError):
        WooOrdersInbound().parse_webhook(headers, b'{"id": "727/../x"}', "shop.example")


@pytest.mark.parametrize(
    ("where", "field", "value"),
    [
        ("line", "quantity", True),
        ("line", "quantity", "2"),
        ("line", "quantity", 10**39 + 1),
        ("line", "quantity", 0),
        ("line", "quantity", 100_001),
        ("line", "quantity", 2.0),
        ("line", "id", "315"),
        ("line", "product_id", True),
        ("line", "subtotal", "1E+999999999"),
        ("line", "subtotal", 6.0),
        ("order", "total", "NaN"),
        ("order", "total", "Infinity"),
        ("order", "total", "1E+999999999"),
        ("order", "total", "-29.35"),
        ("order", "total", "29.35001"),
        ("order", "total", "1234567890123456.78"),
        ("order", "total", 29.35),
        ("order", "id", "727"),
        ("order", "id", True),
        ("order", "currency", "usd"),
        ("order", "prices_include_tax", "false"),
        ("order", "date_modified_gmt", "22/03/2017"),
        ("order", "date_created_gmt", None),
    ],
)
def test_loose_types_are_refused(specs: Path, where: str, field: str, value: Any) -> None:
    _, body, _ = _vector(specs)
    payload = json.loads(body)
    (payload["line_items"][0] if where == "line" else payload)[field] = value
    with pytest.raises(ValidationError):
        _parse(payload)


def test_bare_nan_and_unparseable_bodies_are_refused(specs: Path) -> None:
    _, body, _ = _vector(specs)
    nan = body.replace(b'"total":"29.35"', b'"total":NaN')
    for raw in (nan, b"not json", b'{"id": 1}', b"webhook_id=27"):
        with pytest.raises(ValidationError):
            WooOrdersInbound().parse_webhook(CREATED, raw, "shop.example")


@pytest.mark.parametrize(
    ("status", "ended"),
    [("cancelled", True), ("failed", True), ("processing", False), ("on-hold", False)],
)
def test_the_status_in_the_signed_body_says_whether_the_order_is_over(
    specs: Path, status: str, ended: bool
) -> None:
    _, body, _ = _vector(specs)
    payload = json.loads(body)
    payload["status"] = status
    for topic in ("order.created", "order.updated"):
        order = WooOrdersInbound().parse_webhook(
            {"x-wc-webhook-topic": topic}, json.dumps(payload).encode(), "shop.example"
        )
        assert isinstance(order, Order) and (order.cancelled_at is not None) == ended


@pytest.mark.parametrize("inclusive", [False, True])
def test_totals_of_tax_inclusive_shops_and_fees_add_up(specs: Path, inclusive: bool) -> None:
    """Woo line, shipping and fee totals are without tax whichever way prices were typed."""
    from shared.domain.order_checks import implausibility

    _, body, _ = _vector(specs)
    payload = json.loads(body)
    payload["prices_include_tax"] = inclusive
    payload["fee_lines"] = [{"total": "2.00"}, {"total": "-0.50"}]
    payload["total"] = "30.85"  # 29.35 + 2.00 - 0.50
    order = WooOrdersInbound().parse_webhook(
        {"x-wc-webhook-topic": "order.created"}, json.dumps(payload).encode(), "shop.example"
    )
    assert isinstance(order, Order)
    assert implausibility(order, payload["currency"]) is None
    payload["total"] = "35.00"
    forged = WooOrdersInbound().parse_webhook(
        {"x-wc-webhook-topic": "order.created"}, json.dumps(payload).encode(), "shop.example"
    )
    assert isinstance(forged, Order) and implausibility(forged, payload["currency"]) is not None


def test_refunds_listed_on_the_order_are_recorded_and_refunded_status_ends_it(
    specs: Path,
) -> None:
    _, body, _ = _vector(specs)
    payload = json.loads(body)
    payload["refunds"] = [{"id": 726, "reason": "Damaged", "total": "-10.00"}]
    order = _parse(payload)
    (refund,) = order.refunds
    assert (refund.refund_id, refund.amount.amount, refund.note) == (
        "726",
        Decimal("10.00"),
        "Damaged",
    )
    assert refund.amount.currency == payload["currency"]
    assert not order.fully_refunded and order.cancelled_at is None
    payload["status"] = "refunded"
    order = _parse(payload)
    assert order.fully_refunded and order.cancelled_at is None
    payload["refunds"][0]["total"] = "-1e3"
    with pytest.raises(ValidationError):
        _parse(payload)
