"""The one rule for a wait (shared/channels/pacing.py) and the budget models behind it."""

from __future__ import annotations

import time

import pytest

from shared.channels.pacing import (
    IN_PROCESS_WAIT_S,
    BudgetSpent,
    HeaderBudget,
    Rate,
    TokenBucket,
    cost_waits,
    pace,
)


def test_a_short_wait_is_slept_a_long_one_goes_back_to_the_queue_unsent() -> None:
    slept: list[float] = []
    pace(2.5, slept.append, channel="c", what="op")
    pace(0.0, slept.append, channel="c", what="op")
    assert slept == [2.5]
    with pytest.raises(BudgetSpent) as spent:
        pace(IN_PROCESS_WAIT_S + 1, slept.append, channel="c", what="op")
    assert spent.value.retry_after_s == IN_PROCESS_WAIT_S + 1 and slept == [2.5]


def test_a_polite_wait_is_slept_up_to_the_bound_and_never_defers() -> None:
    slept: list[float] = []
    pace(0.0, slept.append, channel="c", what="op", polite_s=600.0)
    pace(1.0, slept.append, channel="c", what="op", polite_s=0.5)
    assert slept == [IN_PROCESS_WAIT_S, 1.0]


def test_header_budgets_wait_for_the_reset_in_seconds_or_as_an_epoch_time() -> None:
    budget = HeaderBudget()
    budget.remember("/orders", {"x-ratelimit-limit": "10", "x-ratelimit-remaining": "0",
                                "x-ratelimit-reset": "3"}, now=100.0)  # fmt: skip
    assert budget.wait_s("/orders", now=101.0) == pytest.approx(2.0)
    assert budget.wait_s("/other", now=101.0) == 0.0
    epoch = str(time.time() + 4)
    budget.remember("/orders", {"x-ratelimit-limit": "10", "x-ratelimit-remaining": "0",
                                "x-ratelimit-reset": epoch}, now=0.0)  # fmt: skip
    assert 3.0 < budget.wait_s("/orders", now=0.0) <= 4.0
    budget.remember("/orders", {"x-ratelimit-limit": "10"}, now=0.0)  # unreadable: kept as was
    assert budget.wait_s("/orders", now=0.0) > 3.0


def test_a_cost_bucket_says_what_the_next_call_needs_and_what_keeps_a_reserve() -> None:
    cost = {
        "requestedQueryCost": 10,
        "throttleStatus": {"maximumAvailable": 1000, "currentlyAvailable": 4, "restoreRate": 50},
    }
    needed, polite = cost_waits(cost, 0.1)
    assert needed == pytest.approx(6 / 50) and polite == pytest.approx(96 / 50)
    assert cost_waits({}, 0.1) == (0.0, 0.0)


def test_a_token_bucket_gives_its_burst_then_the_time_to_the_next_token() -> None:
    now = [0.0]
    bucket = TokenBucket(Rate(0.5, 2), clock=lambda: now[0])
    assert [bucket.take(), bucket.take()] == [0.0, 0.0]
    assert bucket.take() == pytest.approx(2.0)
    now[0] = 2.0
    assert bucket.take() == 0.0
