"""bol.com's thin push and order versions, as Keel reads them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.channels.bol.orders import BolOrdersInbound, parse_order, to_order
from shared.channels.port import OrderNotice

ACCOUNT = "1234567"


def push(resource: str = "ORDER", retailer: int = 1234567) -> bytes:
    return json.dumps(
        {
            "retailerId": retailer,
            "timestamp": "2026-11-28T10:00:00+01:00",
            "event": {"resource": resource, "type": "NEW", "resourceId": "1100000001"},
        }
    ).encode()


def test_an_order_push_names_the_order_to_fetch() -> None:
    assert BolOrdersInbound().parse_webhook({}, push(), ACCOUNT) == OrderNotice("1100000001")


def test_other_resources_are_not_acted_on() -> None:
    assert BolOrdersInbound().parse_webhook({}, push("PROCESS_STATUS"), ACCOUNT) is None


def test_a_push_for_another_retailer_is_refused() -> None:
    with pytest.raises(ValueError, match="another retailer"):
        BolOrdersInbound().parse_webhook({}, push(retailer=7654321), ACCOUNT)


def item(item_id: str, qty: int, **extra: Any) -> dict[str, Any]:
    return {
        "orderItemId": item_id,
        "cancellationRequest": False,
        "fulfilment": {"method": "FBR"},
        "offer": {"offerId": f"offer-{item_id}"},
        "product": {"ean": f"87{item_id}", "title": "Mug"},
        "quantity": qty,
        "quantityShipped": 0,
        "quantityCancelled": 0,
        "unitPrice": 12.5,
        "latestChangedDateTime": "2026-11-28T10:00:00+01:00",
        **extra,
    }


def order(*items: dict[str, Any]) -> str:
    return json.dumps(
        {"orderId": "1100000001", "orderPlacedDateTime": "2026-11-28T09:00:00+01:00",
         "orderItems": list(items)}
    )  # fmt: skip


def test_a_requested_cancellation_takes_the_line_out_of_what_is_reserved() -> None:
    mapped = to_order(
        parse_order(
            order(
                item("1", 2),
                item("2", 1, cancellationRequest=True,
                     latestChangedDateTime="2026-11-28T11:00:00+01:00"),
            )
        ),
        ACCOUNT,
    )  # fmt: skip
    assert [(ln.line_id, ln.quantity) for ln in mapped.lines] == [("1", 2)]
    assert mapped.cancellation_requested == ("2",)
    assert mapped.cancelled_at is None
    assert mapped.channel_updated_at.hour == 10  # 11:00+01:00 is 10:00 UTC: the latest change


def test_every_line_requested_cancels_the_order_and_a_done_cancellation_is_no_request() -> None:
    asked = to_order(parse_order(order(item("1", 2, cancellationRequest=True))), ACCOUNT)
    assert asked.cancelled_at is not None and asked.cancellation_requested == ("1",)
    assert [ln.quantity for ln in asked.lines] == [2]  # kept for the record
    done = to_order(
        parse_order(order(item("1", 2, cancellationRequest=True, quantityCancelled=2))), ACCOUNT
    )
    assert done.cancelled_at is not None and done.cancellation_requested == ()


def test_prices_are_read_exactly() -> None:
    mapped = to_order(parse_order(order(item("1", 3, unitPrice=0.1))), ACCOUNT)
    assert str(mapped.lines[0].unit_price.amount) == "0.1"
    assert str(mapped.total.amount) == "0.3"
