"""Queue deliveries: a channel that sends its notifications to an SQS queue in the merchant's
account (Amazon SP-API) instead of calling a webhook. One handler for every such channel; its
channel is the one the queue is named for (`<prefix>-notifications-<channel>`, from the record's
source ARN: the local stack runs every function in one process, so no process-wide variable can
say it), its rules are the channel's QueueReceiver.

Nothing is signed: the queue's resource policy (only the channel's documented principal may
send) is the trust. Each message is received as the webhook's are (shared/services/
delivery_receipt.py: deduped on the channel's business key, enqueued for ingest, then marked
seen). Imports stay light (stdlib, botocore, Logger), like the webhook's.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from shared.channels.registry import BY_NAME
from shared.names import notification_queue
from shared.services.delivery_receipt import Door, queue_delivery, receive

logger = Logger(service="keel-queue-delivery")


@cache
def _door() -> Door:
    return Door.from_env(os.environ)


def channel_of(source_arn: str) -> str:
    """`arn:aws:sqs:<region>:<account>:<prefix>-notifications-<channel>` -> the channel."""
    queue_name = source_arn.rpartition(":")[2]
    marker = notification_queue("")
    if marker not in queue_name:
        raise RuntimeError(f"not a notification queue: {queue_name!r}")
    return queue_name.rpartition(marker)[2]


def _deliver(record: dict[str, Any]) -> None:
    channel = channel_of(record["eventSourceARN"])
    logger.thread_safe_append_keys(channel=channel)
    spec = BY_NAME.get(channel)
    if spec is None or spec.queue_receiver is None:
        raise RuntimeError(f"channel {channel!r} does not deliver to a queue")
    delivery = queue_delivery(channel, spec.queue_receiver, record["body"], datetime.now(UTC))
    new = receive(_door(), delivery)
    extra = {"delivery_id": delivery.delivery_id, "topic": delivery.topic}
    logger.info("delivery enqueued" if new else "duplicate delivery acknowledged", extra=extra)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Partial batch response: a message that failed (throttled table, ingest queue) comes back
    alone; the others are not repeated."""
    failures = []
    for record in event.get("Records", []):
        try:
            _deliver(record)
        except Exception:
            logger.exception("delivery not enqueued", extra={"message_id": record["messageId"]})
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
