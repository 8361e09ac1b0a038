from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.listings import ChannelShows, Listing, ListingRules, Sent, channel_quantity


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


# --- what a channel shows, for a sync that only knows Keel's stock moved ---

T0 = datetime(2026, 11, 28, 12, tzinfo=UTC)
IN_FLIGHT = timedelta(seconds=60)


def test_a_channel_settled_on_a_quantity_when_it_shows_it_and_nothing_else_is_in_flight() -> None:
    shows = ChannelShows(confirmed=Sent(4, T0))
    assert shows.settled_on(4, T0, IN_FLIGHT)
    assert not shows.settled_on(5, T0, IN_FLIGHT)
    assert not ChannelShows().settled_on(0, T0, IN_FLIGHT)  # never seen: always sent


def test_a_newer_write_in_flight_is_what_the_channel_will_show() -> None:
    shows = ChannelShows(confirmed=Sent(4, T0), accepted=Sent(5, T0 + timedelta(seconds=1)))
    assert shows.settled_on(5, T0 + timedelta(seconds=2), IN_FLIGHT)
    assert not shows.settled_on(4, T0 + timedelta(seconds=2), IN_FLIGHT)  # 5 would land after
    late = T0 + timedelta(seconds=1) + IN_FLIGHT + timedelta(seconds=1)
    assert not shows.settled_on(5, late, IN_FLIGHT)  # never confirmed: send it again


def test_a_write_confirmed_after_the_last_accepted_one_is_no_longer_in_flight() -> None:
    shows = ChannelShows(confirmed=Sent(6, T0 + timedelta(seconds=3)), accepted=Sent(5, T0))
    assert shows.settled_on(6, T0 + timedelta(seconds=4), IN_FLIGHT)
    assert not shows.settled_on(5, T0 + timedelta(seconds=4), IN_FLIGHT)


def test_a_channel_never_shows_more_than_it_can() -> None:
    """bol.com takes at most 999 per offer: `keel stock show` said 1200 while bol showed 999."""
    from shared.domain.listings import Listing
    from shared.services.stock import derived_quantity

    assert channel_quantity(1200, ListingRules(), channel_max=999) == 999
    assert channel_quantity(1200, ListingRules(cap=50), channel_max=999) == 50
    assert derived_quantity(Listing("MUG", "bol"), 1200) == 999
    assert derived_quantity(Listing("MUG", "shopify"), 1200) == 1200
    assert derived_quantity(Listing("MUG", "no-such-channel"), 7) == 7


def test_a_listing_key_names_channel_account_and_marketplace_and_reads_back() -> None:
    from shared.domain.listings import listing_key, split_listing_key, stock_slot

    assert listing_key("shopify") == "shopify" == stock_slot("shopify")
    assert listing_key("shopify", "b.example") == "shopify@b.example"
    assert listing_key("amazon", "", "A1PA6795UKMFR9") == "amazon/A1PA6795UKMFR9"
    assert listing_key("amazon", "S1", "DE") == "amazon@S1/DE"
    for key in ("shopify", "shopify@b.example", "amazon/DE", "amazon@S1/DE"):
        assert listing_key(*split_listing_key(key)) == key
    listing = Listing("MUG", "amazon", account="S1", marketplace="DE")
    assert (listing.slot, listing.key) == ("amazon@S1", "amazon@S1/DE")


def test_an_account_or_marketplace_that_would_break_a_key_is_refused() -> None:
    for bad in ("a/b", "a@b", "a#b", " a"):
        with pytest.raises(ValueError, match="may not hold"):
            Listing("MUG", "shopify", account=bad)
        with pytest.raises(ValueError, match="may not hold"):
            Listing("MUG", "amazon", marketplace=bad)


@given(
    st.lists(
        st.tuples(
            st.decimals(0, 1, places=2),
            st.integers(0, 5),
            st.one_of(st.none(), st.integers(0, 20)),
        ),
        min_size=1,
        max_size=4,
    ),
    st.integers(-5, 200),
)
def test_one_quantity_never_shows_more_than_any_sharing_listing_allows(
    rules: list[tuple[Decimal, int, int | None]], available: int
) -> None:
    from shared.domain.listings import one_quantity

    listings = [
        Listing("MUG", "amazon", rules=ListingRules(share, buffer, cap), marketplace=f"M{n}")
        for n, (share, buffer, cap) in enumerate(rules)
    ]
    shown = channel_quantity(available, one_quantity(listings).rules)
    assert all(shown <= channel_quantity(available, x.rules) for x in listings)
    assert one_quantity(listings).key == "amazon/M0"


def test_a_listing_is_picked_by_what_a_person_names_and_ambiguity_is_refused() -> None:
    from shared.domain.listings import pick_listing

    nl = Listing("S", "amazon", marketplace="A1805IZSGTT6HS")
    de = Listing("S", "amazon", marketplace="A1PA6795UKMFR9")
    shop = Listing("S", "shopify")
    outlet = Listing("S", "shopify", account="keel-outlet.myshopify.com")
    listings = [nl, de, shop, outlet]
    assert pick_listing(listings, "amazon", marketplace="A1PA6795UKMFR9") == de
    assert pick_listing(listings, "shopify", account="") == shop
    assert pick_listing(listings, "shopify", account="keel-outlet.myshopify.com") == outlet
    assert pick_listing([nl, shop], "amazon") == nl
    with pytest.raises(ValueError, match="2 amazon listings fit"):
        pick_listing(listings, "amazon")
    with pytest.raises(ValueError, match=r"no such bol listing$"):
        pick_listing(listings, "bol")
    with pytest.raises(ValueError, match="it has amazon/A1805IZSGTT6HS, amazon/A1PA6795UKMFR9"):
        pick_listing(listings, "amazon", marketplace="XX")


def test_a_write_is_in_flight_only_while_newer_than_the_confirmed_one_and_young() -> None:
    from datetime import UTC, datetime, timedelta

    from shared.domain.listings import ChannelShows, Sent

    now = datetime(2026, 12, 6, 9, tzinfo=UTC)
    window = timedelta(minutes=15)
    accepted = Sent(5, now - timedelta(minutes=1))
    assert ChannelShows(None, accepted).in_flight(now, window)
    assert not ChannelShows(Sent(5, now), accepted).in_flight(now, window)  # confirmed since
    assert not ChannelShows(None, Sent(5, now - timedelta(hours=1))).in_flight(now, window)
    assert not ChannelShows(Sent(4, now - timedelta(hours=1))).in_flight(now, window)
