"""Carry out an outbound plan (shared/services/outbound.py) on its SQS queue.

Sends first, then each record's fate, so nothing is deleted before what replaces it is queued:
a send tied to a record that fails makes that record come back instead; any other failed send
fails the invocation (every record comes back: consumers are idempotent). Answers Lambda's
partial batch response.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.dead_letters import send_dead_letter
from shared.services.outbound import BatchPlan, DeadLettered, RetryLater

Log = Callable[[str, dict[str, Any]], None]


def carry_out(
    plan: BatchPlan,
    records: list[dict[str, Any]],
    sqs: Any,
    queue_url: str,
    dlq_url: str | None,
    warn: Log,
) -> dict[str, list[dict[str, str]]]:
    failed: set[str] = set()
    for send in plan.sends:
        if send.for_record in failed:
            continue
        try:
            sqs.send_message(
                QueueUrl=queue_url,
                MessageBody=send.body,
                DelaySeconds=max(0, min(900, send.delay_s)),
            )
        except Exception as exc:
            if send.for_record is None:
                raise
            warn("follow-up not queued: its record comes back", {"error": repr(exc)[:300]})
            failed.add(send.for_record)
    failures: list[str] = []  # in the batch's order
    for record in records:
        message_id = record["messageId"]
        fate = plan.fates.get(message_id)
        if message_id in failed or fate is None:
            failures.append(message_id)
        elif isinstance(fate, RetryLater):
            failures.append(message_id)
            if fate.delay_s is not None:
                try:  # it comes back either way: sooner or later
                    sqs.change_message_visibility(
                        QueueUrl=queue_url,
                        ReceiptHandle=record["receiptHandle"],
                        VisibilityTimeout=fate.delay_s,
                    )
                except Exception as exc:
                    warn("retry delay not set", {"error": repr(exc)[:300]})
        elif isinstance(fate, DeadLettered):
            if dlq_url is None:
                raise RuntimeError(f"{queue_url}: no DLQ URL configured")
            try:
                send_dead_letter(
                    sqs, dlq_url, record["body"], fate.error_class, fate.reason, **fate.attributes
                )
            except Exception as exc:  # not dead-lettered: it comes back and is decided again
                warn("dead letter not sent", {"error": repr(exc)[:300]})
                failures.append(message_id)
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failures]}
