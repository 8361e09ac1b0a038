"""Ingest: one SQS batch of verified deliveries -> canonical orders with reservations
(shared/services/order_intake.py). A record failing for a retryable reason comes back alone; on
its last receive it goes to the DLQ with the error that kept failing it. What cannot be read is
kept as a held delivery and acknowledged (a retry would not fix it)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from shared.channels.registry import BY_NAME
from shared.dead_letters import send_dead_letter
from shared.messages import InboundDelivery
from shared.names import INGEST_MAX_RECEIVES
from shared.partial_batch import queue_records
from shared.runtime import runtime
from shared.services.order_intake import Checked, Held, Ignored, Repriced, take_delivery
from shared.settings import IngestSettings
from shared.tracing import new_tracer

logger = Logger(service="keel-ingest")
tracer = new_tracer("keel-ingest")
metrics = Metrics(namespace="Keel", service="keel-ingest")


def _take(record: SQSRecord) -> str:
    delivery = InboundDelivery.model_validate_json(record.body)  # our own envelope: must parse
    logger.thread_safe_append_keys(channel=delivery.channel, delivery_id=delivery.delivery_id)
    rt, days = runtime(), runtime().settings(IngestSettings).raw_body_retention_days
    channel = rt.channel(delivery.channel) if delivery.channel in BY_NAME else None
    result = take_delivery(delivery, channel, rt.intake, rt.raw_body, days)
    if isinstance(result, Repriced):
        logger.info("competing offers", extra={"repricer": result.said})
        metrics.add_metric(name="OfferChangesRead", unit=MetricUnit.Count, value=1)
        return "repriced"
    if isinstance(result, Checked):  # a listing changed on the channel: read again
        logger.info("listing change", extra={"checked": result.said})
        metrics.add_metric(name="ListingChangesRead", unit=MetricUnit.Count, value=1)
        metrics.add_metric(
            name="ListingChangeRepairs", unit=MetricUnit.Count, value=result.repaired
        )
        return "checked"
    if isinstance(result, Held):
        logger.warning("delivery held", extra=vars(result))
        metrics.add_metric(name="DeliveriesHeld", unit=MetricUnit.Count, value=1)
        return "held"
    if isinstance(result, Ignored):
        logger.info("delivery ignored", extra=vars(result))
        return "ignored"
    logger.thread_safe_append_keys(correlation_id=result.stored.key)  # = order id everywhere
    logger.info(
        "order taken", extra={"outcome": result.outcome, "cancellation": result.cancellation}
    )
    metrics.add_metric(name=result.metric, unit=MetricUnit.Count, value=1)
    return result.outcome.value


@tracer.capture_method
def record_handler(record: SQSRecord) -> str:
    """A failure is logged with its class; on the last receive the delivery goes to the DLQ
    with the error (the redrive policy's copy carries none)."""
    try:
        return _take(record)
    except Exception as exc:
        receives = int(record.attributes.approximate_receive_count or 1)
        logger.exception(
            "delivery failed", extra={"error_class": type(exc).__name__, "receives": receives}
        )
        dlq_url = runtime().settings(IngestSettings).ingest_dlq_url
        if receives < INGEST_MAX_RECEIVES or dlq_url is None:
            raise
        send_dead_letter(runtime().aws("sqs"), dlq_url, record.body, type(exc).__name__, str(exc))
        metrics.add_metric(name="DeliveriesDeadLettered", unit=MetricUnit.Count, value=1)
        return "dead-lettered"


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return queue_records(event, context, record_handler)
