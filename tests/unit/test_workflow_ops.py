"""What an operator and the cost benchmark read from execution histories."""

from __future__ import annotations

from typing import Any

from shared.services.workflow_ops import billed_transitions


def events(*kinds: str) -> list[dict[str, Any]]:
    return [{"type": kind} for kind in kinds]


def test_every_state_entered_bills_one_transition_and_starting_the_execution_none() -> None:
    history = events(
        "ExecutionStarted",
        "ChoiceStateEntered", "ChoiceStateExited",
        "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited",
        "SucceedStateEntered", "SucceedStateExited",
        "ExecutionSucceeded",
    )  # fmt: skip
    assert billed_transitions(history) == 3


def test_each_retry_of_a_task_bills_one_more_transition() -> None:
    history = events(
        "ExecutionStarted",
        "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskFailed",
        "TaskScheduled", "TaskStarted", "TaskFailed",
        "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited",
        "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted",
        "LambdaFunctionSucceeded", "TaskStateExited",
        "ExecutionSucceeded",
    )  # fmt: skip
    assert billed_transitions(history) == 2 + 2


def test_a_redrive_bills_one_transition_and_the_states_it_runs_again() -> None:
    history = events(
        "ExecutionStarted",
        "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskFailed", "ExecutionFailed",
        "ExecutionRedriven",
        "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited",
        "ExecutionSucceeded",
    )  # fmt: skip
    assert billed_transitions(history) == 1 + 1 + 1
