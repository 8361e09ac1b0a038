"""Pricing decisions with the in-memory price book: a base price reaches every listing by its
rule, the guard holds a typo until a person decides, and history answers the Omnibus question."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shared.domain.listings import Listing
from shared.domain.pricing import Guard, PriceRules, SkuPrice
from shared.services import pricing
from shared.stores.prices import NotPending
from tests.fakes.prices import MemoryPriceBook

D = Decimal
LISTINGS = [
    Listing("MUG", "shopify"),
    Listing("MUG", "bol"),
    Listing("MUG", "amazon", account="A1SELLER", marketplace="A1805IZSGTT6HS"),
    Listing("MUG", "amazon", account="A1SELLER", marketplace="A1PA6795UKMFR9"),
]


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 12, 6, 9, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


def make(guard: Guard | None = None) -> tuple[pricing.Pricing, MemoryPriceBook, Clock]:
    book, clock = MemoryPriceBook(), Clock()
    ids = iter(f"pd-{n}" for n in range(1000))
    return (
        pricing.Pricing(
            book, lambda sku: list(LISTINGS), guard or Guard(), clock, lambda: next(ids)
        ),
        book,
        clock,
    )


def mug(base: str = "19.95", **more: object) -> SkuPrice:
    return SkuPrice("MUG", base=D(base), cost=D("8.00"), **more)  # type: ignore[arg-type]


def test_a_base_price_reaches_every_listing_by_its_own_rule() -> None:
    p, book, _ = make()
    book.put_rules("MUG", "bol", PriceRules(markup_pct=D(15), ending=D("0.99")), "t", p.now())
    run = pricing.set_price(p, mug(), "ana", "launch")
    prices = {d.listing: d.price for d in run.decisions}
    assert prices == {
        "shopify": D("19.95"),
        "bol": D("22.99"),  # 19.95 x 1.15 = 22.94 -> .99
        "amazon@A1SELLER/A1805IZSGTT6HS": D("19.95"),
        "amazon@A1SELLER/A1PA6795UKMFR9": D("19.95"),
    }
    assert all(d.status == "published" for d in run.decisions)
    assert {k for _, k in book.in_force} == set(prices)
    assert pricing.set_price(p, mug(), "ana", "again").decisions == []  # nothing moves


def test_a_typo_waits_for_approval_and_goes_live_only_then() -> None:
    p, book, clock = make()
    pricing.set_price(p, mug(), "ana", "launch")
    clock.at += timedelta(hours=2)
    run = pricing.set_price(p, mug("1.99", min_margin_pct=D(0)), "ana", "typo")
    assert len(run.held) == 4
    held = run.held[0]
    assert held.held_because and "over the 30 % step" in held.held_because
    assert book.in_force[("MUG", "shopify")].price == D("19.95")  # nothing went out
    # the floor (cost 8.00) clamps the typo too: it would have gone out at 8.00
    assert held.price == D("8.00")
    approved = pricing.approve(p, held.id, "bo")
    assert approved.status == "approved" and approved.decided_by == "bo"
    assert book.in_force[("MUG", held.listing)].price == D("8.00")
    with pytest.raises(NotPending):
        pricing.approve(p, held.id, "bo")
    other = run.held[1]
    assert pricing.reject(p, other.id, "bo").status == "rejected"
    assert book.in_force[("MUG", other.listing)].price == D("19.95")


def test_a_new_decision_supersedes_a_held_one_for_the_same_listing() -> None:
    p, book, clock = make()
    pricing.set_price(p, mug(), "ana", "launch")
    held = pricing.set_price(p, mug("2.00"), "ana", "typo").held[0]
    clock.at += timedelta(minutes=5)
    pricing.set_price(p, mug("21.00"), "ana", "fixed the typo")
    assert held.id not in {d.id for d in book.pending()}
    assert book.log[held.id].status == "superseded"
    with pytest.raises(NotPending):
        pricing.approve(p, held.id, "bo")


def test_the_blast_radius_holds_a_run_that_changes_too_many_listings() -> None:
    p, _, _ = make(Guard(blast_radius=3))
    run = pricing.set_price(p, mug(), "ana", "launch")
    assert len(run.held) == 4
    assert "blast-radius" in (run.held[0].held_because or "")


def test_too_many_changes_an_hour_are_held() -> None:
    p, _, clock = make(Guard(max_changes_per_hour=2, max_step_pct=D(90)))
    for n, base in enumerate(("19.95", "20.95", "21.95")):
        clock.at += timedelta(minutes=1)
        run = pricing.set_price(p, mug(base), "ana", f"change {n}")
    assert all(d.status == "pending" for d in run.decisions)
    assert "2 changes in the last hour" in (run.decisions[0].held_because or "")


def test_dry_run_decides_and_stores_nothing() -> None:
    p, book, _ = make()
    run = pricing.set_price(p, mug(), "ana", "try", dry_run=True)
    assert run.dry_run and len(run.decisions) == 4
    assert book.set_prices == {} and book.in_force == {} and book.log == {}


def test_a_listing_rule_decides_that_listing_only() -> None:
    p, book, clock = make()
    pricing.set_price(p, mug(), "ana", "launch")
    clock.at += timedelta(hours=2)
    run = pricing.set_rules(p, "MUG", LISTINGS[0], PriceRules(fixed=D("2.00")), "ana", "shop fee")
    assert [(d.listing, d.price) for d in run.decisions] == [("shopify", D("21.95"))]
    assert book.in_force[("MUG", "bol")].price == D("19.95")


def test_a_listing_that_cannot_be_priced_says_why_and_keeps_its_price() -> None:
    p, book, _ = make()
    book.put_rules("MUG", "bol", PriceRules(fee_pct=D(50)), "t", p.now())
    run = pricing.set_price(p, mug(maximum=D("15.00")), "ana", "launch")
    assert "above the ceiling" in run.problems["bol"]
    assert ("MUG", "bol") not in book.in_force


def test_history_answers_the_lowest_price_of_the_prior_thirty_days() -> None:
    p, book, clock = make(Guard(max_step_pct=D(90)))
    pricing.set_price(p, mug("15.00"), "ana", "start")
    clock.at += timedelta(days=10)
    pricing.set_price(p, mug("19.95"), "ana", "back to normal")
    clock.at += timedelta(days=10)
    reference = pricing.omnibus_reference(book.history("MUG"), "shopify", clock.at)
    assert reference == D("15.00")
    assert pricing.omnibus_reference(
        book.history("MUG"), "shopify", clock.at + timedelta(days=15)
    ) == D("15.00")
    clock.at += timedelta(days=25)  # 15.00 ended 35 days ago: out of the window
    assert pricing.omnibus_reference(book.history("MUG"), "shopify", clock.at) == D("19.95")


def test_the_sale_schedule_starts_and_ends_a_sale_on_every_listing() -> None:
    from shared.domain.pricing import Sale

    p, book, clock = make()
    start, end = clock.at + timedelta(hours=1), clock.at + timedelta(hours=5)
    run = pricing.set_price(p, mug(sale=Sale(D("14.95"), start, end)), "ana", "xmas")
    assert {d.price for d in run.decisions} == {D("19.95")}  # not started yet
    assert pricing.run_sales(p).decisions == []  # nothing passed a boundary
    clock.at = start
    started = pricing.run_sales(p)
    assert {(d.price, d.compare_at, d.rule) for d in started.decisions} == {
        (D("14.95"), D("19.95"), "sale")
    }
    assert all(d.actor == "sales" for d in started.decisions) and len(started.decisions) == 4
    assert book.on_sale() == ["MUG"]
    clock.at = end
    ended = pricing.run_sales(p)
    assert {(d.price, d.compare_at) for d in ended.decisions} == {(D("19.95"), None)}
    assert book.on_sale() == []  # off the list once the end is decided
    pricing.set_price(p, mug(), "ana", "no more sales")
    assert book.on_sale() == []
