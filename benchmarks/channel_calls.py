"""Part 5: channel API calls per burst of stock changes, against the fewest the channel allows.

Method. On the benchmark's settled local stack, BURST stock changes (receipts of one unit,
each with its own reference, as `keel stock receive` makes them) are made over SKUS SKUs
(round-robin), as fast as the stores take them, then the run waits until the stack is idle.
Every request Keel's adapters sent to each channel's API during the burst is counted (httpx, in
process; the sandboxes' control surface is not counted). The fewest calls a channel allows is
ceil(SKUS / its batch limit): the limit its stock module declares (`BATCH_LIMIT` or
`ROWS_PER_CALL`), or 1 per SKU where it declares none. A ratio of 1.0 means Keel sent each SKU's
final value once, in full batches; compare-and-set retries and reads count as calls.
"""

from __future__ import annotations

import importlib
import math
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from benchmarks.meter import Meter
from local_stack.stack import LocalStack, stores
from shared.channels.registry import CHANNELS
from shared.domain.inventory import Movement, MovementCause

_LIMIT_NAMES = ("BATCH_LIMIT", "ROWS_PER_CALL", "ITEMS_PER_CALL")


def batch_limit(outbound_stock: str) -> int:
    module = importlib.import_module(outbound_stock.partition(":")[0])
    return next((int(getattr(module, n)) for n in _LIMIT_NAMES if hasattr(module, n)), 1)


def run(
    stack: LocalStack, meter: Meter, skus: list[str], burst: int, received: Counter[str]
) -> dict[str, Any]:
    """`received` counts the units given to each SKU (the propagation bench's targets)."""
    _, inventory, _ = stores(stack)
    stack.wait_idle(120, settle_s=0.5)
    before = meter.snapshot()
    now = datetime.now(UTC)
    for n in range(burst):
        sku = skus[n % len(skus)]
        inventory.receive(Movement(sku, MovementCause.RECEIPT, 1, f"burst:{n}", "bench", now))
        received[sku] += 1
    stack.wait_idle(300, settle_s=1.0)
    counted = meter.snapshot().minus(before)
    out: dict[str, Any] = {"changes": burst, "skus": len(skus), "channels": {}}
    ratios = {}
    for channel in CHANNELS:
        if channel.outbound_stock is None:
            continue
        limit = batch_limit(channel.outbound_stock)
        minimum = math.ceil(len(skus) / limit)
        calls = counted.channel_calls.get(channel.name, 0)
        ratios[channel.name] = round(calls / minimum, 2)
        out["channels"][channel.name] = {"calls": calls, "minimum": minimum, "batch_limit": limit}
    out["ratio"] = ratios
    return out
