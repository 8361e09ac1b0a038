"""Hold a hot SKU's stock trigger until the SKU is quiet (SyncPolicy.hold_quiet_s/max_hold_s).

A SKU that keeps changing would be sent once per batching window; one that changed again soon
after Keel last sent it is held instead: its triggers are answered by one delayed trigger on
the channel's own sync queue (nothing is lost: the held trigger is sent before the ones it
replaces are deleted) that comes back when the SKU has been quiet for `hold_quiet_s`, or once
it has been held `max_hold_s`, whichever is first. A SKU is hot when its batch holds more than one
of its triggers (it changed again within the window) or it changed within the quiet period of
its last send. A SKU that changes rarely is never held: one trigger, its last send older than
the quiet period, it goes out after one window.

Never held: a change that leaves the channel showing (or being sent) more than is available,
a fall to zero included: that is where a unit is sold twice, so it goes out at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.domain.listings import ChannelShows


@dataclass(frozen=True)
class Heat:
    """What a batch knows of one SKU's recent changes: when it last changed (its newest
    trigger's send time, or what a held trigger carries) and since when it has been held."""

    changed_at: datetime
    held_since: datetime | None = None
    changes: int = 1  # the batch's triggers for it: more than one, it changed again already


@dataclass(frozen=True)
class HoldPolicy:
    quiet_s: int  # 0: never hold
    max_hold_s: int


def may_oversell(shows: ChannelShows, available: int) -> bool:
    """The channel shows, or is being sent, more than is available (or Keel does not know
    what it shows): holding could sell a unit twice."""
    figures = [s.quantity for s in (shows.confirmed, shows.accepted) if s is not None]
    return not figures or max(figures) > available


def last_sent(shows: ChannelShows) -> datetime | None:
    times = [s.at for s in (shows.confirmed, shows.accepted) if s is not None]
    return max(times) if times else None


def hold_for(
    heat: Heat, shows: ChannelShows, available: int, now: datetime, policy: HoldPolicy
) -> int | None:
    """Seconds to hold the SKU's trigger, or None: send now. A held SKU is due when it has
    been quiet `quiet_s`, rounded up to the channel's grid of quiet periods so the SKUs a burst
    held come back in one batch (one call for a channel that takes many rows), and never later
    than `max_hold_s` after its first hold."""
    if policy.quiet_s <= 0 or policy.max_hold_s <= 0 or may_oversell(shows, available):
        return None
    if heat.held_since is None and heat.changes < 2:  # hot if it changed soon after a send
        sent = last_sent(shows)
        if sent is None or (heat.changed_at - sent).total_seconds() >= policy.quiet_s:
            return None
    quiet = (heat.changed_at + timedelta(seconds=policy.quiet_s)).timestamp()
    on_grid = math.ceil(quiet / policy.quiet_s) * policy.quiet_s
    latest = (heat.held_since or now).timestamp() + policy.max_hold_s
    wait = min(on_grid, latest) - now.timestamp()
    return None if wait <= 0 else max(1, math.ceil(wait))
