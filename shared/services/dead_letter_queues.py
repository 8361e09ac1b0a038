"""What an operator asks of the dead-letter queues: how many messages each holds, and what they
are (why each failed, how often it was tried, since when), read without consuming them.

Consumers that dead-letter a message themselves put why on it (`error_class`, `error_message`
and what identifies it: shared/dead_letters.py); a message moved by the queue's redrive policy
carries none, and says so. A look receives each message once and makes it visible again at
once: every message stays on its queue for the next look or a redrive (SQS counts the look as
a receive: `receive_count` includes it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MAX_PER_RECEIVE = 10  # SQS's most messages per ReceiveMessage (and per visibility batch)
HOLD_S = 30  # a looked-at message is out of sight this long at most (shown again at once)


@dataclass(frozen=True)
class QueueCount:
    name: str
    messages: int  # visible now
    in_flight: int  # received by someone, not yet deleted


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    error_class: str  # "-" when the queue's redrive policy moved it (no reason recorded)
    error_message: str
    receive_count: int  # as SQS counts them, looks included
    sent_at: datetime | None  # when it reached the DLQ
    body: str
    attributes: dict[str, str] = field(default_factory=dict)  # what else identifies it


def counts(sqs: Any, queues: Mapping[str, str]) -> list[QueueCount]:
    """Every queue's depth, by name (sorted)."""
    rows = []
    for name, url in sorted(queues.items()):
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
            ],
        )["Attributes"]
        rows.append(
            QueueCount(
                name,
                int(attributes.get("ApproximateNumberOfMessages", 0)),
                int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
            )
        )
    return rows


def peek(sqs: Any, url: str, limit: int = 10) -> list[DeadLetter]:
    """Up to `limit` messages of the queue, oldest first, each once, none consumed: each
    answer's messages are held out of sight (`HOLD_S`) so the next receive returns others,
    then made visible again at once."""
    seen: dict[str, DeadLetter] = {}
    handles: list[str] = []
    try:
        while len(seen) < limit:
            answer = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(MAX_PER_RECEIVE, limit - len(seen)),
                VisibilityTimeout=HOLD_S,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages = answer.get("Messages", [])
            fresh = [m for m in messages if m["MessageId"] not in seen]
            if not fresh:
                break
            for message in fresh:
                seen[message["MessageId"]] = _dead_letter(message)
            handles += [m["ReceiptHandle"] for m in messages]
    finally:
        _show_again(sqs, url, handles)
    return sorted(seen.values(), key=lambda d: d.sent_at or datetime.min.replace(tzinfo=UTC))


def _show_again(sqs: Any, url: str, handles: list[str]) -> None:
    for start in range(0, len(handles), MAX_PER_RECEIVE):
        entries = [
            {"Id": str(n), "ReceiptHandle": handle, "VisibilityTimeout": 0}
            for n, handle in enumerate(handles[start : start + MAX_PER_RECEIVE])
        ]
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)


def _dead_letter(message: dict[str, Any]) -> DeadLetter:
    said = {
        name: str(value.get("StringValue", ""))
        for name, value in (message.get("MessageAttributes") or {}).items()
    }
    system = message.get("Attributes") or {}
    sent = system.get("SentTimestamp")
    return DeadLetter(
        message_id=message["MessageId"],
        error_class=said.pop("error_class", "-"),
        error_message=said.pop("error_message", "no reason recorded (moved by the redrive policy)"),
        receive_count=int(system.get("ApproximateReceiveCount", 0)),
        sent_at=datetime.fromtimestamp(int(sent) / 1000, UTC) if sent else None,
        body=message["Body"],
        attributes=said,
    )


@dataclass(frozen=True)
class Redriven:
    moved: int
    status: str  # COMPLETED, FAILED, RUNNING (still moving when the wait ended), MOVED (--limit)
    reason: str = ""


def queue_arn(sqs: Any, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def redrive(
    sqs: Any,
    dlq_url: str,
    destination_url: str,
    limit: int | None = None,
    wait_s: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Redriven:
    """Send a DLQ's messages back to the queue they failed on, as new messages.

    All of them: SQS's own move task (`StartMessageMoveTask` with the destination named, since
    messages a consumer dead-lettered itself carry no source queue), followed until it ends or
    `wait_s` passes. At most `limit`: moved one by one here (receive, send, delete), as a
    move task cannot be bounded. Either way a message is deleted only after its copy is sent.
    """
    if limit is not None:
        return Redriven(_move_some(sqs, dlq_url, destination_url, limit), "MOVED")
    source = queue_arn(sqs, dlq_url)
    sqs.start_message_move_task(SourceArn=source, DestinationArn=queue_arn(sqs, destination_url))
    deadline = time.monotonic() + wait_s
    while True:
        (task, *_) = sqs.list_message_move_tasks(SourceArn=source, MaxResults=1)["Results"]
        moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
        if task["Status"] != "RUNNING" or time.monotonic() >= deadline:
            return Redriven(moved, str(task["Status"]), str(task.get("FailureReason", "")))
        sleep(1.0)


def _move_some(sqs: Any, dlq_url: str, destination_url: str, limit: int) -> int:
    moved = 0
    while moved < limit:
        answer = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=min(MAX_PER_RECEIVE, limit - moved),
            VisibilityTimeout=HOLD_S,
            WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
        )
        messages = answer.get("Messages", [])
        if not messages:
            break
        for message in messages:
            sqs.send_message(
                QueueUrl=destination_url,
                MessageBody=message["Body"],
                MessageAttributes=message.get("MessageAttributes") or {},
            )
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved
