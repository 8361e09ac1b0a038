from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from local_stack.sandboxes.shopify import SandboxLine, ShopifySandbox
from shared.channels.port import ListingChanged
from shared.channels.shopify.orders import ShopifyOrdersInbound
from shared.channels.shopify.signature import sign, verify
from shared.domain.order_checks import implausibility
from shared.domain.orders import Order, OrderCharges


def _vector(specs: Path) -> tuple[str, bytes, dict[str, str]]:
    meta = json.loads((specs / "shopify/webhooks/orders_cancelled.sample.headers.json").read_text())
    body = (specs / "shopify/webhooks" / meta["body_file"]).read_bytes()
    return meta["secret"], body, meta["headers"]


def test_signature_vector_verifies_on_the_exact_bytes(specs: Path) -> None:
    secret, body, headers = _vector(specs)
    assert verify(secret, body, headers["X-Shopify-Hmac-Sha256"])


def test_signature_fails_on_reserialized_body_wrong_secret_or_missing_header(specs: Path) -> None:
    secret, body, headers = _vector(specs)
    reserialized = json.dumps(json.loads(body)).encode()
    assert not verify(secret, reserialized, headers["X-Shopify-Hmac-Sha256"])
    assert not verify("other", body, headers["X-Shopify-Hmac-Sha256"])
    assert not verify(secret, body, None)
    assert not verify("", body, sign("", body))


def test_spec_sample_normalizes_to_a_canonical_order(specs: Path) -> None:
    _, body, _ = _vector(specs)
    order = ShopifyOrdersInbound().parse_webhook(
        {"X-Shopify-Topic": "orders/create"}, body, "keel-demo.myshopify.com"
    )
    assert isinstance(order, Order)
    assert order.key == "shopify#keel-demo.myshopify.com#820982911946154508"
    assert order.total.amount == Decimal("414.95") and order.total.currency == "USD"
    assert order.created_at.tzinfo == UTC
    assert order.created_at == datetime(2022, 1, 1, 0, 0, tzinfo=UTC)  # -05:00 in the sample
    first = order.lines[0]
    assert (first.channel_sku, first.quantity, first.unit_price.amount) == (
        "SKU2006-001",
        1,
        Decimal("89.99"),
    )
    assert first.channel_variant_id is None  # the sample's variant_id is null
    assert all(isinstance(ln.unit_price.amount, Decimal) for ln in order.lines)


def test_topics_keel_does_not_act_on_are_ignored(specs: Path) -> None:
    _, body, _ = _vector(specs)
    for topic in ("orders/delete", "orders/edited", "products/update", ""):
        assert (
            ShopifyOrdersInbound().parse_webhook(
                {"x-shopify-topic": topic}, body, "keel-demo.myshopify.com"
            )
            is None
        )


def test_the_signed_body_not_the_topic_says_the_order_is_cancelled(specs: Path) -> None:
    """An unsigned header cannot turn a live order into a cancelled one, or back."""
    _, body, _ = _vector(specs)
    for topic in ("orders/create", "orders/updated", "orders/cancelled"):
        order = ShopifyOrdersInbound().parse_webhook(
            {"x-shopify-topic": topic}, body, "keel-demo.myshopify.com"
        )
        assert (
            isinstance(order, Order) and order.cancelled_at is not None
        )  # the sample is cancelled


def test_lines_follow_edits_through_current_quantity(specs: Path) -> None:
    def change(p: dict[str, Any]) -> None:
        p["line_items"][0]["current_quantity"] = 0  # removed by an edit
        p["line_items"][1]["current_quantity"] = 3

    order = _parse(specs, change)
    assert isinstance(order, Order)
    assert [ln.quantity for ln in order.lines][:1] == [3]
    assert len(order.lines) == 4


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"id": 1}', b'{"id": 1, "line_items": "x"}'],
)
def test_unparseable_bodies_raise_validation_errors(body: bytes) -> None:
    with pytest.raises(ValidationError):
        ShopifyOrdersInbound().parse_webhook(
            {"X-Shopify-Topic": "orders/create"}, body, "keel-demo.myshopify.com"
        )


def test_sandbox_orders_have_the_spec_shape(specs: Path) -> None:
    """The sandbox sends only fields the real payload has, with the same JSON types."""
    _, body, _ = _vector(specs)
    real = json.loads(body)
    sandbox = ShopifySandbox("s")
    payload = sandbox.order_payload([SandboxLine(1, "A", "Mug", 2, Decimal("3.50"))])
    for key, value in payload.items():
        assert key in real, key
        if value is not None and real[key] is not None:
            assert type(value) is type(real[key]), key
    real_line = real["line_items"][0]
    for key, value in payload["line_items"][0].items():
        assert key in real_line, key
        if value is not None and real_line[key] is not None:
            assert type(value) is type(real_line[key]), key
    order = ShopifyOrdersInbound().parse_webhook(
        {"X-Shopify-Topic": "orders/create"}, sandbox.encode(payload), "keel-demo.myshopify.com"
    )
    assert isinstance(order, Order) and order.total.amount == Decimal("7.00")


def test_sandbox_headers_match_the_spec_headers(specs: Path) -> None:
    _, _, real = _vector(specs)
    sandbox = ShopifySandbox("secret")
    headers = sandbox.headers(b"{}")
    assert set(headers) <= set(real)
    assert verify("secret", b"{}", headers["X-Shopify-Hmac-Sha256"])


def test_pre_2026_rest_shape_without_money_sets_is_refused_not_guessed(specs: Path) -> None:
    """The old REST fixture has no shop/presentment money sets: Keel will not guess currencies.
    Ingest keeps such a body as a held delivery (see docs/decisions.md)."""
    old = json.loads((specs / "shopify/rest-fixtures/order.json").read_text())["order"]
    with pytest.raises(ValidationError) as refused:
        ShopifyOrdersInbound().parse_webhook(
            {"X-Shopify-Topic": "orders/create"},
            json.dumps(old).encode(),
            "keel-demo.myshopify.com",
        )
    missing = {".".join(str(p) for p in e["loc"]) for e in refused.value.errors()}
    assert {"total_price_set", "presentment_currency", "line_items.0.price_set"} <= missing


# --- strictness at the edge: refuse what Shopify never sends rather than interpret it ---


def _parse(specs: Path, change: Callable[[dict[str, Any]], None]) -> Order | None:
    _, body, _ = _vector(specs)
    payload = json.loads(body)
    change(payload)
    order = ShopifyOrdersInbound().parse_webhook(
        {"X-Shopify-Topic": "orders/create"},
        json.dumps(payload).encode(),
        "keel-demo.myshopify.com",
    )
    assert not isinstance(order, ListingChanged)
    return order


def _refused_at(specs: Path, change: Callable[[dict[str, Any]], None]) -> set[str]:
    with pytest.raises(ValidationError) as refused:
        _parse(specs, change)
    return {".".join(str(p) for p in e["loc"][:3]) for e in refused.value.errors()}


@pytest.mark.parametrize("quantity", [True, "2", 0, -1, 100_001, 10**39 + 1, 2.0])
def test_a_quantity_must_be_a_plain_bounded_integer(specs: Path, quantity: object) -> None:
    def change(p: dict[str, Any]) -> None:
        p["line_items"][0]["quantity"] = quantity

    assert "line_items.0.quantity" in _refused_at(specs, change)


def test_the_largest_quantity_is_accepted(specs: Path) -> None:
    def change(p: dict[str, Any]) -> None:
        p["line_items"][0]["quantity"] = 100_000
        p["line_items"][0]["current_quantity"] = 100_000

    order = _parse(specs, change)
    assert isinstance(order, Order) and order.lines[0].quantity == 100_000


@pytest.mark.parametrize("value", [True, "820982911946154508", 0, 2**64])
def test_ids_must_be_integers(specs: Path, value: object) -> None:
    def change(p: dict[str, Any]) -> None:
        p["id"] = value
        p["line_items"][0]["id"] = value
        p["line_items"][0]["variant_id"] = value

    assert {"id", "line_items.0.id", "line_items.0.variant_id"} <= _refused_at(specs, change)


@pytest.mark.parametrize(
    "amount",
    [
        "1E+999999999",
        "1e5",
        "NaN",
        "Infinity",
        "-Infinity",
        " 89.99",
        "1_000",
        "89.99999",
        "1234567890123456789",
        True,
        None,
    ],
)
def test_a_price_must_be_a_plain_bounded_decimal(specs: Path, amount: object) -> None:
    def change(p: dict[str, Any]) -> None:
        p["line_items"][0]["price_set"]["shop_money"]["amount"] = amount

    assert "line_items.0.price_set" in _refused_at(specs, change)


@pytest.mark.parametrize(
    ("amount", "expected"), [(89.99, "89.99"), (12, "12"), ("0.0001", "0.0001")]
)
def test_a_price_may_be_a_json_number_or_string(specs: Path, amount: object, expected: str) -> None:
    def change(p: dict[str, Any]) -> None:
        p["line_items"][0]["price_set"]["shop_money"]["amount"] = amount

    order = _parse(specs, change)
    assert isinstance(order, Order) and order.lines[0].unit_price.amount == Decimal(expected)


def test_nan_as_a_bare_json_token_is_refused(specs: Path) -> None:
    """Python's and pydantic's JSON parsers both read a bare NaN token as a float."""
    _, body, _ = _vector(specs)
    payload = json.loads(body)
    payload["total_price_set"]["shop_money"]["amount"] = "__nan__"
    tampered = json.dumps(payload).replace('"__nan__"', "NaN").encode()
    with pytest.raises(ValidationError) as refused:
        ShopifyOrdersInbound().parse_webhook(
            {"X-Shopify-Topic": "orders/create"}, tampered, "keel-demo.myshopify.com"
        )
    assert refused.value.errors()[0]["loc"][:3] == ("total_price_set", "shop_money", "amount")


def test_charges_come_from_the_shop_money_sets(specs: Path) -> None:
    """The current amounts (after edits and refunds) where Shopify sends them, as the lines are
    their current quantities; the original ones in payloads without them."""
    order = _parse(specs, lambda p: None)
    assert isinstance(order, Order)
    assert order.charges == OrderCharges(
        discounts=Decimal("0.00"), shipping=Decimal("0.00"), tax=Decimal("0.00"),
        taxes_included=False,
    )  # fmt: skip
    assert order.total.amount == Decimal("414.95")
    assert implausibility(order, "USD") is None  # the sample's total follows from its parts

    def originals_only(p: dict[str, Any]) -> None:
        for key in [k for k in p if k.startswith("current_") and k.endswith("_set")]:
            del p[key]

    original = _parse(specs, originals_only)
    assert original is not None and original.total.amount == Decimal("404.95")
    assert original.charges == OrderCharges(
        discounts=Decimal("20.00"), shipping=Decimal("10.00"), tax=Decimal("0.00"),
        taxes_included=False,
    )  # fmt: skip
    assert implausibility(original, "USD") is None


@pytest.mark.parametrize(
    "field", ["total_discounts_set", "total_shipping_price_set", "total_tax_set", "taxes_included"]
)
def test_an_order_without_what_explains_its_total_is_refused(specs: Path, field: str) -> None:
    """Every 2026-10 payload carries them; without them the total cannot be checked."""

    def change(p: dict[str, Any]) -> None:
        del p[field]

    assert field in _refused_at(specs, change)


def test_taxes_included_must_be_a_boolean(specs: Path) -> None:
    def change(p: dict[str, Any]) -> None:
        p["taxes_included"] = "false"

    assert "taxes_included" in _refused_at(specs, change)


def test_gift_cards_tips_and_custom_items_are_not_stock(specs: Path) -> None:
    def change(p: dict[str, Any]) -> None:
        p["line_items"][0]["gift_card"] = True
        p["line_items"][1]["sku"] = None  # a tip / custom item: no variant, no SKU
        p["line_items"][1]["variant_id"] = None

    order = _parse(specs, change)
    assert isinstance(order, Order)
    assert [ln.stock for ln in order.lines][:3] == [False, False, True]


def test_tips_and_duties_are_part_of_the_total(specs: Path) -> None:
    from shared.domain.order_checks import implausibility

    def change(p: dict[str, Any]) -> None:
        p["total_tip_received"] = "5.00"
        p["original_total_duties_set"] = {
            "shop_money": {"amount": "1.50", "currency_code": "USD"},
            "presentment_money": {"amount": "1.50", "currency_code": "USD"},
        }
        p["current_total_price_set"]["shop_money"]["amount"] = "421.45"  # 414.95 + 5.00 + 1.50
        p["current_total_duties_set"] = None

    order = _parse(specs, change)
    assert isinstance(order, Order) and implausibility(order, "USD") is None


def test_refunds_are_read_from_the_order_with_amounts_and_restocking(specs: Path) -> None:
    """The refund resource's own fixture, carried in the order as orders/updated carries it."""
    _, body, _ = _vector(specs)
    payload = json.loads(body)
    resource = json.loads((specs / "shopify/rest-fixtures/refund.json").read_text())["refund"]
    first, second = payload["line_items"][0]["id"], payload["line_items"][1]["id"]
    resource["refund_line_items"][0].update(line_item_id=first, restock_type="cancel")
    resource["refund_line_items"][1].update(line_item_id=second, restock_type="no_restock")
    payload.update(cancelled_at=None, refunds=[resource], financial_status="partially_refunded")
    order = ShopifyOrdersInbound().parse_webhook(
        {"X-Shopify-Topic": "orders/updated"}, json.dumps(payload).encode(), "shop"
    )
    assert isinstance(order, Order) and not order.fully_refunded
    (refund,) = order.refunds
    assert refund.refund_id == "509562969"
    assert refund.amount.amount == Decimal("209.00") and refund.amount.currency == "USD"
    assert [(ln.line_id, ln.quantity, ln.restock) for ln in refund.lines] == [
        (str(first), 1, True),
        (str(second), 1, False),
    ]
    assert refund.note == "it broke during shipping"
    payload["financial_status"] = "refunded"
    order = ShopifyOrdersInbound().parse_webhook(
        {"X-Shopify-Topic": "orders/updated"}, json.dumps(payload).encode(), "shop"
    )
    assert isinstance(order, Order) and order.fully_refunded


def test_a_refund_resource_alone_is_not_an_order(specs: Path) -> None:
    """refunds/create carries no order version: Keel takes the refund from orders/updated."""
    resource = (specs / "shopify/rest-fixtures/refund.json").read_bytes()
    assert (
        ShopifyOrdersInbound().parse_webhook(
            {"X-Shopify-Topic": "refunds/create"}, resource, "shop"
        )
        is None
    )
