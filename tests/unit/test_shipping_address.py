"""The shipping address on canonical orders: read from what the channels really send (the spec
examples), absent or null → None, kept in the order document and never in a repr."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from shared.channels.shopify.orders import ShopifyAddress, ShopifyOrdersInbound
from shared.channels.woocommerce.orders import WooOrdersInbound
from shared.domain.orders import Order, ShippingAddress
from shared.stores.orders import order_from_doc, order_to_doc

SHOPIFY_TOPIC = {"X-Shopify-Topic": "orders/create"}
WOO_TOPIC = {"x-wc-webhook-topic": "order.created"}


def _shopify(specs: Path, change: Callable[[dict[str, Any]], None] = lambda p: None) -> Order:
    payload = json.loads((specs / "shopify/webhooks/orders_cancelled.sample.json").read_bytes())
    change(payload)
    order = ShopifyOrdersInbound().parse_webhook(
        SHOPIFY_TOPIC, json.dumps(payload).encode(), "keel-demo.myshopify.com"
    )
    assert isinstance(order, Order)
    return order


def _woo(specs: Path, change: Callable[[dict[str, Any]], None] = lambda p: None) -> Order:
    payload = json.loads((specs / "woocommerce/webhooks/order_created.body.json").read_bytes())
    change(payload)
    order = WooOrdersInbound().parse_webhook(
        WOO_TOPIC, json.dumps(payload).encode(), "shop.example"
    )
    assert isinstance(order, Order)
    return order


def test_shopify_sample_address_with_the_order_email(specs: Path) -> None:
    assert _shopify(specs).shipping_address == ShippingAddress(
        name="Steve Shipper",
        address_line_1="123 Shipping Street",
        address_line_2="",  # null in the sample
        postal_code="40003",
        city="Shippington",
        country_code="US",
        company="Shipping Company",
        region="KY",
        phone="555-555-SHIP",
        email="jon@example.com",
    )


def test_shopify_rest_fixture_address_reads_too(specs: Path) -> None:
    """The REST fixture carries latitude/longitude as strings and a null company."""
    raw = json.loads((specs / "shopify/rest-fixtures/order.json").read_text())["order"]
    address = ShopifyAddress.model_validate(raw["shipping_address"])
    assert (address.address1, address.zip, address.country_code) == (
        "Chestnut Street 92",
        "40202",
        "US",
    )
    assert address.company is None


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p.pop("shipping_address"),  # digital-only orders have none
        lambda p: p.update(shipping_address=None),
        lambda p: p["shipping_address"].update(address1=None),  # nowhere a carrier can go
        lambda p: p["shipping_address"].update(country_code=None),
    ],
)
def test_shopify_without_a_usable_address_has_none(
    specs: Path, change: Callable[[dict[str, Any]], None]
) -> None:
    assert _shopify(specs, change).shipping_address is None


def test_shopify_name_from_its_parts_and_contact_email_when_no_email(specs: Path) -> None:
    def change(p: dict[str, Any]) -> None:
        p["shipping_address"]["name"] = None
        p["email"] = None

    address = _shopify(specs, change).shipping_address
    assert address is not None
    assert (address.name, address.email) == ("Steve Shipper", "jon@example.com")


def test_woocommerce_sample_address_takes_email_and_phone_from_billing(specs: Path) -> None:
    assert _woo(specs).shipping_address == ShippingAddress(
        name="John Doe",
        address_line_1="969 Market",
        postal_code="94103",
        city="San Francisco",
        country_code="US",
        region="CA",
        phone="(555) 555-5555",  # shipping has none in the sample: billing's
        email="john.doe@example.com",
    )


def test_woocommerce_shipping_phone_wins_over_billing(specs: Path) -> None:
    address = _woo(specs, lambda p: p["shipping"].update(phone="+31 20 123 4567")).shipping_address
    assert address is not None and address.phone == "+31 20 123 4567"


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p.pop("shipping"),
        lambda p: p.update(shipping=None),
        lambda p: p["shipping"].update(address_1="", city="", country=""),  # a virtual order
        lambda p: p["shipping"].update(address_1=None),
    ],
)
def test_woocommerce_without_a_usable_address_has_none(
    specs: Path, change: Callable[[dict[str, Any]], None]
) -> None:
    assert _woo(specs, change).shipping_address is None


def test_woocommerce_null_fields_do_not_hold_the_order(specs: Path) -> None:
    def change(p: dict[str, Any]) -> None:
        p["shipping"].update(company=None, address_2=None, state=None)
        p["billing"].update(email=None, phone=None)

    address = _woo(specs, change).shipping_address
    assert address is not None
    assert (address.company, address.address_line_2, address.email) == ("", "", "")


def test_the_address_round_trips_through_the_order_document(specs: Path) -> None:
    order = _woo(specs)
    assert order.shipping_address is not None
    doc = json.loads(json.dumps(order_to_doc(order)))  # as stored: JSON text
    assert order_from_doc(doc).shipping_address == order.shipping_address
    assert order_from_doc(doc) == order


def test_documents_without_an_address_load_as_none(specs: Path) -> None:
    doc = order_to_doc(_woo(specs))
    del doc["shipping_address"]  # written before addresses were kept
    assert order_from_doc(doc).shipping_address is None
    doc["shipping_address"] = None
    assert order_from_doc(doc).shipping_address is None


def test_a_field_this_version_does_not_know_does_not_make_the_order_unreadable(
    specs: Path,
) -> None:
    doc = order_to_doc(_woo(specs))
    doc["shipping_address"]["door_code"] = "1234"
    address = order_from_doc(doc).shipping_address
    assert address is not None and address.city == "San Francisco"


def test_neither_the_order_nor_the_address_repr_carries_personal_data(specs: Path) -> None:
    order = _shopify(specs)
    for text in (repr(order), str(order), repr(order.shipping_address)):
        for personal in ("Steve", "Shipping Street", "40003", "555-555-SHIP", "jon@example.com"):
            assert personal not in text
    assert "US" in repr(order.shipping_address)
    assert replace(order, shipping_address=None) != order  # still compared: part of the record
    assert "<redacted>" in repr(order)
