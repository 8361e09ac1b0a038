"""What an operator does with order workflows: list the failed ones, show one (its states, its
parcel, why it stopped), redrive one once its cause is fixed.

Redrive: AWS resumes a failed Standard execution from the failed state (`RedriveExecution`).
moto has no RedriveExecution, so against the local stack a redrive starts a new execution of the
same input, from the top: every step is idempotent on the order key, so the steps before the
one that failed find their work done and pass through (no state of the ASL is spent on
resuming: a Choice at the top would bill one transition on every order), and it says so."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from shared.stores.shipments import ShipmentRecord
from shared.workflow import STEPS, execution_name


@dataclass(frozen=True)
class Run:
    name: str
    arn: str
    status: str
    order_key: str
    states: list[str] = field(default_factory=list)  # entered, in order
    error: str | None = None
    billed_transitions: int = 0  # what Standard bills for it (billed_transitions)


_SCHEDULED = frozenset({"TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled"})


def billed_transitions(events: list[dict[str, Any]]) -> int:
    """What a Standard execution's history bills: one transition per state entered (a Choice
    and a Succeed or Fail state too; starting the execution is not one), one per retry of a
    task (an attempt after the first is scheduled again without entering the state again),
    and one per redrive. AWS: "Step Functions counts a state transition each time a step of
    your workflow is executed ... including retries"; "Execution redrives are considered as
    state transitions"."""
    billed = 0
    attempts = 0  # of the task in the state entered last
    for event in events:
        kind = str(event["type"])
        if kind.endswith("StateEntered"):
            billed += 1
            attempts = 0
        elif kind in _SCHEDULED:
            billed += 1 if attempts else 0
            attempts += 1
        elif kind == "ExecutionRedriven":
            billed += 1
    return billed


def runs(sfn: Any, machine_arn: str, status: str | None = None) -> list[Run]:
    found: list[Run] = []
    kwargs: dict[str, Any] = {"stateMachineArn": machine_arn}
    if status:
        kwargs["statusFilter"] = status
    for page in sfn.get_paginator("list_executions").paginate(**kwargs):
        for e in page["executions"]:
            found.append(_run(sfn, e["executionArn"], with_states=False))
    return found


def failed_now(sfn: Any, machine_arn: str) -> list[Run]:
    """Orders whose latest execution failed: one redriven since (a local redrive is a new
    execution `<name>-r<n>`) is listed only if that one failed too."""
    latest: dict[str, dict[str, Any]] = {}
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine_arn):
        for e in page["executions"]:
            base = _REDRIVEN.sub("", str(e["name"]))
            seen = latest.get(base)
            if seen is None or _order_of_run(str(e["name"])) > _order_of_run(str(seen["name"])):
                latest[base] = e
    return [
        _run(sfn, e["executionArn"], with_states=False)
        for e in latest.values()
        if e["status"] == "FAILED"
    ]


_REDRIVEN = re.compile(r"-r\d+$")


def _order_of_run(name: str) -> int:
    found = re.search(r"-r(\d+)$", name)
    return int(found.group(1)) if found else 0


def runs_of(sfn: Any, machine_arn: str, order_key: str) -> list[Run]:
    """Every execution of one order (the first, and local redrives `<name>-r<n>`), oldest first."""
    base = execution_name(order_key)
    arns = [
        e["executionArn"]
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine_arn)
        for e in page["executions"]
        if e["name"] == base or e["name"].startswith(f"{base}-r")
    ]
    return sorted((_run(sfn, arn) for arn in arns), key=lambda r: (len(r.name), r.name))


def _run(sfn: Any, arn: str, with_states: bool = True) -> Run:
    d = sfn.describe_execution(executionArn=arn)
    states: list[str] = []
    billed = 0
    if with_states:
        events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        states = [
            e["stateEnteredEventDetails"]["name"]
            for e in events
            if e["type"].endswith("StateEntered") and "stateEnteredEventDetails" in e
        ]
        billed = billed_transitions(events)
    order_key = str(json.loads(d.get("input") or "{}").get("order_key", ""))
    error = d.get("error")
    return Run(d["name"], arn, d["status"], order_key, states, error, billed)


def transitions(run: Run) -> int:
    """What Standard workflows bill for the run (see billed_transitions)."""
    return run.billed_transitions


def redrive_locally(
    sfn: Any, machine_arn: str, order_key: str, record: ShipmentRecord | None
) -> tuple[Run, str]:
    """A new execution of the same input; the work resumes at the step that failed (the
    steps before it are no-ops now). (new run, that step)"""
    previous = runs_of(sfn, machine_arn, order_key)
    if not previous:
        raise LookupError(f"no workflow for {order_key}")
    if previous[-1].status != "FAILED":
        raise ValueError(f"the last workflow of {order_key} is {previous[-1].status}, not FAILED")
    step = record.failed_step if record and record.failed_step in STEPS else STEPS[0]
    name = f"{execution_name(order_key)}-r{len(previous)}"
    started = sfn.start_execution(
        stateMachineArn=machine_arn,
        name=name,
        input=json.dumps({"order_key": order_key}),
    )
    return _run(sfn, started["executionArn"], with_states=False), step


def redrive_in_aws(sfn: Any, run: Run) -> None:
    """In AWS: resume the failed execution itself from the state that failed."""
    sfn.redrive_execution(executionArn=run.arn)
