"""Part 6: Keel against a timer-based hub, on the same order stream (simulated clock).

Method. The order stream is the propagation bench's at one rate (its SKUs and send times,
stretched to HOURS of trading by repeating it), with each SKU starting at STOCK units. A
channel shows stale stock for as long as the hub has not told it; a unit sold on one channel
while another still showed stock that no longer existed is *oversell exposure*: a sale the
merchant may not be able to fill. For the timer hub, every channel learns the new level at the
next sync tick (every 15 minutes, a random phase per channel), as ChannelEngine, Sellbrite or
Linnworks do; for Keel, each order's change reaches the other channels after that order's
measured propagation latency (the bench's own, cycled). An order is exposed when, at its time,
its channel still showed more than the stock left; the count is the table.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

HOURS = 1.0
STOCK = 3


@dataclass(frozen=True)
class Sale:
    at: float  # seconds
    sku: str
    channel: str


def _exposed(sales: list[Sale], channels: list[str], lag_of: Any) -> tuple[int, int]:
    """(orders taken, orders taken although stock had run out) for a lag function."""
    left: dict[str, int] = {}
    # per SKU: the times at which each channel learns about each earlier sale
    known: dict[str, list[tuple[float, str, float]]] = {}
    taken = exposed = 0
    for sale in sales:
        stock = left.get(sale.sku, STOCK)
        history = known.setdefault(sale.sku, [])
        # what this channel shows: STOCK minus the sales it has been told about by now
        told = sum(1 for at, ch, learned in history if ch == sale.channel or learned <= sale.at)
        shows = STOCK - told
        if shows <= 0:
            continue  # the channel shows nothing: no sale
        taken += 1
        if stock <= 0:
            exposed += 1
        left[sale.sku] = stock - 1
        history.append((sale.at, sale.channel, sale.at + lag_of(sale)))
    return taken, exposed


def run(
    stream: list[dict[str, Any]], channels: list[str], latencies: list[float]
) -> dict[str, Any]:
    """`stream`: [{"at", "sku", "channel"}] of one propagation rate; `latencies`: seconds."""
    if not stream or not latencies or len(channels) < 2:
        return {"skipped": "needs a measured stream on two or more channels"}
    span = max(s["at"] for s in stream) + 1.0
    repeats = max(1, int(HOURS * 3600 / span))
    # Each repeat moves every order to the next channel, so a SKU sells on every channel.
    sales = [
        Sale(
            r * span + s["at"],
            s["sku"],
            channels[(channels.index(s["channel"]) + r) % len(channels)],
        )
        for r in range(repeats)
        for s in stream
    ]
    rng = random.Random(11)
    phase = {c: rng.uniform(0, 900) for c in channels}

    def timer_lag(sale: Sale) -> float:
        # every channel learns at its next tick; the worst channel decides exposure
        return max((900 - ((sale.at - phase[c]) % 900)) for c in channels if c != sale.channel)

    cycle = iter(latencies * (len(sales) // len(latencies) + 1))

    def keel_lag(_sale: Sale) -> float:
        return next(cycle)

    rows = {}
    for name, lag in (("timer_15min", timer_lag), ("keel_measured", keel_lag)):
        taken, exposed = _exposed(sales, channels, lag)
        rows[name] = {"orders_taken": taken, "oversold": exposed}
    return {
        "hours": HOURS,
        "orders_in_stream": len(sales),
        "stock_per_sku": STOCK,
        "rows": rows,
    }
