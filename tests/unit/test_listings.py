from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.listings import ListingRules, channel_quantity


@pytest.mark.parametrize(
    ("available", "rules", "expected"),
    [
        (10, ListingRules(), 10),
        (18, ListingRules(share=Decimal("0.8"), buffer=1, cap=50), 13),  # floor(14.4) - 1
        (1, ListingRules(buffer=2), 0),  # never below zero
        (5000, ListingRules(cap=999), 999),  # e.g. bol.com's limit
        (-3, ListingRules(), 0),
    ],
)
def test_channel_quantity(available: int, rules: ListingRules, expected: int) -> None:
    assert channel_quantity(available, rules) == expected


def test_rules_refuse_nonsense() -> None:
    with pytest.raises(ValueError):
        ListingRules(share=Decimal("1.5"))
    with pytest.raises(ValueError):
        ListingRules(buffer=-1)


@given(
    st.integers(-10, 10_000),
    st.decimals(0, 1, places=2),
    st.integers(0, 20),
    st.one_of(st.none(), st.integers(0, 500)),
)
def test_channel_quantity_within_bounds(
    available: int, share: Decimal, buffer: int, cap: int | None
) -> None:
    qty = channel_quantity(available, ListingRules(share, buffer, cap))
    assert 0 <= qty <= max(0, available)
    if cap is not None:
        assert qty <= cap
