"""The propagation plan: which rates run, for how long, and which backlog is left."""

from __future__ import annotations

from typing import Any

from benchmarks.propagation import Plan, RateResult


class _Bench:
    """Holds every rate up to `ceiling`; records how each rate was asked to run."""

    def __init__(self, ceiling: float) -> None:
        self.ceiling = ceiling
        self.calls: list[dict[str, Any]] = []

    def run_rate(
        self,
        rate: float,
        seconds: float,
        stored: int,
        drain_s: float,
        settle_s: float,
        leave_backlog: bool = False,
    ) -> RateResult:
        self.calls.append(
            {"rate": rate, "seconds": seconds, "settle": settle_s, "leave": leave_backlog}
        )
        held = rate <= self.ceiling
        return RateResult(
            rate_per_s=rate,
            stored_orders=stored,
            seconds=seconds,
            orders=round(rate * seconds),
            p50_s=1.0,
            p95_s=1.0,
            p99_s=1.0,
            sustained=held,
            growth_s_per_s=0.0 if held else 1.0,
            not_propagated=0,
            webhook_p50_ms=None,
            webhook_p95_ms=None,
            max_queue_depth=0,
            moto_calls_per_order=0.0,
            invocations_per_order=0.0,
            received_twice=0,
        )


def test_rates_after_two_unheld_in_a_row_are_not_run() -> None:
    bench = _Bench(ceiling=3)
    ran, skipped = Plan().run(bench, (1, 2, 3, 5, 10, 20), 0)  # type: ignore[arg-type]
    assert [r.rate_per_s for r in ran] == [1, 2, 3, 5, 10]
    assert skipped == [20]
    plan = Plan()
    assert [c["seconds"] for c in bench.calls] == [plan.rate_s] * 4 + [plan.overload_s]
    assert bench.calls[-1]["settle"] == plan.overload_settle_s


def test_every_rate_runs_while_one_of_the_last_two_held() -> None:
    bench = _Bench(ceiling=100)
    ran, skipped = Plan().run(bench, (1, 2, 5), 0)  # type: ignore[arg-type]
    assert [r.rate_per_s for r in ran] == [1, 2, 5] and skipped == []
    assert not any(c["leave"] for c in bench.calls)


def test_only_the_last_rate_of_the_last_series_leaves_its_backlog() -> None:
    bench = _Bench(ceiling=2)
    Plan().run(bench, (2, 5), 2000, last=True)  # type: ignore[arg-type]
    assert [c["leave"] for c in bench.calls] == [False, True]
