"""Parts 1 and 2: stock propagation on the embedded local stack, and how it holds as tables grow.

Method. One fresh local stack (moto, gateway, pollers, sandboxes, all in this process, as
`make demo` and the e2e tests run it). A catalog of SKUS SKUs, each listed on every channel in
the registry that publishes stock, is seeded and left to settle. Then, per rate, orders are
placed for RATE_S seconds at a fixed rate (a schedule, not "as fast as answers come": up to 16
senders at once, as channels deliver concurrently), round-robin over every channel that sends
order webhooks and over the SKUs. Each order is one line of one unit, placed through the
channel sandbox's control surface (`POST /__sandbox/orders`), which sends the channel's signed
webhook to the gateway in the request (so the POST's round trip is the webhook's plus the
sandbox's own few ms).

Latency of an order: from just before that POST to the moment every *other* publishing
channel's sandbox shows at most `on_hand - k` for the SKU, k being the order's ordinal on that
SKU (stock only goes down during a run, so "at most" is exact). Each SKU starts with ON_HAND
units, below every channel's cap (bol.com shows at most 999), so every channel shows the fall.
The same is kept per channel (`by_channel`): a channel that applies a write later than it
accepts it (Amazon's sandbox, as Amazon does) is slower than Keel's part of the path. A
watcher reads the sandboxes' listings every 25 ms (in process, no HTTP): resolution +-25 ms.
An order whose channel is the only publisher counts from its webhook answer.

Budget (2026-11-28): a full `make bench` must stay near 10 minutes. Each rate runs RATE_S
(30 s; the issue's 60 s made the whole bench 22 minutes) while every lower rate held; after the
first rate that is not sustained, the higher ones run OVERLOAD_S (10 s) and the stack is given
at most OVERLOAD_SETTLE_S to drain before the next (their figures show how far the stack is from
holding them, not a steady state). Each row says how long it ran (`seconds`).

Sustained: every order propagated within DRAIN_S of the last send, and latency did not grow
during the run (least-squares slope of latency over send time below 0.05 s per s; it is
printed as `growth`). Queue depth (visible + in flight, all work queues) is sampled every
second; its maximum is reported. The highest sustained rate is the largest rate in the list
that was sustained with every lower rate sustained too.

Stored orders (part 2 on the pipeline): after the empty-stack rates, STORED orders are added
to the tables as shipped orders (copies of the order and ledger items the run just wrote,
with new keys, written by BatchWriteItem: the tables grow as 2,000 orders would make them
grow, without pushing 2,000 orders through the pipeline first), then STORED_RATES are run.

Counted per rate: moto requests per order (by operation), the share of time a request held
the moto lock, Lambda invocations per order, and SQS messages received more than once (a
message handled twice is a whole duplicate ingest).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from benchmarks.meter import Meter
from local_stack.sandboxes.base import SandboxLine
from local_stack.stack import LocalStack, stores
from shared.channels.registry import CHANNELS
from shared.domain.inventory import Movement, MovementCause
from shared.domain.listings import Listing, ListingRules
from shared.stores.inventory import MOVEMENT
from shared.stores.items import from_item, to_item
from shared.stores.orders import ORDER_SK

ON_HAND = 900  # under every channel's cap (bol.com shows at most 999), so each shows the fall
DRAIN_S = 15.0
SENDERS = 16


@dataclass(frozen=True)
class Plan:
    skus: int = 200
    rates: tuple[float, ...] = (1, 2, 3, 5, 10, 20)  # the issue's, and 3: where it tips
    rate_s: float = 30.0
    stored: int = 2000
    stored_rates: tuple[float, ...] = (2, 5)
    overload_s: float = 10.0  # a rate above one that was not sustained
    overload_settle_s: float = 45.0

    drain_s: float = DRAIN_S
    settle_timeout_s: float = 120.0  # the longest wait for the stack to drain between rates

    @staticmethod
    def quick() -> Plan:
        return Plan(
            skus=40,
            rates=(2, 5),
            rate_s=8.0,
            stored=200,
            stored_rates=(5,),
            drain_s=8.0,
            settle_timeout_s=30.0,
            overload_s=8.0,
            overload_settle_s=30.0,
        )

    def run(
        self, bench: Bench, rates: tuple[float, ...], stored: int, last: bool = False
    ) -> tuple[list[RateResult], list[float]]:
        """Each rate for `rate_s` while every lower rate held, then `overload_s` each; once
        two rates in a row were not held, the higher ones are not run (returned apart: the
        tipping point is found, and each overloaded rate costs its backlog's drain). `last`:
        nothing runs after these rates on this stack, so the last one's backlog is left."""
        results: list[RateResult] = []
        held = True
        for n, rate in enumerate(rates):
            if len(results) >= 2 and not (results[-1].sustained or results[-2].sustained):
                return results, list(rates[n:])
            seconds = self.rate_s if held else self.overload_s
            settle = self.settle_timeout_s if held else self.overload_settle_s
            final = last and n == len(rates) - 1
            results.append(bench.run_rate(rate, seconds, stored, self.drain_s, settle, final))
            held = held and results[-1].sustained
            print(f"  propagation {rate}/s, {stored} stored: {results[-1].row()}", flush=True)
        return results, []


@dataclass
class Order:
    channel: str
    sku: str
    target: int  # every other channel shows at most this once the order has propagated
    sent: float = 0.0
    answered: float | None = None
    status: int | None = None
    done: float | None = None
    shown_at: dict[str, float] = field(default_factory=dict)  # publisher -> when it showed it


@dataclass
class RateResult:
    rate_per_s: float
    stored_orders: int
    seconds: float  # how long orders were placed at this rate
    orders: int
    p50_s: float | None
    p95_s: float | None
    p99_s: float | None
    sustained: bool
    growth_s_per_s: float
    not_propagated: int
    webhook_p50_ms: float | None
    webhook_p95_ms: float | None
    max_queue_depth: int
    moto_calls_per_order: float
    invocations_per_order: float
    received_twice: int  # SQS messages a handler was given more than once
    # Per channel that shows the change: p50/p95 until that channel showed it (a channel that
    # applies writes later, as Amazon does, is slower than Keel's part of the path).
    by_channel: dict[str, dict[str, float | None]] = field(default_factory=dict)
    moto_calls_by_operation: dict[str, float] = field(default_factory=dict)
    # For the timer-hub comparison: what was sold where and when, and each order's latency.
    stream: list[dict[str, Any]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        hidden = {"moto_calls_by_operation", "stream", "latencies"}
        return {k: v for k, v in self.__dict__.items() if k not in hidden}


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _slope(points: list[tuple[float, float]]) -> float:
    if len(points) < 3:
        return 0.0
    xs, ys = zip(*points, strict=True)
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in points) / var if var else 0.0


class Bench:
    def __init__(self, stack: LocalStack, skus: int) -> None:
        self.stack = stack
        self.sellers = [c.name for c in CHANNELS if c.receiver is not None and c.inbound]
        self.publishers = [c.name for c in CHANNELS if c.publishes_stock]
        self.skus = [f"BENCH-{n:04}" for n in range(skus)]
        self.refs: dict[str, dict[str, dict[str, str]]] = {}
        self.sold: Counter[str] = Counter()
        self.received: Counter[str] = Counter()  # units received after seeding (other parts)
        self.pending: list[Order] = []
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=60)
        self.meter = Meter(stack)

    # --- setup ---
    def seed(self) -> None:
        catalog, inventory, _ = stores(self.stack)
        now = datetime.now(UTC)
        # Stock first, then the listings (each listing's own sync sends ON_HAND once), and the
        # channels' items created already showing it: one write per listing, not two.
        for sku in self.skus:
            catalog.put_product(sku, sku)
            inventory.receive(
                Movement(sku, MovementCause.RECEIPT, ON_HAND, f"bench:{sku}", "bench", now),
                safety_stock=0,
            )
        for sku in self.skus:
            self.refs[sku] = {}
            for channel in CHANNELS:
                ids = self.stack.sandboxes[channel.name].add_listing(
                    sku, sku, Decimal("10.00"), ON_HAND, False
                )
                catalog.put_listing(
                    Listing(sku, channel.name, ids, ListingRules()),
                    lookup_refs=channel.lookup_refs,
                )
                self.refs[sku][channel.name] = ids
        self.stack.wait_idle(300, settle_s=0.5)

    def store_orders(self, count: int) -> None:
        """Grow the tables by `count` shipped orders, copied from the orders stored so far."""
        assert self.stack.resources is not None
        db = self.stack.client("dynamodb")
        tables = self.stack.resources.tables
        orders = [i for i in _scan(db, tables["orders"]) if i["sk"] == ORDER_SK]
        moves = [
            i
            for i in _scan(db, tables["inventory"])
            if str(i["sk"]).startswith(MOVEMENT) and "bench:" not in str(i["sk"])
        ]
        if not orders:
            raise RuntimeError("no stored order to copy: run a rate first")
        writes: dict[str, list[dict[str, Any]]] = {tables["orders"]: [], tables["inventory"]: []}
        for n in range(count):
            order = dict(orders[n % len(orders)])
            order["pk"] = f"{order['pk']}-stored{n}"
            order["status"] = "shipped"
            writes[tables["orders"]].append(order)
            if moves:
                move = dict(moves[n % len(moves)])
                move["sk"] = f"{move['sk']}-stored{n}"
                writes[tables["inventory"]].append(move)
        for table, items in writes.items():
            for start in range(0, len(items), 25):
                db.batch_write_item(
                    RequestItems={
                        table: [{"PutRequest": {"Item": to_item(i)}} for i in items[start:][:25]]
                    }
                )
        self.stack.wait_idle(300, settle_s=0.5)

    # --- one rate ---
    def run_rate(
        self,
        rate: float,
        seconds: float,
        stored: int,
        drain_s: float = DRAIN_S,
        settle_s: float = 120,
        leave_backlog: bool = False,
    ) -> RateResult:
        """`leave_backlog`: no wait for the stack to drain afterwards (nothing runs next)."""
        stack = self.stack
        before = self.meter.snapshot()
        orders: list[Order] = []
        depths: list[int] = []
        stop = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(stop,), daemon=True)
        sampler = threading.Thread(target=self._sample, args=(stop, depths), daemon=True)
        watcher.start()
        sampler.start()
        total = max(1, round(rate * seconds))
        started = time.perf_counter()
        with ThreadPoolExecutor(SENDERS) as pool:
            for n in range(total):
                due = started + n / rate
                time.sleep(max(0.0, due - time.perf_counter()))
                order = self._next_order(n)
                orders.append(order)
                pool.submit(self._send, order)
        last_send = time.perf_counter()
        while time.perf_counter() - last_send < drain_s:
            with self._lock:
                if not self.pending:
                    break
            time.sleep(0.05)
        stop.set()
        watcher.join()
        sampler.join()
        if not leave_backlog:
            stack.wait_idle(settle_s, settle_s=0.3)  # the next rate starts from a drained stack
        with self._lock:
            self.pending.clear()

        latencies = [o.done - o.sent for o in orders if o.done is not None]
        trips = [(o.answered - o.sent) * 1000 for o in orders if o.answered is not None]
        growth = _slope([(o.sent - started, o.done - o.sent) for o in orders if o.done])
        not_propagated = sum(1 for o in orders if o.done is None)
        counted = self.meter.snapshot().minus(before)
        calls = counted.calls
        received_twice = sum(1 for times in counted.handled.values() if times > 1)
        return RateResult(
            rate_per_s=rate,
            stored_orders=stored,
            seconds=seconds,
            orders=total,
            p50_s=_round(_quantile(latencies, 0.5)),
            p95_s=_round(_quantile(latencies, 0.95)),
            p99_s=_round(_quantile(latencies, 0.99)),
            sustained=not_propagated == 0 and growth < 0.05,
            growth_s_per_s=round(growth, 3),
            not_propagated=not_propagated,
            webhook_p50_ms=_round(_quantile(trips, 0.5), 1),
            webhook_p95_ms=_round(_quantile(trips, 0.95), 1),
            max_queue_depth=max(depths, default=0),
            moto_calls_per_order=round(sum(calls.values()) / total, 1),
            invocations_per_order=round(sum(counted.invocations.values()) / total, 2),
            received_twice=received_twice,
            by_channel={
                p: {
                    "p50_s": _round(_quantile(lags, 0.5)),
                    "p95_s": _round(_quantile(lags, 0.95)),
                }
                for p in self.publishers
                for lags in [[o.shown_at[p] - o.sent for o in orders if p in o.shown_at]]
            },
            moto_calls_by_operation={
                op: round(n / total, 2) for op, n in calls.most_common() if n > 0
            },
            stream=[
                {"at": round(o.sent - started, 3), "sku": o.sku, "channel": o.channel}
                for o in orders
            ],
            latencies=latencies,
        )

    def _next_order(self, n: int) -> Order:
        # A SKU is sold on every channel in turn (not always on the same one).
        sku = self.skus[(n * 7) % len(self.skus)]
        channel = self.sellers[(n + (n * 7) // len(self.skus)) % len(self.sellers)]
        with self._lock:
            self.sold[sku] += 1
            order = Order(channel, sku, ON_HAND + self.received[sku] - self.sold[sku])
        return order

    def place(self, n: int) -> None:
        """Place the n-th order now and wait for its webhook's answer (other parts' runs)."""
        order = self._next_order(n)
        self._send(order)
        with self._lock:
            self.pending.clear()  # nobody watches outside a rate run

    def _send(self, order: Order) -> None:
        sandbox = self.stack.sandboxes[order.channel]
        line = SandboxLine(
            self.refs[order.sku][order.channel], order.sku, order.sku, 1, Decimal(10)
        )
        body = sandbox.order_body([line])
        url = f"{self.stack.sandbox_url(order.channel)}/__sandbox/orders"
        with self._lock:
            order.sent = time.perf_counter()
            self.pending.append(order)
        try:
            response = self._http.post(url, json=body)
            order.status = response.status_code
        except httpx.HTTPError:
            order.status = None
        order.answered = time.perf_counter()

    def _watch(self, stop: threading.Event) -> None:
        while not stop.is_set():
            shown = {
                name: {str(r["sku"]): r["quantity"] for r in self.stack.sandboxes[name].shown()}
                for name in self.publishers
            }
            now = time.perf_counter()
            with self._lock:
                still = []
                for order in self.pending:
                    others = [p for p in self.publishers if p != order.channel]
                    for p in others:
                        quantity = shown[p].get(order.sku)
                        if quantity is not None and quantity <= order.target:
                            order.shown_at.setdefault(p, now)
                    if all(p in order.shown_at for p in others) and (
                        others or order.answered is not None
                    ):
                        order.done = now
                    else:
                        still.append(order)
                self.pending = still
            stop.wait(0.025)

    def _sample(self, stop: threading.Event, depths: list[int]) -> None:
        assert self.stack.resources is not None
        work = set(self.stack.resources.queue_urls)
        while not stop.wait(1.0):
            depths.append(sum(v for k, v in self.stack.queue_depths().items() if k in work))


def _scan(db: Any, table: str) -> Iterable[dict[str, Any]]:
    for page in db.get_paginator("scan").paginate(TableName=table):
        yield from (from_item(i) for i in page.get("Items", []))


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)
