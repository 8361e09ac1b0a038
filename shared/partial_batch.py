"""Lambda's partial batch response for the queue and stream consumers (Powertools' batch
processing): a record that raises comes back alone, the others are done. One processor per
invocation: a module-level one would be shared by concurrent invocations in the local stack
(Lambda runs one invocation per environment) and lose failures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse


def queue_records(
    event: dict[str, Any], context: Any, record_handler: Callable[..., Any]
) -> PartialItemFailureResponse:
    return _partial(EventType.SQS, event, context, record_handler)


def stream_records(
    event: dict[str, Any], context: Any, record_handler: Callable[..., Any]
) -> PartialItemFailureResponse:
    return _partial(EventType.DynamoDBStreams, event, context, record_handler)


def _partial(
    kind: EventType, event: dict[str, Any], context: Any, record_handler: Callable[..., Any]
) -> PartialItemFailureResponse:
    processor = BatchProcessor(event_type=kind, raise_on_entire_batch_failure=False)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
