"""How long the embedded local stack takes to carry orders from webhook to WooCommerce.

Method: start a fresh local stack, seed the demo catalog and wait until it settles; then send N
signed single-line orders through the gateway one after another and time (a) the webhook round
trip per delivery, and (b) the time from the first send until the stack is idle again (every
order reserved and every channel synced). moto serves one request at a time and its transactions
deep-copy the tables they touch, so this measures the local equipment as much as Keel.
"""

from __future__ import annotations

import statistics
import time
from typing import cast

from local_stack.sandboxes.shopify import SandboxLine, ShopifySandbox
from local_stack.seed import DEMO_SKUS, seed_demo
from local_stack.stack import LocalConfig, LocalStack, stores

ORDERS = 30


def main() -> None:
    with LocalStack(LocalConfig(prefix="bench", log_level="CRITICAL")) as stack:
        catalog, inventory, orders = stores(stack)
        started = time.perf_counter()
        refs = seed_demo(catalog, inventory, stack.sandboxes)
        stack.wait_idle(60, settle_s=0.2)
        seeded = time.perf_counter() - started
        mug = DEMO_SKUS[0]
        variant_id = int(refs[mug.sku]["shopify"]["variant_id"])
        line = SandboxLine(variant_id, mug.sku, mug.title, 1, mug.price)
        shopify = cast(ShopifySandbox, stack.sandboxes["shopify"])
        round_trips = []
        first = time.perf_counter()
        for _ in range(min(ORDERS, mug.on_hand - mug.safety_stock)):
            body = shopify.encode(shopify.order_payload([line]))
            t = time.perf_counter()
            shopify.deliver(stack.webhook_url_for("shopify"), body, shopify.headers(body))
            round_trips.append((time.perf_counter() - t) * 1000)
        stack.wait_idle(120, settle_s=0.2)
        settled = time.perf_counter() - first - 0.2
        count = len(orders.orders())
    print(f"seed + first sync settled in {seeded:.2f} s")
    print(
        f"{count} orders: webhook round trip median {statistics.median(round_trips):.1f} ms, "
        f"p90 {statistics.quantiles(round_trips, n=10)[-1]:.1f} ms"
    )
    print(
        f"all reserved and every channel synced {settled:.2f} s after the first send "
        f"({count / settled:.1f} orders/s)"
    )


if __name__ == "__main__":
    main()
