"""Sync WooCommerce: a batch of "SKU needs syncing" triggers -> one batched stock update.

Triggers are deduplicated per batch and the canonical level is read now. Retryable failures
come back through the queue (partial batch response); permanent ones go straight to the DLQ
with their error, so they are understood without logs and do not burn retries.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import httpx
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from shared.aws import client
from shared.channels.errors import NothingToDo, RetryableError
from shared.channels.woocommerce.stock import WooCredentials, WooStockPublisher
from shared.messages import SyncListing
from shared.services.stock_sync import SyncOutcome, is_retryable, publish_stock
from shared.settings import SyncWooSettings
from shared.stores.catalog import CatalogStore
from shared.stores.inventory import InventoryStore

CHANNEL = "woocommerce"
logger = Logger(service="keel-sync-woocommerce")
tracer = Tracer(service="keel-sync-woocommerce")
metrics = Metrics(namespace="Keel", service="keel-sync-woocommerce")
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class SyncFailed(Exception):
    """Raised per record so the batch processor reports it for redelivery."""


@cache
def _settings() -> SyncWooSettings:
    return SyncWooSettings()  # type: ignore[call-arg]  # values come from the environment


@cache
def _http() -> httpx.Client:
    """One connection pool per container, reused by warm invocations."""
    return httpx.Client(timeout=httpx.Timeout(10.0, connect=3.0))


def _publisher() -> WooStockPublisher:
    """Credentials come from the cached secret each time, so a rotated secret is picked up."""
    settings = _settings()
    secret = parameters.get_secret(
        settings.woocommerce_secret_name, transform="json", max_age=settings.secret_cache_seconds
    )
    return WooStockPublisher(WooCredentials.model_validate(secret), _http())


def _delay_retry(record: SQSRecord, error: Exception | None, queue_url: str | None) -> None:
    """Honour the channel's Retry-After, but never come back sooner than an exponential backoff
    on the receive count would: a short Retry-After must not burn the few receives left."""
    if not isinstance(error, RetryableError) or not error.retry_after_s or not queue_url:
        return
    receives = int(record.attributes.approximate_receive_count or 1)
    backoff = min(900, 30 * 2 ** (receives - 1))
    client("sqs").change_message_visibility(
        QueueUrl=queue_url,
        ReceiptHandle=record.receipt_handle,
        VisibilityTimeout=min(43_200, max(backoff, math.ceil(error.retry_after_s))),
    )


def _dead_letter(record: dict[str, Any], outcome: SyncOutcome) -> None:
    error = outcome.error
    client("sqs").send_message(
        QueueUrl=_settings().sync_woocommerce_dlq_url,
        MessageBody=record["body"],
        MessageAttributes={
            "error_class": {"DataType": "String", "StringValue": type(error).__name__},
            "error_message": {"DataType": "String", "StringValue": str(error)[:1000] or "-"},
            "sku": {"DataType": "String", "StringValue": outcome.sku},
            "quantity": {"DataType": "String", "StringValue": str(outcome.quantity)},
        },
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    records = event.get("Records", [])
    skus: dict[str, str] = {}  # messageId -> sku
    for record in records:
        try:
            skus[record["messageId"]] = SyncListing.model_validate_json(record["body"]).sku
        except ValueError as exc:  # pydantic's ValidationError included
            logger.error("unreadable sync trigger", extra={"error": str(exc)})
    settings = _settings()
    db = client("dynamodb")
    outcomes = publish_stock(
        skus.values(),
        _publisher(),
        CatalogStore(settings.catalog_table, db),
        InventoryStore(settings.inventory_table, db),
        remaining_s=lambda: float(context.get_remaining_time_in_millis()) / 1000,
    )
    for outcome in outcomes.values():
        logger.info(
            "stock sync",
            extra={
                "sku": outcome.sku,
                "quantity": outcome.quantity,
                "error": repr(outcome.error) if outcome.error else None,
            },
        )
    published = sum(1 for o in outcomes.values() if o.error is None)
    metrics.add_metric(name="StockPublished", unit=MetricUnit.Count, value=published)

    dead_lettered: set[str] = set()

    def record_handler(record: SQSRecord) -> str:
        sku = skus.get(record.message_id)
        if sku is None:
            unreadable = SyncOutcome("?", error=ValueError("unreadable sync trigger"))
            _dead_letter(record.raw_event, unreadable)
            return "dead-lettered"
        outcome = outcomes[sku]
        if is_retryable(outcome.error):
            _delay_retry(record, outcome.error, _settings().sync_woocommerce_queue_url)
            raise SyncFailed(f"{sku}: {outcome.error}")
        if outcome.error is not None and not isinstance(outcome.error, NothingToDo):
            if sku not in dead_lettered:  # one DLQ message per SKU, however many triggers
                _dead_letter(record.raw_event, outcome)
                dead_lettered.add(sku)
                metrics.add_metric(
                    name="StockSyncPermanentFailures", unit=MetricUnit.Count, value=1
                )
            return "dead-lettered"
        return sku

    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
