from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from shared.domain.order_checks import implausibility
from shared.domain.orders import Money, Order, OrderCharges, OrderLine

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def eur(amount: str, currency: str = "EUR") -> Money:
    return Money(Decimal(amount), currency)


def an_order(
    lines: list[tuple[int, str]],
    total: str,
    charges: OrderCharges | None = None,
    currency: str = "EUR",
) -> Order:
    return Order(
        channel="shopify",
        account="shop.example",
        external_id="1",
        name="#1",
        created_at=NOW,
        channel_updated_at=NOW,
        total=eur(total, currency),
        presentment_total=eur(total, currency),
        lines=tuple(
            OrderLine(str(n), qty, eur(price, currency), eur(price, currency), sku=f"S{n}")
            for n, (qty, price) in enumerate(lines)
        ),
        charges=charges,
    )


def test_a_usd_order_in_an_eur_shop_is_implausible() -> None:
    reason = implausibility(an_order([(1, "10.00")], "10.00", currency="USD"), "EUR")
    assert reason is not None and reason.startswith("implausible order: ")
    assert "USD" in reason and "EUR" in reason


def test_a_line_in_another_currency_is_implausible() -> None:
    order = an_order([(1, "10.00")], "10.00")
    order = replace(order, lines=(replace(order.lines[0], unit_price=eur("10.00", "USD")),))
    reason = implausibility(order, "EUR")
    assert reason is not None and "line 0" in reason


def test_a_total_of_one_cent_for_five_times_12_50_is_implausible() -> None:
    order = an_order([(5, "12.50")], "0.01", OrderCharges())
    reason = implausibility(order, "EUR")
    assert reason is not None and reason.startswith("implausible order: total 0.01 EUR")


def test_without_charges_the_total_goes_unchecked() -> None:
    assert implausibility(an_order([(5, "12.50")], "0.01"), "EUR") is None


@pytest.mark.parametrize(
    ("price", "words"),
    [
        ("-1.00", "negative"),
        ("1000000000000", "out of range"),
        ("1E+999999999", "out of range"),
        ("NaN", "not a finite"),
        ("Infinity", "not a finite"),
        ("0.00001", "decimal places"),
    ],
)
def test_impossible_unit_prices_are_implausible(price: str, words: str) -> None:
    reason = implausibility(an_order([(1, price)], "1.00"), "EUR")
    assert reason is not None and reason.startswith("implausible order: ")
    assert words in reason


def test_a_negative_total_is_implausible() -> None:
    reason = implausibility(an_order([(1, "1.00")], "-1.00"), "EUR")
    assert reason is not None and "total" in reason and "negative" in reason


def test_trailing_zeros_are_not_extra_places() -> None:
    assert implausibility(an_order([(2, "12.500000")], "25.00"), "EUR") is None


@pytest.mark.parametrize("qty", [0, -1, 10_001])
def test_quantities_outside_the_bounds_are_implausible(qty: int) -> None:
    reason = implausibility(an_order([(qty, "1.00")], "1.00"), "EUR")
    assert reason is not None and "quantity" in reason


def test_the_largest_plausible_quantity_passes() -> None:
    assert implausibility(an_order([(10_000, "0.10")], "1000.00", OrderCharges()), "EUR") is None


@pytest.mark.parametrize("taxes_included", [True, False])
def test_a_consistent_order_with_discount_shipping_and_tax_passes(taxes_included: bool) -> None:
    # lines 2 x 12.50 + 1 x 9.99 = 34.99; - 5.00 discount + 4.95 shipping (+ 6.65 tax if added)
    total = "34.94" if taxes_included else "41.59"
    charges = OrderCharges(
        discounts=Decimal("5.00"),
        shipping=Decimal("4.95"),
        tax=Decimal("6.65"),
        taxes_included=taxes_included,
    )
    order = an_order([(2, "12.50"), (1, "9.99")], total, charges)
    assert implausibility(order, "EUR") is None
    # The tax counts exactly when it is not included in the prices.
    swapped = replace(order, charges=replace(charges, taxes_included=not taxes_included))
    assert implausibility(swapped, "EUR") is not None


def test_rounding_is_tolerated_per_line_and_total_only() -> None:
    charges = OrderCharges()
    # Two lines: up to 0.03 off is the channel's rounding; more is not.
    assert implausibility(an_order([(1, "1.00"), (1, "1.00")], "2.03", charges), "EUR") is None
    assert implausibility(an_order([(1, "1.00"), (1, "1.00")], "2.04", charges), "EUR")


def test_the_spec_sample_totals_are_consistent() -> None:
    """Shopify's sample: 414.95 of lines - 20.00 discount + 10.00 shipping = 404.95."""
    charges = OrderCharges(Decimal("20.00"), Decimal("10.00"), Decimal("0.00"), False)
    order = an_order([(1, "414.95")], "404.95", charges, currency="USD")
    assert implausibility(order, "USD") is None
