"""Why a body failed, never what it held: hold reasons and poll errors are logged and stored."""

from __future__ import annotations

import json
from typing import Literal

import pytest
from pydantic import BaseModel, ValidationError, field_validator

from shared.channels.shopify.orders import ShopifyOrdersInbound
from shared.channels.woocommerce.orders import WooOrdersInbound
from shared.validation import MAX_ERRORS, REDACTED, describe

PII = ("Zoë Ångström", "zoe@example.org", "+31 6 1234 5678", "12 Privacy Lane")
PERSON = {
    "first_name": "Zoë",
    "last_name": "Ångström",
    "email": "zoe@example.org",
    "phone": "+31 6 1234 5678",
    "address_1": "12 Privacy Lane",
}
# Customer data where amounts, times, ids and lines belong: every field fails with it as input.
GARBLED = {
    "id": "Zoë Ångström",
    "email": "zoe@example.org",
    "billing": PERSON,
    "customer": PERSON,
    "line_items": "Zoë Ångström, 12 Privacy Lane",
    "total_price": "zoe@example.org",
    "total": "zoe@example.org",
    "currency": "+31 6 1234 5678",
    "created_at": "12 Privacy Lane",
    "date_created_gmt": "12 Privacy Lane",
    "date_modified_gmt": "+31 6 1234 5678",
}


def errors_of(parser: ShopifyOrdersInbound | WooOrdersInbound) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        headers = {"x-shopify-topic": "orders/create", "x-wc-webhook-topic": "order.created"}
        parser.parse_webhook(headers, json.dumps(GARBLED).encode(), "shop.example")
    return caught.value


@pytest.mark.parametrize("parser", [ShopifyOrdersInbound(), WooOrdersInbound()])
def test_a_channel_body_full_of_customer_data_is_described_without_it(
    parser: ShopifyOrdersInbound | WooOrdersInbound,
) -> None:
    exc = errors_of(parser)
    assert any(value in str(exc) for value in PII)  # pydantic's own text would leak it
    described = describe(exc)
    assert described and ": " in described
    assert not [value for value in PII if value in described], described


def test_a_message_quoting_its_input_is_redacted_and_the_list_is_bounded() -> None:
    class Model(BaseModel):
        kind: Literal["a"]
        items: list[int]

        @field_validator("kind", mode="before")
        @classmethod
        def _kind(cls, value: object) -> object:
            raise ValueError(f"unknown kind {value}")

    with pytest.raises(ValidationError) as caught:
        Model.model_validate({"kind": "zoe@example.org", "items": ["x"] * 20})
    described = describe(caught.value)
    assert "zoe@example.org" not in described
    assert f"kind: Value error, unknown kind {REDACTED}" in described
    assert described.endswith(f"and {21 - MAX_ERRORS} more")
