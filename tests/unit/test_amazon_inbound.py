"""Amazon in: every SP-API notification example in specs is an order notice or rejected with
a reason; getOrder (Orders API 2026-01-01) becomes the canonical order."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from local_stack.sandboxes.amazon import AmazonSandbox
from local_stack.sandboxes.base import SandboxLine
from shared.channels.amazon.notifications import (
    AmazonNotificationsInbound,
    Rejected,
    classify,
)
from shared.channels.amazon.orders import AmazonOrder, AmazonOrderReader, parse_order
from shared.channels.errors import PermanentError
from shared.channels.port import ListingChanged, OrderNotice
from shared.domain.orders import Money
from tests.unit.amazon_support import connect

SPECS = Path(__file__).resolve().parents[2].parent / "shared/specs/amazon-sp-api"
EXAMPLES = sorted((SPECS / "examples").glob("*Notification*.example.json")) + sorted(
    (SPECS / "examples").glob("ListingsItemMfnQuantityChange.example.json")
)


def test_the_specs_are_there() -> None:
    """Fail, not skip, without ../shared/specs (which grows: at least what Keel reads)."""
    names = {path.name for path in EXAMPLES}
    assert "OrderChangeNotification.example.json" in names and len(names) >= 6


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_notification_example_is_an_order_notice_a_listing_change_or_rejected(
    path: Path,
) -> None:
    raw = path.read_bytes()
    body = json.loads(raw)
    payload = body.get("Payload", {})
    seller = payload.get("OrderChangeNotification", payload).get("SellerId", "x")
    found = classify(raw, seller.lower())
    if path.name.startswith("OrderChange"):
        assert found == OrderNotice("903-8868176-2219830")
        inbound = AmazonNotificationsInbound()
        assert inbound.parse_webhook({}, raw, seller.lower()) == found
    elif path.name.startswith("ListingsItemMfnQuantityChange"):
        assert found == ListingChanged((("sku", "NLS-SHOES-03"),))  # read again by ingest
        assert AmazonNotificationsInbound().parse_webhook({}, raw, seller.lower()) == found
    else:
        assert isinstance(found, Rejected)
        kind = body.get("NotificationType") or body.get("notificationType")
        assert found.reason == f"not an order change: notification type {kind!r}"
        assert AmazonNotificationsInbound().parse_webhook({}, raw, "x") is None


def test_an_order_change_for_another_seller_or_malformed_is_refused_with_the_reason() -> None:
    raw = (SPECS / "examples/OrderChangeNotification.example.json").read_bytes()
    with pytest.raises(ValueError, match="another seller"):
        classify(raw, "a2keeldemo0001")
    body = json.loads(raw)
    del body["Payload"]["OrderChangeNotification"]["AmazonOrderId"]
    with pytest.raises(ValueError, match="without AmazonOrderId"):
        classify(json.dumps(body).encode(), "a3th9s8bh6gogm")
    with pytest.raises(ValueError, match="not JSON"):
        classify(b"{", "a3th9s8bh6gogm")


def test_an_amazon_fulfilled_order_change_is_not_keels_stock() -> None:
    body = json.loads((SPECS / "examples/OrderChangeNotification.example.json").read_bytes())
    body["Payload"]["OrderChangeNotification"]["Summary"]["FulfillmentType"] = "AFN"
    found = classify(json.dumps(body).encode(), "a3th9s8bh6gogm")
    assert isinstance(found, Rejected) and "fulfilled by Amazon" in found.reason


def test_the_specs_search_orders_example_reads_and_its_fba_order_is_refused() -> None:
    data = json.loads(
        (SPECS / "examples/searchOrders_2026-01-01.sandbox-response.json").read_text()
    )
    (raw,) = data["orders"]
    assert AmazonOrder.model_validate(raw).orderItems[1].quantityOrdered == 2
    with pytest.raises(PermanentError, match="fulfilled by Amazon"):
        parse_order(raw, "a1", "JPY")
    raw["fulfillment"]["fulfilledBy"] = "MERCHANT"
    order = parse_order(raw, "A1", "JPY")
    assert order.total == Money(Decimal("19940"), "JPY") and order.account == "a1"
    assert [(line.line_id, line.quantity, line.unit_price.amount) for line in order.lines] == [
        ("25012345678901", 1, Decimal("5980")),
        ("25012345678902", 2, Decimal("6980")),
    ]
    assert order.lines[0].channel_variant_id == "A1VC38T7YXB528/ECHO-DOT-4-JP-CHARCOAL"
    assert order.shipping_address is not None and order.shipping_address.country_code == "JP"


def test_get_order_reads_the_order_with_its_items_and_none_for_an_unknown_id() -> None:
    sandbox = AmazonSandbox()
    refs = sandbox.add_listing("MUG", "Mug", Decimal("12.50"), 5)
    order_id = sandbox.place_order(
        sandbox.order_body([SandboxLine(refs, "MUG", "Mug", 2, Decimal("12.50"))]), notify=False
    )
    api, _ = connect(sandbox)
    reader = AmazonOrderReader(api)
    order = reader.fetch_order(order_id)
    assert order is not None
    assert order.key == f"amazon#{sandbox.seller_id.lower()}#{order_id}"
    assert order.total == Money(Decimal("25.00"), "EUR")
    (line,) = order.lines
    assert (line.channel_sku, line.quantity) == ("MUG", 2)
    assert line.channel_variant_id == refs["marketplace_sku"]
    assert reader.fetch_order("171-0000000-0000000") is None
    sandbox.cancel(order_id, notify=False)
    cancelled = reader.fetch_order(order_id)
    assert cancelled is not None and cancelled.cancelled_at is not None


def test_a_pending_order_is_reserved_but_not_released_for_shipment_until_unshipped() -> None:
    data = json.loads(
        (SPECS / "examples/searchOrders_2026-01-01.sandbox-response.json").read_text()
    )
    (raw,) = data["orders"]
    raw["fulfillment"].update(fulfilledBy="MERCHANT", fulfillmentStatus="PENDING")
    assert parse_order(raw, "A1", "JPY").ready_to_ship is False
    raw["fulfillment"]["fulfillmentStatus"] = "UNSHIPPED"
    assert parse_order(raw, "A1", "JPY").ready_to_ship is True


def _order_change(order_id: str) -> bytes:
    body = {
        "NotificationType": "ORDER_CHANGE",
        "Payload": {"OrderChangeNotification": {"AmazonOrderId": order_id, "SellerId": "S1"}},
    }
    return json.dumps(body).encode()


@pytest.mark.parametrize("order_id", ["902-\x01-1", "9" * 100_000, "a/b"])
def test_an_order_id_no_url_can_carry_is_refused_with_a_reason(order_id: str) -> None:
    """Issue #19.4: it raised httpx.InvalidURL in ingest, retried, then dead-lettered bare."""
    with pytest.raises(ValueError, match="not an order id"):
        classify(_order_change(order_id), "s1")
    assert classify(_order_change("902-3159896-1390916"), "s1") == OrderNotice(
        "902-3159896-1390916"
    )


def test_a_notification_nested_thousands_deep_is_refused_with_a_reason() -> None:
    raw = b'{"NotificationType": "ORDER_CHANGE", "Payload": ' + b"[" * 3000 + b"]" * 3000 + b"}"
    with pytest.raises(ValueError, match="nested too deep"):
        classify(raw, "s1")
