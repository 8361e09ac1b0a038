"""Part 3: AWS cost per 1,000 orders through the full flow, at list price, from counted events.

Method. On the benchmark's local stack, ORDERS orders are placed through the channel sandboxes
(round-robin over the channels that send webhooks), each order's parcel is handed to the
carrier in the Sendcloud sandbox (its signed webhook resumes the workflow), and the run waits
until every execution has ended. Everything the run did is counted at the edges
(`benchmarks.meter`): Lambda invocations per function and their duration here, billed at the
function's configured memory (arm64; this machine's CPU is not Graviton's, so duration is
indicative, and it is the line most likely to differ in AWS); DynamoDB request units from the
items' sizes by DynamoDB's rules (moto's own ReturnConsumedCapacity is a constant); SQS
requests in 64 KB chunks, receives included (Lambda's pollers long-poll in AWS, so idle
receives there are fewer than here: counted here, they are an upper bound); Step Functions
state transitions from the executions' histories as Standard bills them (each state entered,
Choice/Succeed/Fail included, and each retry of a task: `workflow_ops.billed_transitions`);
API Gateway requests (webhooks and carrier webhooks); Secrets Manager calls. Prices:
benchmarks/prices.json (dated, eu-west-1). The cost of work Keel does on a schedule (polls
every 5-10 min, the 6-hourly resync) is per hour, not per order, and is left out.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.meter import Counts, Meter
from local_stack.stack import LocalStack
from shared.services.workflow_ops import billed_transitions
from shared.wiring import WIRING, HttpRoute

PRICES = Path(__file__).with_name("prices.json")


def _transitions(stack: LocalStack, since: float) -> tuple[int, int]:
    """(state transitions, executions) of executions started after `since` (epoch s)."""
    assert stack.resources is not None
    sfn = stack.client("stepfunctions")
    transitions = executions = 0
    for arn in stack.resources.state_machines.values():
        pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=arn)
        for page in pages:
            for execution in page["executions"]:
                if execution["startDate"].timestamp() < since:
                    continue
                executions += 1
                events = sfn.get_execution_history(
                    executionArn=execution["executionArn"], maxResults=1000
                )["events"]
                transitions += billed_transitions(events)
    return transitions, executions


def _wait_for_executions(stack: LocalStack, since: float, timeout_s: float) -> None:
    assert stack.resources is not None
    sfn = stack.client("stepfunctions")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        running = [
            e
            for arn in stack.resources.state_machines.values()
            for e in sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]
            if e["startDate"].timestamp() >= since
        ]
        if not running:
            return
        time.sleep(0.5)


def price(counts: Counts, transitions: int, orders: int) -> dict[str, Any]:
    prices = json.loads(PRICES.read_text())
    memory = {f.name: f.memory_mb for f in WIRING.functions}
    gb_s = sum(counts.duration_ms[f] / 1000 * memory.get(f, 256) / 1024 for f in counts.duration_ms)
    requests = sum(counts.invocations.values())
    routes = {f.name for f in WIRING.functions if isinstance(f.trigger, HttpRoute)}
    api_requests = sum(n for f, n in counts.invocations.items() if f in routes)
    per = 1000 / orders
    lam, ddb = prices["lambda"], prices["dynamodb_on_demand"]
    by_service = {
        "lambda": (requests * lam["per_request"] + gb_s * lam["per_gb_second_arm64"]) * per,
        "dynamodb": (
            counts.write_units * ddb["per_write_request_unit"]
            + counts.read_units * ddb["per_read_request_unit"]
        )
        * per,
        "sqs": counts.sqs_requests * prices["sqs_standard"]["per_request"] * per,
        "stepfunctions": transitions
        * prices["stepfunctions_standard"]["per_state_transition"]
        * per,
        "api_gateway": api_requests * prices["api_gateway_rest"]["per_request"] * per,
        "secrets_manager": counts.secrets_calls * prices["secrets_manager"]["per_api_call"] * per,
    }
    return {
        "total": round(sum(by_service.values()), 4),
        "by_service": {k: round(v, 4) for k, v in by_service.items()},
        "prices_as_of": prices["as_of"],
        "region": prices["region"],
        "counted_per_order": {
            "lambda_invocations": round(requests / orders, 2),
            "lambda_gb_s": round(gb_s / orders, 4),
            "dynamodb_write_units": round(counts.write_units / orders, 1),
            "dynamodb_read_units": round(counts.read_units / orders, 1),
            "sqs_requests": round(counts.sqs_requests / orders, 1),
            # of which empty receives: the local pollers' (Lambda's long-poll, per hour)
            "sqs_empty_receives": round(counts.sqs_empty_receives / orders, 1),
            "state_transitions": round(transitions / orders, 2),
            "api_gateway_requests": round(api_requests / orders, 2),
            "secrets_manager_calls": round(counts.secrets_calls / orders, 3),
        },
    }


def run(stack: LocalStack, meter: Meter, place: Any, orders: int) -> dict[str, Any]:
    """`place(n)` places the n-th order through a channel sandbox (the propagation bench's)."""
    with meter.pricing():
        return _run(stack, meter, place, orders)


def _run(stack: LocalStack, meter: Meter, place: Any, orders: int) -> dict[str, Any]:
    since = time.time()
    before = meter.snapshot()
    carrier = f"{stack.sandbox_url('sendcloud')}/__sandbox"
    known = {p["parcel_id"] for p in httpx.get(f"{carrier}/parcels", timeout=30).json()}
    for n in range(orders):
        place(n)
    deadline = time.monotonic() + 120
    parcels: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        parcels = [
            p
            for p in httpx.get(f"{carrier}/parcels", timeout=30).json()
            if p["parcel_id"] not in known
        ]
        if len(parcels) >= orders:
            break
        time.sleep(0.5)
    for parcel in parcels:
        httpx.post(
            f"{carrier}/parcels/{parcel['parcel_id']}/status",
            json={"status_id": 3, "message": "En route to sorting center"},
            timeout=30,
        )
    _wait_for_executions(stack, since, 180)
    stack.wait_idle(180, settle_s=1.0)
    counted = meter.snapshot().minus(before)
    transitions, executions = _transitions(stack, since)
    result = price(counted, transitions, orders)
    result["orders"] = orders
    result["shipped"] = len(parcels)
    result["executions"] = executions
    result["invocations_per_order_by_function"] = {
        name: round(n / orders, 2) for name, n in counted.invocations.most_common()
    }
    memory = {f.name: f.memory_mb for f in WIRING.functions}
    result["lambda_gb_s_per_order_by_function"] = {
        name: round(ms / 1000 * memory.get(name, 256) / 1024 / orders, 4)
        for name, ms in counted.duration_ms.most_common()
    }
    result["requests_per_order_by_operation"] = {
        op: round(n / orders, 2) for op, n in counted.calls.most_common()
    }
    return result


def main() -> None:
    """`python -m benchmarks.cost [ORDERS]`: this part alone, on its own fresh stack (as the
    quick run's pipeline seeds it), printing the JSON it would add to results.json."""
    import sys

    from benchmarks.propagation import Bench, Plan
    from local_stack.stack import LocalConfig

    orders = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    config = LocalConfig(prefix="bench", log_level="CRITICAL", batching_windows=True)
    with LocalStack(config) as stack:
        bench = Bench(stack, Plan.quick().skus)
        bench.seed()
        result = run(stack, bench.meter, bench.place, orders)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
