"""Amazon's ANY_OFFER_CHANGED as the repricer reads it: Amazon's own example, the sandbox's
notification (checked against Amazon's schema), and what Amazon's reference flow ignores."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from local_stack.sandboxes import amazon_models
from local_stack.sandboxes.amazon import AmazonSandbox
from shared.channels.amazon.notifications import AmazonOfferChanges, classify, offer_changes

SPECS = Path(__file__).resolve().parents[2].parent / "shared/specs/amazon-sp-api"
EXAMPLE = SPECS / "examples/AnyOfferChangedNotification.example.json"
D = Decimal


def test_amazons_example_becomes_the_offers_beside_the_asin() -> None:
    raw = EXAMPLE.read_bytes()
    found = offer_changes(raw, "a3th9s8bh6gogm")
    assert found is not None and found.ignore is None
    assert (found.product_ref, found.marketplace, found.currency) == ("123", "ATVPDKIKX0DER", "USD")
    by_seller = {o.seller_id: o for o in found.offers}
    assert (by_seller["111"].price, by_seller["111"].shipping) == (D("23.00"), D("110.00"))
    assert by_seller["buy-box"].buy_box and by_seller["buy-box"].landed == D("10.00")
    assert by_seller["lowest-Merchant"].landed == D("10.00")
    assert "lowest-Amazon" not in by_seller  # a used item's price is not a new item's
    assert classify(raw, "a3th9s8bh6gogm").reason.startswith("not an order change")  # type: ignore[union-attr]


def test_external_changes_and_other_conditions_are_marked_to_ignore() -> None:
    body = json.loads(EXAMPLE.read_bytes())
    trigger = body["Payload"]["AnyOfferChangedNotification"]["OfferChangeTrigger"]
    trigger["OfferChangeType"] = "External"
    found = offer_changes(json.dumps(body).encode(), "a3th9s8bh6gogm")
    assert found is not None and "External" in (found.ignore or "")
    trigger["OfferChangeType"], trigger["ItemCondition"] = "Internal", "Used"
    found = offer_changes(json.dumps(body).encode(), "a3th9s8bh6gogm")
    assert found is not None and "Used" in (found.ignore or "")


def test_another_sellers_or_a_broken_notification_is_refused_and_orders_are_not_offers() -> None:
    raw = EXAMPLE.read_bytes()
    with pytest.raises(ValueError, match="another seller"):
        offer_changes(raw, "someone-else")
    body = json.loads(raw)
    del body["Payload"]["AnyOfferChangedNotification"]["OfferChangeTrigger"]["ASIN"]
    with pytest.raises(ValueError, match="ASIN"):
        offer_changes(json.dumps(body).encode(), "a3th9s8bh6gogm")
    order = (SPECS / "examples/OrderChangeNotification.example.json").read_bytes()
    assert AmazonOfferChanges().parse_offers(order, "x") is None


def test_the_sandbox_sends_what_amazons_schema_allows_and_keel_reads_it() -> None:
    sandbox = AmazonSandbox(apply_delay_s=0.0)
    sandbox.add_listing("MUG", "Mug", D("19.95"), 5)
    said = sandbox.competitors(
        {"sku": "MUG", "offers": [{"seller_id": "A2OTHER", "price": "17.50", "buy_box": True}]}
    )
    (sent,) = sandbox.notifications
    body = json.loads(sent.body)
    schema = "schemas/notifications/AnyOfferChangedNotification.json"
    assert amazon_models.errors(body, schema) == []
    found = offer_changes(sent.body.encode(), sandbox.seller_id.lower())
    assert found is not None and found.product_ref == said["asin"]
    prices = {o.seller_id: o.price for o in found.offers}
    assert prices[sandbox.seller_id] == D("19.95") and prices["A2OTHER"] == D("17.50")
    assert prices["buy-box"] == D("17.50")
