"""Part 7: price propagation, from `keel prices set` to every channel showing the price, and
the AWS cost per 1,000 price changes.

Method. On the benchmark's local stack (its SKUs listed on every channel, showing 10.00), one
SKU at a time gets a new base price (10.90, within the guard's step) through the pricing
service, as `keel prices set` calls it in process; the clock stops when every channel's
sandbox (`GET /__sandbox/listings`, polled every 50 ms) shows 10.90. So the latency holds the
catalog stream, the relay, the sync queue's batching window and each channel's own applying
(bol's process status, Amazon's accepted patch); Keel's later confirmation reads (bol's and
Amazon's checks) come after it and are in the cost. Changes run one after another; p50/p95
over them. Cost: every request of the run (the checks included, until the stack is idle) is
counted and priced as the orders' cost is (`benchmarks.cost.price`), per 1,000 price changes
(one change: one SKU's base price, published to every listing).
"""

from __future__ import annotations

import statistics
import time
from decimal import Decimal
from typing import Any

import httpx

from benchmarks.cost import price
from benchmarks.meter import Meter
from local_stack.stack import LocalStack, runtime_of, stores
from shared.channels.registry import CHANNELS
from shared.domain.pricing import SkuPrice
from shared.services.pricing import pricing_of, set_price

NEW_PRICE = Decimal("10.90")


def _all_show(stack: LocalStack, sku: str, http: httpx.Client) -> bool:
    """Every listing of `sku` on every channel that takes prices shows the new one."""
    for channel in (c.name for c in CHANNELS if c.outbound_prices):
        rows = [r for r in http.get(f"{stack.sandbox_url(channel)}/__sandbox/listings").json()
                if r["sku"] == sku]  # fmt: skip
        if not rows or any(r.get("price") != str(NEW_PRICE) for r in rows):
            return False
    return True


def run(stack: LocalStack, meter: Meter, skus: list[str], changes: int) -> dict[str, Any]:
    with meter.pricing():
        return _run(stack, meter, skus, changes)


def _run(stack: LocalStack, meter: Meter, skus: list[str], changes: int) -> dict[str, Any]:
    catalog, _, _ = stores(stack)
    pricing = pricing_of(runtime_of(stack).prices, catalog.listings_for)
    wanted = skus[:changes]
    latencies: list[float] = []
    before = meter.snapshot()
    with httpx.Client(timeout=30) as http:
        for sku in wanted:
            started = time.monotonic()
            set_price(
                pricing, SkuPrice(sku, base=NEW_PRICE, cost=Decimal("5.00")), "bench", "bench"
            )
            deadline = started + 60
            while time.monotonic() < deadline and not _all_show(stack, sku, http):
                time.sleep(0.05)
            latencies.append(time.monotonic() - started)
    stack.wait_idle(120, settle_s=1.0)
    counted = meter.snapshot().minus(before)
    cost = price(counted, 0, len(wanted))
    ordered = sorted(latencies)
    return {
        "changes": len(wanted),
        "p50_s": round(statistics.median(ordered), 2) if ordered else None,
        "p95_s": round(ordered[max(0, round(0.95 * len(ordered)) - 1)], 2) if ordered else None,
        "max_s": round(ordered[-1], 2) if ordered else None,
        "cost_per_1000_price_changes_usd": cost["total"],
        "cost_by_service": cost["by_service"],
        "counted_per_change": cost["counted_per_order"],
    }


def main() -> None:
    """`python -m benchmarks.price_propagation [CHANGES]`: this part alone, on its own fresh
    stack (seeded as the quick run's pipeline is), printing the JSON it adds to results.json."""
    import json
    import sys

    from benchmarks.propagation import Bench, Plan
    from local_stack.stack import LocalConfig

    changes = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    config = LocalConfig(prefix="bench", log_level="CRITICAL", batching_windows=True)
    with LocalStack(config) as stack:
        bench = Bench(stack, Plan.quick().skus)
        bench.seed()
        result = run(stack, bench.meter, bench.skus, changes)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
