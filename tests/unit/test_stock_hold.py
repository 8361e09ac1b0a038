"""When a held SKU comes back (shared/services/stock_hold.hold_for), on an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.domain.listings import ChannelShows, Sent
from shared.services.stock_hold import Heat, HoldPolicy, hold_for

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
POLICY = HoldPolicy(quiet_s=2, max_hold_s=5)
SHOWN = ChannelShows(confirmed=Sent(10, NOW - timedelta(seconds=1)))


def test_skus_held_at_different_moments_of_a_burst_come_back_together() -> None:
    """One batch, so one call for a channel that takes many rows, not one per SKU."""
    back = set()
    for ms in (100, 600, 1100, 1600):
        changed = NOW + timedelta(milliseconds=ms)
        now = changed + timedelta(milliseconds=500)
        delay = hold_for(Heat(changed, changes=2), SHOWN, 11, now, POLICY)
        assert delay is not None
        assert now + timedelta(seconds=delay) >= changed + timedelta(seconds=POLICY.quiet_s)
        back.add(now + timedelta(seconds=delay))
    assert max(back) - min(back) < timedelta(seconds=1)  # within one batching window


def test_a_held_sku_is_due_at_the_longest_hold_even_off_the_grid() -> None:
    since = NOW + timedelta(milliseconds=500)
    heat = Heat(NOW + timedelta(seconds=4), held_since=since)
    delay = hold_for(heat, SHOWN, 11, NOW + timedelta(seconds=5), POLICY)
    assert delay == 1  # due at since + 5 s = NOW + 5.5 s, not at the grid's NOW + 6 s
    assert hold_for(heat, SHOWN, 11, since + timedelta(seconds=5), POLICY) is None


def test_nothing_is_held_where_the_channel_shows_more_than_is_available() -> None:
    hot = Heat(NOW, changes=3)
    assert hold_for(hot, SHOWN, 11, NOW, POLICY) is not None
    assert hold_for(hot, SHOWN, 9, NOW, POLICY) is None  # a fall below what it shows
    assert hold_for(hot, SHOWN, 0, NOW, POLICY) is None  # to zero
    assert hold_for(hot, ChannelShows(), 11, NOW, POLICY) is None  # unknown
    in_flight = ChannelShows(SHOWN.confirmed, accepted=Sent(12, NOW))
    assert hold_for(hot, in_flight, 11, NOW, POLICY) is None  # a write of more on its way
