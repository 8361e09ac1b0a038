"""Prices in `keel demo`: the merchant sets each SKU's price once and every listing (both
Shopify shops, WooCommerce, bol.com, Amazon.nl and Amazon.de) shows its own derived price; then
competitors undercut the mug: on Amazon.nl Keel beats the offer by its step, on Amazon.de (a
penny) Keel follows to its floor only, a move the guard holds until a person approves it, and
on bol.com (read on the competitors schedule) Keel beats the best offer by its step. After
each step every channel's shown price is compared with the price Keel decided."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from local_stack.stack import LocalStack, runtime_of, stores
from shared.channels.registry import BY_NAME
from shared.domain.listings import Listing
from shared.domain.pricing import PriceRules, SkuPrice
from shared.services.pricing import Pricing, approve, listing_prices, pricing_of, set_price

ACTOR = "keel-demo"
D = Decimal
# sku -> (base, cost, minimum margin %, ceiling): the merchant's one price per SKU
PRICES = {
    "KEEL-MUG-BLUE": (D("12.50"), D("5.00"), D(10), D("19.95")),
    "KEEL-TEE-M": (D("24.95"), D("9.00"), D(10), D("34.95")),
    "KEEL-LAMP": (D("89.00"), D("40.00"), D(15), D("99.00")),
}
# channel -> its rule: bol's commission is priced in (and rounded to .99); Amazon's fee counts
# in the floor, and Amazon listings reprice against competitors.
RULES = {
    "bol": PriceRules(
        markup_pct=D(10), ending=D("0.99"), fee_pct=D(12), strategy="beat-lowest", step=D("0.50")
    ),
    "amazon": PriceRules(fee_pct=D(15), strategy="beat-lowest", step=D("0.10")),
}
COMPETITOR = "A2DEMOCOMPETITOR"
UNDERCUTS = (("", "11.95"), ("A1PA6795UKMFR9", "0.01"))  # (Amazon marketplace, their price)
BOL_UNDERCUT = "12.99"  # another retailer's offer on the mug's EAN, read on the schedule


@dataclass
class PriceRow:
    sku: str
    listing: str  # as tables show it (shopify@keel-outlet, amazon/de)
    price: str | None  # Keel's decision in force
    shown: str | None  # what the channel's sandbox shows
    floor: str | None
    ceiling: str | None


@dataclass
class PricingReport:
    rows: list[PriceRow] = field(default_factory=list)
    # (listing, before, after, status, why): the repricer's decisions and what became of them
    repriced: list[tuple[str, str, str, str, str]] = field(default_factory=list)


def _label(listing: Listing) -> str:
    return BY_NAME[listing.channel].listing_label(listing.account, listing.marketplace)


def _shown(stack: LocalStack, listing: Listing) -> str | None:
    target = next(
        t for t in stack.listing_targets()[listing.channel] if t.account == listing.account
    )
    where = listing.marketplace or listing.refs.get("marketplace_id", "")
    rows = httpx.get(f"{target.url}/__sandbox/listings", timeout=10.0).json()
    listing_id = BY_NAME[listing.channel].line_item_ref or "listing_id"
    for row in rows:
        if str(row["listing_id"]) == listing.refs.get(listing_id) and (
            not where or row.get("marketplace") in ("", where)
        ):
            return str(row["price"]) if row.get("price") is not None else None
    return None


def _compare(stack: LocalStack, pricing: Pricing, when: str, problems: list[str]) -> list[PriceRow]:
    """Every listing: what its channel shows against Keel's decision in force."""
    rows = []
    for sku in PRICES:
        price = pricing.book.price(sku)
        assert price is not None
        for each in listing_prices(pricing, price):
            shown = _shown(stack, each.listing)
            row = PriceRow(sku, _label(each.listing), _text(each.price), shown,
                           _text(each.floor), _text(each.ceiling))  # fmt: skip
            if row.price is None or row.shown != row.price:
                problems.append(f"prices {when}: {sku} on {row.listing} shows {shown}, "
                                f"Keel decided {row.price}")  # fmt: skip
            rows.append(row)
    return rows


def _text(value: Decimal | None) -> str | None:
    return str(value) if value is not None else None


def _settle(stack: LocalStack, problems: list[str], when: str) -> None:
    from local_stack.demo_amazon import wait_for_accepted_writes

    if not (stack.wait_idle(60) and wait_for_accepted_writes(stack)):
        problems.append(f"prices {when}: the flow did not settle within 60 s")


def price_everything(stack: LocalStack, problems: list[str]) -> PricingReport:
    catalog, _, _ = stores(stack)
    pricing = pricing_of(runtime_of(stack).prices, catalog.listings_for)
    report = PricingReport()
    for sku, (base, cost, margin, ceiling) in PRICES.items():
        for listing in catalog.listings_for(sku):
            if listing.channel in RULES:
                pricing.book.put_rules(
                    sku, listing.key, RULES[listing.channel], ACTOR, pricing.now()
                )
        price = SkuPrice(sku, base=base, cost=cost, min_margin_pct=margin, maximum=ceiling)
        run = set_price(pricing, price, ACTOR, "demo: the merchant's price")
        for key, why in run.problems.items():
            problems.append(f"prices: {sku} on {key} not priced: {why}")
    _settle(stack, problems, "after setting them")
    _compare(stack, pricing, "after setting them", problems)
    _undercut(stack, pricing, report, problems)
    _settle(stack, problems, "after the repricer")
    report.rows = _compare(stack, pricing, "after the repricer", problems)
    return report


def _undercut(
    stack: LocalStack, pricing: Pricing, report: PricingReport, problems: list[str]
) -> None:
    """A competitor's offer beside the mug on each Amazon marketplace, sent by the sandbox as
    Amazon sends ANY_OFFER_CHANGED (to Keel's queue); what the guard holds is approved."""
    sku = "KEEL-MUG-BLUE"
    url = stack.sandbox_url("amazon")
    for marketplace, their_price in UNDERCUTS:
        offer = {"seller_id": COMPETITOR, "price": their_price, "shipping": "0.00", "buy_box": True}
        body: dict[str, Any] = {"sku": sku, "offers": [offer]}
        if marketplace:
            body["marketplace"] = marketplace
        answer = httpx.post(f"{url}/__sandbox/competitors", json=body, timeout=10.0)
        if answer.status_code != 200:
            problems.append(f"repricer: the Amazon sandbox refused the competitor: {answer.text}")
    bol = {"sku": sku, "offers": [{"seller_id": "9876543", "price": BOL_UNDERCUT}]}
    answer = httpx.post(f"{stack.sandbox_url('bol')}/__sandbox/competitors", json=bol, timeout=10.0)
    if answer.status_code != 200:
        problems.append(f"repricer: the bol sandbox refused the competitor: {answer.text}")
    stack.fire_schedule("competitor-offers")  # bol's offers are read every 15 minutes
    expected = len(UNDERCUTS) + 1
    deadline = time.monotonic() + 30
    decided: list[Any] = []
    while time.monotonic() < deadline and len(decided) < expected:
        stack.wait_idle(10)
        decided = [d for d in pricing.book.history(sku) if d.actor == "repricer"]
    if len(decided) < expected:
        problems.append(f"repricer: {len(decided)} decisions for {expected} undercuts")
    for d in decided:
        listing = catalog_listing(stack, sku, d.listing)
        label = _label(listing) if listing else d.listing
        status = d.status
        if status == "pending":
            approve(pricing, d.id, ACTOR)
            status = "held, then approved"
        why = d.reason + (f"; held: {d.held_because}" if d.held_because else "")
        report.repriced.append((label, str(d.before), str(d.price), status, why))
    if not any("clamped at the floor" in r[4] for r in report.repriced):
        problems.append("repricer: no decision stopped at the floor")
    if not any(r[3] == "held, then approved" for r in report.repriced):
        problems.append("repricer: the guard held no decision")


def catalog_listing(stack: LocalStack, sku: str, key: str) -> Listing | None:
    found: Listing | None = runtime_of(stack).catalog.listing(sku, key)
    return found
