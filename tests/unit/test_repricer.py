"""The repricer with the in-memory price book: a competitor's undercut moves Keel's price within
the rule, never below the floor; what Amazon's flow ignores, listings with repricing off, and a
listing changed too often this hour stay where they are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from shared.channels.amazon import CHANNEL as AMAZON
from shared.channels.port import CompetingOffers
from shared.domain.listings import Listing
from shared.domain.pricing import Guard, Offer, PriceRules, SkuPrice
from shared.services import pricing
from shared.services.repricer import reprice_on
from tests.fakes.prices import MemoryPriceBook

D = Decimal
NL, DE = "A1805IZSGTT6HS", "A1PA6795UKMFR9"
SELLER = "A1SELLER"
LISTINGS = [
    Listing("MUG", "amazon", refs={"asin": "B0MUG", "sku": "MUG"}, marketplace=NL),
    Listing("MUG", "amazon", refs={"asin": "B0MUG", "sku": "MUG"}, marketplace=DE),
]


class Clock:
    at = datetime(2026, 12, 6, 9, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


def setup(
    strategy: str = "beat-lowest", guard: Guard | None = None
) -> tuple[pricing.Pricing, MemoryPriceBook]:
    book, clock = MemoryPriceBook(), Clock()
    ids = iter(f"pd-{n}" for n in range(100))
    p = pricing.Pricing(
        book, lambda sku: list(LISTINGS), guard or Guard(), clock, lambda: next(ids)
    )
    price = SkuPrice("MUG", base=D("19.95"), cost=D("10.00"), maximum=D("29.95"))
    pricing.set_price(p, price, "ana", "launch")
    for listing in LISTINGS:
        book.put_rules(
            "MUG", listing.key, PriceRules(strategy=strategy, step=D("0.10")), "ana", clock()
        )
    clock.at += timedelta(hours=2)
    return p, book


def find(slot: str, kind: str, value: str) -> str | None:
    return "MUG" if (slot, kind, value) == ("amazon", "asin", "B0MUG") else None


def offers(price: str, marketplace: str = NL, **more: object) -> CompetingOffers:
    return CompetingOffers(
        "B0MUG",
        marketplace,
        (Offer("A2OTHER", D(price)), Offer(SELLER, D("19.95"))),
        datetime(2026, 12, 6, 10, tzinfo=UTC),
        **more,  # type: ignore[arg-type]
    )


def test_an_undercut_moves_this_marketplaces_price_by_the_step() -> None:
    p, book = setup()
    said = reprice_on(p, find, AMAZON, "", SELLER, offers("17.50"))
    assert "19.95 -> 17.40 published" in said
    assert book.in_force[("MUG", f"amazon/{NL}")].price == D("17.40")
    assert book.in_force[("MUG", f"amazon/{NL}")].actor == "repricer"
    assert book.in_force[("MUG", f"amazon/{DE}")].price == D("19.95")  # another marketplace


def test_a_penny_competitor_stops_at_the_floor() -> None:
    p, book = setup("match-lowest", Guard(max_step_pct=D(90)))
    said = reprice_on(p, find, AMAZON, "", SELLER, offers("0.01"))
    decision = book.in_force[("MUG", f"amazon/{NL}")]
    assert decision.price == D("10.00") and "clamped at the floor 10.00" in decision.reason, said


def test_a_big_move_waits_for_approval_like_any_other() -> None:
    p, book = setup("match-lowest")
    said = reprice_on(p, find, AMAZON, "", SELLER, offers("11.00"))
    assert "pending" in said and book.in_force[("MUG", f"amazon/{NL}")].price == D("19.95")


def test_what_keel_must_not_act_on_leaves_the_price() -> None:
    p, book = setup()
    assert reprice_on(p, find, AMAZON, "", SELLER, offers("17.50", ignore="External")).startswith(
        "ignored"
    )
    unknown = CompetingOffers("B0NOPE", NL, (), datetime.now(UTC))
    assert "no amazon listing has asin B0NOPE" in reprice_on(p, find, AMAZON, "", SELLER, unknown)
    assert "USD" in reprice_on(p, find, AMAZON, "", SELLER, offers("17.50", currency="USD"))
    p_off, _ = setup("off")
    assert "repricing is off" in reprice_on(p_off, find, AMAZON, "", SELLER, offers("17.50"))
    assert book.in_force[("MUG", f"amazon/{NL}")].price == D("19.95")


def test_no_price_war_with_itself_the_changes_an_hour_are_bounded() -> None:
    p, book = setup(guard=Guard(max_changes_per_hour=2))
    for competitor in ("18.00", "17.50", "17.00"):
        said = reprice_on(p, find, AMAZON, "", SELLER, offers(competitor))
    assert "changes in the last hour already" in said
    assert book.in_force[("MUG", f"amazon/{NL}")].price == D("17.40")


def test_the_competitors_schedule_reads_and_reprices_what_reprices_within_its_limit() -> None:
    from dataclasses import dataclass

    from shared.channels.errors import RetryableError
    from shared.services.repricer import watch_competition

    p, book = setup()

    @dataclass
    class Reader:
        channel: str = "amazon"
        fail: bool = False

        def competing_offers(self, listing: Listing) -> CompetingOffers:
            if self.fail:
                raise RetryableError("429", channel="amazon")
            return offers("17.50", listing.marketplace)

    listing_of = {(x.sku, x.key): x for x in LISTINGS}.get
    said = watch_competition(p, book.repricing(), lambda s, k: listing_of((s, k)),
                             lambda listing: (Reader(), SELLER), limit=1)  # fmt: skip
    assert len(said) == 1 and "-> 17.40 published" in said[0]
    failed = watch_competition(p, book.repricing(), lambda s, k: listing_of((s, k)),
                               lambda listing: (Reader(fail=True), SELLER), limit=5)  # fmt: skip
    assert len(failed) == 2 and all("offers not read" in x for x in failed)
    none = watch_competition(p, book.repricing(), lambda s, k: listing_of((s, k)),
                             lambda listing: None, limit=5)  # fmt: skip
    assert none == []
