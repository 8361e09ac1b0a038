"""The pricing domain: floors and ceilings hold, rounding is stable, the guard holds what it
must, and no floor or ceiling means no repricing (hypothesis properties and worked examples)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.pricing import (
    Guard,
    Offer,
    PriceRules,
    Sale,
    SkuPrice,
    derive,
    lowest_since,
    price_floor,
    reprice,
    with_ending,
)

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
D = Decimal


def money(low: str = "0.01", high: str = "5000") -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=D(low), max_value=D(high), places=2, allow_nan=False)


percent = st.decimals(min_value=D(0), max_value=D(60), places=1, allow_nan=False)
endings = st.one_of(st.none(), st.sampled_from([D("0.95"), D("0.99"), D("0.00"), D("0.50")]))


@st.composite
def priced(draw: st.DrawFn) -> tuple[SkuPrice, PriceRules]:
    cost = draw(money("0", "500"))
    base = draw(money())
    maximum = draw(st.one_of(st.none(), money("0.01", "9000")))
    price = SkuPrice(
        "SKU-1",
        base=base,
        cost=cost,
        min_margin_pct=draw(percent),
        map=draw(st.one_of(st.none(), money("0.01", "300"))) if maximum is None else None,
        maximum=maximum,
    )
    rules = PriceRules(
        markup_pct=draw(percent),
        fixed=draw(st.decimals(min_value=D(-5), max_value=D(20), places=2, allow_nan=False)),
        fee_pct=draw(st.decimals(min_value=D(0), max_value=D(40), places=1, allow_nan=False)),
        fee_fixed=draw(money("0", "3")),
        ending=draw(endings),
    )
    return price, rules


@given(priced())
def test_a_derived_price_is_never_outside_its_floor_and_ceiling(
    case: tuple[SkuPrice, PriceRules],
) -> None:
    price, rules = case
    derived = derive(price, rules, NOW)
    if derived.price is None:
        assert derived.problem
        return
    if derived.floor is not None:
        assert derived.price >= derived.floor
    if derived.ceiling is not None:
        assert derived.price <= derived.ceiling
    assert derive(price, rules, NOW) == derived  # the same inputs, the same decision


@given(priced())
def test_the_floor_keeps_the_minimum_margin_after_the_channels_fees(
    case: tuple[SkuPrice, PriceRules],
) -> None:
    price, rules = case
    floor = price_floor(price, rules)
    if floor is None:
        assert price.cost == 0 and rules.fee_fixed == 0 and price.map is None
        return
    earned = floor - floor * rules.fee_pct / 100 - rules.fee_fixed
    assert earned >= price.cost * (1 + price.min_margin_pct / 100) - D("0.000001")


@given(money(), endings)
def test_rounding_to_an_ending_never_lowers_and_is_stable(
    amount: Decimal, ending: Decimal | None
) -> None:
    once = with_ending(amount, ending)
    assert once >= amount
    assert once - amount < 1
    assert with_ending(once, ending) == once
    if ending is not None:
        assert once % 1 == ending


def test_worked_example_markup_fixed_ending_and_floor() -> None:
    price = SkuPrice("MUG", base=D("19.95"), cost=D("8.00"), min_margin_pct=D(10), msrp=D("29.95"))
    rules = PriceRules(
        markup_pct=D(10), fixed=D("1.00"), fee_pct=D(15), fee_fixed=D("0.50"), ending=D("0.95")
    )
    derived = derive(price, rules, NOW)
    # 19.95 x 1.10 + 1.00 = 22.945 -> 22.95 (cents) -> ends in .95 already
    assert derived.price == D("22.95")
    # (8.00 x 1.10 + 0.50) / 0.85 = 10.941... -> 10.95 (up to the cent)
    assert derived.floor == D("10.95")
    assert derived.ceiling == D("29.95")
    assert derived.rule == "base"


def test_a_price_below_the_floor_is_clamped_and_says_so() -> None:
    price = SkuPrice("MUG", base=D("5.00"), cost=D("8.00"))
    derived = derive(price, PriceRules(), NOW)
    assert derived.price == D("8.00") and "clamped at the floor 8.00" in derived.reason


def test_map_above_the_margin_floor_is_the_floor() -> None:
    price = SkuPrice("MUG", base=D("5.00"), cost=D("1.00"), map=D("12.00"))
    assert derive(price, PriceRules(), NOW).price == D("12.00")


def test_a_floor_above_the_ceiling_is_a_problem_not_a_price() -> None:
    price = SkuPrice("MUG", base=D("10.00"), cost=D("9.00"), maximum=D("10.00"))
    derived = derive(price, PriceRules(fee_pct=D(20)), NOW)
    assert derived.price is None and "above the ceiling" in (derived.problem or "")


def test_a_running_sale_shows_the_sale_price_with_the_regular_one_struck_through() -> None:
    sale = Sale(D("14.95"), NOW - timedelta(hours=1), NOW + timedelta(days=1))
    price = SkuPrice("MUG", base=D("19.95"), cost=D("5.00"), sale=sale)
    derived = derive(price, PriceRules(), NOW)
    assert (derived.price, derived.compare_at, derived.rule) == (D("14.95"), D("19.95"), "sale")
    after = derive(price, PriceRules(), sale.ends)
    assert (after.price, after.compare_at, after.rule) == (D("19.95"), None, "base")


@pytest.mark.parametrize(
    "bad",
    [
        {"base": D("0")},
        {"base": D("-1")},
        {"base": D("1.001")},
        {"cost": D("-0.01")},
        {"currency": "eur"},
        {"base": D("1000000")},
        {"map": D("50"), "maximum": D("40")},
    ],
)
def test_bad_prices_are_refused_with_a_reason(bad: dict[str, object]) -> None:
    values: dict[str, object] = {"sku": "MUG", "base": D("10"), "cost": D("5"), **bad}
    with pytest.raises(ValueError):
        SkuPrice(**values)  # type: ignore[arg-type]


# --- the repricer ---

OWN = "A-OWN"


def bounded() -> tuple[SkuPrice, PriceRules]:
    return SkuPrice("MUG", base=D("20.00"), cost=D("10.00"), maximum=D("30.00")), PriceRules(
        strategy="beat-lowest", step=D("0.10")
    )


@given(
    money("0.01", "100"),
    money("0", "10"),
    st.sampled_from(["match-lowest", "beat-lowest", "buy-box"]),
)
def test_a_repriced_price_never_leaves_floor_and_ceiling(
    competitor: Decimal, shipping: Decimal, strategy: str
) -> None:
    price, _ = bounded()
    rules = PriceRules(strategy=strategy, step=D("0.10"))
    derived = derive(price, rules, NOW)
    offers = [Offer("B-OTHER", competitor, shipping, buy_box=True), Offer(OWN, D("20.00"))]
    result = reprice(derived, rules, offers, OWN, D("20.00"))
    if result is not None:
        assert derived.floor is not None and derived.ceiling is not None
        assert derived.floor <= (result.price or 0) <= derived.ceiling


@given(money("0.01", "100"))
def test_no_floor_or_no_ceiling_means_no_repricing(competitor: Decimal) -> None:
    rules = PriceRules(strategy="match-lowest")
    no_ceiling = derive(SkuPrice("MUG", base=D("20"), cost=D("10")), rules, NOW)
    no_floor = derive(SkuPrice("MUG", base=D("20"), cost=D("0"), maximum=D("30")), rules, NOW)
    for derived in (no_ceiling, no_floor):
        assert reprice(derived, rules, [Offer("B", competitor)], OWN, D("20")) is None


def test_beat_lowest_undercuts_by_the_step_and_stops_at_the_floor() -> None:
    price, rules = bounded()
    derived = derive(price, rules, NOW)
    moved = reprice(derived, rules, [Offer("B", D("17.50"))], OWN, D("20.00"))
    assert moved is not None and moved.price == D("17.40") and moved.rule == "beat-lowest"
    floored = reprice(derived, rules, [Offer("B", D("3.00"))], OWN, D("20.00"))
    assert floored is not None and floored.price == D("10.00")
    assert "clamped at the floor 10.00" in floored.reason


def test_hysteresis_a_move_below_the_step_is_not_made() -> None:
    price, rules = bounded()
    derived = derive(price, rules, NOW)
    assert reprice(derived, rules, [Offer("B", D("17.50"))], OWN, D("17.45")) is None


def test_buy_box_does_nothing_for_the_winner_or_below_the_box() -> None:
    price, _ = bounded()
    rules = PriceRules(strategy="buy-box")
    derived = derive(price, rules, NOW)
    winning = [Offer("B", D("18")), Offer(OWN, D("20"), buy_box=True)]
    assert reprice(derived, rules, winning, OWN, D("20")) is None
    cheaper = [Offer("B", D("21"), buy_box=True), Offer(OWN, D("20"))]
    assert reprice(derived, rules, cheaper, OWN, D("20")) is None
    losing = [Offer("B", D("18"), D("1.00"), buy_box=True), Offer(OWN, D("20"))]
    moved = reprice(derived, rules, losing, OWN, D("20"))
    assert moved is not None and moved.price == D("19.00")


# --- the guard ---


@given(money(), money(), st.integers(0, 10), st.integers(1, 100))
def test_the_guard_holds_every_change_beyond_its_limits(
    before: Decimal, after: Decimal, recent: int, run: int
) -> None:
    guard = Guard()
    held = guard.holds(before, after, recent, run)
    beyond = (
        abs(after - before) / before * 100 > guard.max_step_pct
        or recent >= guard.max_changes_per_hour
        or run > guard.blast_radius
    )
    assert (held is not None) == beyond


def test_a_fat_fingered_minus_ninety_percent_is_held_with_its_reason() -> None:
    reason = Guard().holds(D("19.95"), D("1.99"), 0, 1)
    assert reason is not None and "over the 30 % step" in reason


def test_lowest_of_the_prior_thirty_days_counts_the_price_in_force_at_the_start() -> None:
    start = NOW - timedelta(days=30)
    history = [
        (start - timedelta(days=5), D("15.00")),
        (start + timedelta(days=3), D("18.00")),
        (start + timedelta(days=10), D("20.00")),
    ]
    assert lowest_since(history, start) == D("15.00")
    assert lowest_since(history[1:], start) == D("18.00")
    assert lowest_since([], start) is None
