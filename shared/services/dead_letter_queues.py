"""What an operator asks of the dead-letter queues: how many messages each holds, and what they
are (why each failed, how often it was tried, since when), read without consuming them.

Consumers that dead-letter a message themselves put why on it (`error_class`, `error_message`
and what identifies it: shared/dead_letters.py); a message moved by the queue's redrive policy
carries none, and says so. A look receives each message once and makes it visible again at
once: every message stays on its queue for the next look or a redrive (SQS counts the look as
a receive: `receive_count` includes it).
"""

from __future__ import annotations

from collections.abc import Mapping
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
