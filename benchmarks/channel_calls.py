"""Part 5: channel API calls per burst of stock changes, against the fewest the channel allows.

Method. On the benchmark's settled local stack, SKUS SKUs of this part's own are listed on
every channel with ON_HAND units each (within what every channel can show: bol.com shows at
most 999, and the propagation SKUs' 100,000 units would leave it nothing to send) and left to
settle. Then BURST stock changes (receipts of one unit, each with its own reference, as `keel
stock receive` makes them) are made over them (round-robin), as fast as the stores take them,
and the run waits until the stack is idle (confirmation checks included). Every request the
channels' sync functions sent to each channel's API meanwhile is counted (httpx, in process,
by the thread that sent it; by endpoint and status): stock writes, compare-and-set re-reads and
retries, refused calls (429), confirmation checks, token grants. Requests other functions sent
in the same period (a scheduled order poll) are reported apart (`other_calls`); the
sandboxes' control surface is not counted. The fewest calls a channel allows is
ceil(SKUS / its batch limit): the listings one stock-write call carries, as the channel
declares it (`SyncPolicy.rows_per_call`; 1 where every listing is its own call). A ratio of
1.0 means Keel sent each SKU's final value once, in full batches; compare-and-set retries,
reads and confirmation checks count as calls.

Beside it, for reading the ratio only (the goal is judged on the minimum above):
`minimum_within_window`, the fewest stock-write calls that would put every change on the
channel within the channel's batching window (the latency the sync is built for) given when
the burst's changes were actually written: the changes' write times are covered greedily by
windows, each window costing ceil(SKUs changed in it / batch limit) calls (for a limit of 1,
per SKU). A burst written over longer than one window cannot reach the issue's minimum without
holding changes back longer than the window; this says how far above that floor Keel is.

`python -m benchmarks.channel_calls [--quick] [--delays-as-sent]` runs this part alone on its
own stack (as `make bench` configures it) and prints the figures with calls by endpoint;
`--delays-as-sent` lets SQS hold delayed messages (confirmation checks) as long as they ask,
as AWS does, instead of the local stack's 1 s cap.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx

from benchmarks.meter import Meter
from local_stack.stack import LocalConfig, LocalStack, stores
from shared.channels.registry import CHANNELS
from shared.domain.inventory import Movement, MovementCause
from shared.domain.listings import Listing
from shared.names import sync_queue

ON_HAND = 100  # units per SKU before the burst
_VERSION = re.compile(r"\d{4}-\d{2}(-\d{2})?")  # API versions in paths stay as they are


def _endpoint(path: str) -> str:
    """A path with its ids (segments holding 3+ digits, API versions aside) as `{id}`."""
    return "/".join(
        "{id}" if sum(ch.isdigit() for ch in part) >= 3 and not _VERSION.fullmatch(part) else part
        for part in path.split("/")
    )


class _Calls:
    """Channel API requests by (channel, sent by a sync function or not, endpoint and the
    answer's status: a refused call (429) is a call too)."""

    def __init__(self, stack: LocalStack) -> None:
        self._hosts = {urlsplit(stack.sandbox_url(c)).netloc: c for c in stack.sandboxes}
        self._lock = threading.Lock()
        self.counts: Counter[tuple[str, bool, str]] = Counter()

    @contextmanager
    def watching(self) -> Iterator[None]:
        send = httpx.Client.send
        calls = self

        def counted(client: httpx.Client, request: httpx.Request, **kwargs: Any) -> Any:
            response = send(client, request, **kwargs)
            channel = calls._hosts.get(request.url.netloc.decode())
            if channel is not None and not request.url.path.startswith("/__sandbox"):
                # Pollers are threads named after their function ("sqs:sync-<channel>#0").
                by_sync = threading.current_thread().name.startswith(f"sqs:{sync_queue(channel)}#")
                endpoint = f"{request.method} {_endpoint(request.url.path)} {response.status_code}"
                with calls._lock:
                    calls.counts[(channel, by_sync, endpoint)] += 1
            return response

        httpx.Client.send = counted  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            httpx.Client.send = send  # type: ignore[method-assign]

    def total(self, channel: str, by_sync: bool) -> int:
        return sum(n for (c, s, _), n in self.counts.items() if c == channel and s == by_sync)

    def endpoints(self, channel: str) -> dict[str, int]:
        found = {e: n for (c, s, e), n in self.counts.items() if c == channel and s}
        return dict(sorted(found.items(), key=lambda kv: -kv[1]))


def within_window(changes: list[tuple[float, str]], window_s: float, limit: int) -> int:
    """The fewest write calls that send every change within `window_s` of its write: windows
    laid greedily from the earliest change not yet covered; ceil(SKUs in it / limit) calls
    each. With a limit of 1 every SKU is its own series (one call carries one SKU anyway)."""
    if limit == 1:
        by_sku: dict[str, list[tuple[float, str]]] = {}
        for change in changes:
            by_sku.setdefault(change[1], []).append(change)
        return sum(len(_windows(series, window_s)) for series in by_sku.values())
    return sum(
        math.ceil(len({sku for _, sku in window}) / limit) for window in _windows(changes, window_s)
    )


def _windows(changes: list[tuple[float, str]], window_s: float) -> list[list[tuple[float, str]]]:
    windows: list[list[tuple[float, str]]] = []
    for change in sorted(changes):
        if windows and change[0] <= windows[-1][0][0] + window_s:
            windows[-1].append(change)
        else:
            windows.append([change])
    return windows


def seed(stack: LocalStack, count: int) -> list[str]:
    """This part's SKUs, listed on every channel with ON_HAND units, published and settled."""
    catalog, inventory, _ = stores(stack)
    now = datetime.now(UTC)
    skus = [f"CALLS-{n:04}" for n in range(count)]
    for sku in skus:
        catalog.put_product(sku, sku)
        for channel in CHANNELS:
            refs = stack.sandboxes[channel.name].add_listing(sku, sku, Decimal("10.00"), 0, False)
            catalog.put_listing(Listing(sku, channel.name, refs), lookup_refs=channel.lookup_refs)
        receipt = Movement(sku, MovementCause.RECEIPT, ON_HAND, f"calls:{sku}", "bench", now)
        inventory.receive(receipt, safety_stock=0)
    stack.wait_idle(300, settle_s=0.5)
    return skus


def run(stack: LocalStack, meter: Meter, skus: int, burst: int) -> dict[str, Any]:
    """`meter` is the bench's; this part counts with its own, finer instrument."""
    _, inventory, _ = stores(stack)
    names = seed(stack, skus)
    calls = _Calls(stack)
    started = time.monotonic()
    changes: list[tuple[float, str]] = []  # (written, s after start; SKU)
    with calls.watching():
        now = datetime.now(UTC)
        for n in range(burst):
            sku = names[n % skus]
            inventory.receive(Movement(sku, MovementCause.RECEIPT, 1, f"burst:{n}", "bench", now))
            changes.append((time.monotonic() - started, sku))
        written_s = time.monotonic() - started
        stack.wait_idle(600, settle_s=1.0)
    out: dict[str, Any] = {
        "changes": burst,
        "skus": skus,
        "on_hand": ON_HAND,
        "burst_written_s": round(written_s, 1),
        "settled_s": round(time.monotonic() - started, 1),
        "channels": {},
    }
    ratios = {}
    for channel in CHANNELS:
        if channel.outbound_stock is None:
            continue
        limit = channel.sync.rows_per_call
        minimum = math.ceil(skus / limit)
        made = calls.total(channel.name, by_sync=True)
        ratios[channel.name] = round(made / minimum, 2)
        floor = within_window(changes, channel.sync.max_batching_window_s, limit)
        out["channels"][channel.name] = {
            "calls": made,
            "minimum": minimum,
            "batch_limit": limit,
            "minimum_within_window": floor,
            "ratio_within_window": round(made / floor, 2) if floor else None,
            "other_calls": calls.total(channel.name, by_sync=False),
            "by_endpoint": calls.endpoints(channel.name),
        }
    out["ratio"] = ratios
    return out


def main() -> None:
    """This part alone, on its own stack configured as `make bench` does."""
    quick = "--quick" in sys.argv
    skus, burst = (10, 50) if quick else (50, 500)
    config = LocalConfig(prefix="bench", log_level="CRITICAL", batching_windows=True)
    if "--delays-as-sent" in sys.argv:
        config = dataclasses.replace(config, max_message_delay_s=None)
    with LocalStack(config) as stack:
        result = run(stack, Meter(stack), skus, burst)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
