"""The account a delivery is for (#27): named by its header (Shopify, WooCommerce) or, where the
channel sends none, by its body (bol's `retailerId`, Amazon's `SellerId`); one Keel has no
secret for is UnknownAccount (ingest holds the delivery), never the first account's."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.channels.amazon import CHANNEL as AMAZON
from shared.channels.bol import CHANNEL as BOL
from shared.channels.errors import UnknownAccount
from shared.channels.shopify import CHANNEL as SHOPIFY
from shared.channels.spec import Channel
from shared.domain.accounts import normalize_account
from shared.messages import InboundDelivery
from shared.services.order_intake import delivery_account


class TwoAccounts:
    """A channel kit with a first and a second account (as ChannelKit resolves them)."""

    def __init__(self, spec: Channel, first: str, second: str) -> None:
        self.spec = spec
        self._secrets = {
            "": {spec.account_field: first, "currency": "EUR"},
            normalize_account(second): {spec.account_field: second, "currency": "GBP"},
        }
        self._first = normalize_account(first)

    def account_key(self, account: str) -> str:
        wanted = normalize_account(account)
        if wanted == self._first:
            return ""
        if wanted in self._secrets:
            return wanted
        raise UnknownAccount(f"no account {account!r}", channel=self.spec.name)

    def raw_secret(self, fresh: bool = False, account: str = "") -> dict[str, Any]:
        return self._secrets[account]


def delivery(channel: str, body: Any, headers: dict[str, str] | None = None) -> InboundDelivery:
    raw = json.dumps(body)
    return InboundDelivery(
        channel=channel, delivery_id="d", topic="t", received_at="2026-12-06T00:00:00+00:00",
        headers=headers or {}, body=raw,
    )  # fmt: skip


def amazon_change(seller: str) -> dict[str, Any]:
    return {"Payload": {"OrderChangeNotification": {"SellerId": seller, "AmazonOrderId": "1"}}}


@pytest.mark.parametrize(
    ("spec", "first", "second", "body_of"),
    [
        (BOL, "1234567", "7654321", lambda r: {"retailerId": int(r), "event": {}}),
        (AMAZON, "A2KEELDEMO0001", "A3SECONDSELLER", amazon_change),
    ],
)
def test_a_body_names_its_account(spec: Channel, first: str, second: str, body_of: Any) -> None:
    kit: Any = TwoAccounts(spec, first, second)
    for named, key, currency in ((first, "", "EUR"), (second, normalize_account(second), "GBP")):
        got = delivery(spec.name, body_of(named))
        shop = delivery_account(kit, got, got.inline_body())
        assert (shop.key, shop.name, shop.currency) == (key, normalize_account(named), currency)
    stranger = delivery(spec.name, body_of("9999999"))
    with pytest.raises(UnknownAccount):
        delivery_account(kit, stranger, stranger.inline_body())


def test_a_body_that_names_nothing_is_the_first_account_s_and_its_parser_says_why() -> None:
    kit: Any = TwoAccounts(BOL, "1234567", "7654321")
    for raw in (b"not json", b"[1, 2]", b'{"retailerId": true}', b'{"retailerId": {"a": 1}}'):
        got = delivery("bol", None).model_copy(update={"body": raw.decode()})
        assert delivery_account(kit, got, raw).key == ""


def test_a_header_names_the_account_where_the_channel_sends_one() -> None:
    kit: Any = TwoAccounts(SHOPIFY, "keel-demo.myshopify.com", "keel-outlet.myshopify.com")
    got = delivery("shopify", {}, {"x-shopify-shop-domain": "keel-outlet.myshopify.com"})
    assert delivery_account(kit, got, got.inline_body()).key == "keel-outlet.myshopify.com"
    assert delivery_account(kit, delivery("shopify", {}), b"{}").key == ""
