"""`keel status`: one look at a running environment — every queue's depth, every DLQ's, the
order workflows running and failed, orders held by reason, held deliveries, and when each
channel's poll last took orders in — and the problems in it, each naming the command that
deals with it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.domain.orders import OrderStatus
from shared.services.dead_letter_queues import QueueCount, counts
from shared.services.workflow_ops import failed_now
from shared.stores.ports import Orders


@dataclass(frozen=True)
class Status:
    queues: list[QueueCount]
    dead_letters: list[QueueCount]
    workflows_running: int
    workflows_failed: list[str]  # order keys
    held_orders: dict[str, int]  # reason (its first clause) -> orders
    held_deliveries: int
    last_polls: dict[str, str | None]  # channel -> ISO time the poll has taken orders up to
    alarms: list[str] = field(default_factory=list)  # names of the environment's alarms in ALARM
    problems: list[str] = field(default_factory=list)


def gather(
    sqs: Any,
    sfn: Any,
    machine_arn: str,
    orders: Orders,
    queues: Mapping[str, str],
    dead_letter_queues: Mapping[str, str],
    accounts: Mapping[str, str],
    cloudwatch: Any = None,
    alarm_prefix: str | None = None,
) -> Status:
    """`accounts`: channel -> the account its polls run for. With `cloudwatch` and
    `alarm_prefix`, the environment's alarms now in ALARM too."""
    dlqs = counts(sqs, dead_letter_queues)
    failed = [run.order_key for run in failed_now(sfn, machine_arn)]
    running = sum(
        len(page["executions"])
        for page in sfn.get_paginator("list_executions").paginate(
            stateMachineArn=machine_arn, statusFilter="RUNNING"
        )
    )
    held = Counter(
        (order.hold_reason or "no reason").split(":")[0]
        for order in orders.orders()
        if order.status is OrderStatus.HELD
    )
    deliveries = len(orders.held_deliveries())
    polls = {}
    for channel, account in sorted(accounts.items()):
        mark = orders.watermark(channel, account)
        polls[channel] = mark.isoformat() if mark else None
    status = Status(
        queues=counts(sqs, queues),
        dead_letters=dlqs,
        workflows_running=running,
        workflows_failed=sorted(failed),
        held_orders=dict(sorted(held.items())),
        held_deliveries=deliveries,
        last_polls=polls,
        alarms=_in_alarm(cloudwatch, alarm_prefix) if cloudwatch and alarm_prefix else [],
    )
    status.problems.extend(_problems(status))
    return status


def _in_alarm(cloudwatch: Any, prefix: str) -> list[str]:
    names: list[str] = []
    pages = cloudwatch.get_paginator("describe_alarms").paginate(
        AlarmNamePrefix=prefix, StateValue="ALARM"
    )
    for page in pages:
        names.extend(a["AlarmName"] for a in page.get("MetricAlarms", []))
    return sorted(names)


def _problems(status: Status) -> list[str]:
    found = [
        f"alarm {name} is in ALARM: its description says what to run" for name in status.alarms
    ]
    found += [
        f"{q.name} holds {q.messages + q.in_flight} message(s): keel dlq peek {q.name}"
        for q in status.dead_letters
        if q.messages or q.in_flight
    ]
    if status.workflows_failed:
        found.append(
            f"{len(status.workflows_failed)} order workflow(s) failed: keel workflows failed"
        )
    if status.held_deliveries:
        found.append(f"{status.held_deliveries} delivery(ies) held unreadable: keel orders list")
    return found
