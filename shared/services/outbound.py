"""The outbound engine's shape, shared by every kind of publish (stock now, prices next).

A batch of queue records goes in; a plan comes out: what becomes of each record (finished, back
to the queue after a delay, dead-lettered with its reason), what goes back on the queue (checks,
republishes, held triggers), what to count and what to log. A publisher of a new kind writes
only its planner; `shared/queue_batch.py` carries out every plan the same way. Nothing here
talks to SQS, so a planner is tested with plain records.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class QueueRecord:
    """One SQS record, as a planner needs it."""

    message_id: str
    body: str
    receives: int = 1  # ApproximateReceiveCount
    sent_at: datetime | None = None  # SentTimestamp: when the queue took it

    @classmethod
    def from_event(cls, record: dict[str, Any]) -> QueueRecord:
        attributes = record.get("attributes") or {}
        sent = attributes.get("SentTimestamp")
        return cls(
            message_id=record["messageId"],
            body=record["body"],
            receives=int(attributes.get("ApproximateReceiveCount") or 1),
            sent_at=datetime.fromtimestamp(int(sent) / 1000, UTC) if sent else None,
        )


@dataclass(frozen=True)
class Finished:
    """Deleted from the queue; `label` says how it ended (for the log)."""

    label: str


@dataclass(frozen=True)
class RetryLater:
    """Back through the queue: after `delay_s`, or the queue's visibility timeout (None)."""

    why: str
    delay_s: int | None = None


@dataclass(frozen=True)
class DeadLettered:
    """Sent to the queue's DLQ with why (as message attributes), then deleted."""

    reason: str
    error_class: str = "-"
    attributes: dict[str, str] = field(default_factory=dict)


Fate = Finished | RetryLater | DeadLettered


@dataclass(frozen=True)
class Send:
    """A message back on the same queue, delayed (SQS: at most 900 s). `for_record`: the
    record whose fate depends on it (if the send fails, that record comes back instead)."""

    body: str
    delay_s: int = 0
    for_record: str | None = None


@dataclass
class BatchPlan:
    fates: dict[str, Fate] = field(default_factory=dict)  # message id -> its fate
    sends: list[Send] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)  # metric name -> count
    # (level, message, extra): what the handler logs, "info", "warning" or "error"
    notes: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def count(self, metric: str, value: int = 1) -> None:
        self.counts[metric] += value

    def note(self, message: str, level: str = "info", **extra: Any) -> None:
        self.notes.append((level, message, extra))


def merged(*plans: BatchPlan) -> BatchPlan:
    """One plan for a batch whose records several planners shared (stock and prices)."""
    whole = BatchPlan()
    for plan in plans:
        whole.fates.update(plan.fates)
        whole.sends.extend(plan.sends)
        whole.counts.update(plan.counts)
        whole.notes.extend(plan.notes)
    return whole
