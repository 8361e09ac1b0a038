"""Relay: when what a channel must show changes, tell that channel's sync queue.

Fed by two streams (wiring: `relay` on inventory, `relay-catalog` on the catalog). Messages are
triggers ("SKU needs syncing on CHANNEL"), never values: the sync consumer reads the canonical
level when it publishes, so duplicates and reordering cannot publish stale stock.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
)

from shared.aws import client
from shared.messages import RetryHeld, SyncListing
from shared.services.relay import (
    channels_to_sync,
    listing_change,
    listing_found,
    stock_arrived,
    stock_change,
)
from shared.settings import RelaySettings
from shared.stores.catalog import CatalogStore
from shared.stores.inventory import InventoryStore
from shared.tracing import new_tracer
from shared.trigger_outbox import TriggerOutbox

logger = Logger(service="keel-relay")
tracer = new_tracer("keel-relay")
metrics = Metrics(namespace="Keel", service="keel-relay")


@cache
def _settings() -> RelaySettings:
    return RelaySettings()  # type: ignore[call-arg]  # values come from the environment


@cache
def _setup() -> tuple[CatalogStore, dict[str, str]]:
    settings = _settings()
    return CatalogStore(settings.catalog_table, client("dynamodb")), settings.sync_queue_urls()


def _wake_waiting_orders(sku: str) -> int:
    """Stock grew: a trigger per order held waiting for it, oldest first."""
    settings = _settings()
    if settings.inventory_table is None or settings.held_orders_queue_url is None:
        return 0  # this relay reads the catalog's stream: no stock moves there
    waiting = InventoryStore(settings.inventory_table, client("dynamodb")).waiting_orders(sku)
    return _wake(waiting, sku, "stock")


def _wake_orders_waiting_for_listing(ref_pk: str, sku: str) -> int:
    """A channel id was mapped to a SKU: orders held for a line with that id, oldest first."""
    catalog, _ = _setup()
    return _wake(catalog.orders_waiting_for_ref(ref_pk), sku, "listing")


def _wake(waiting: list[str], sku: str, because: Literal["stock", "listing"]) -> int:
    settings = _settings()
    if settings.held_orders_queue_url is None:
        return 0
    for order_key in waiting:
        client("sqs").send_message(
            QueueUrl=settings.held_orders_queue_url,
            MessageBody=RetryHeld(order_key=order_key, sku=sku, because=because).model_dump_json(),
        )
    return len(waiting)


@tracer.capture_method
def record_handler(record: DynamoDBRecord, outbox: TriggerOutbox) -> int:
    """The record's triggers go to `outbox`, sent once the batch has been read."""
    ddb = record.dynamodb
    if ddb is None:
        return 0
    catalog, queues = _setup()
    found = listing_found(ddb.old_image, ddb.new_image)
    if found is not None and (woken := _wake_orders_waiting_for_listing(*found)):
        logger.info("held orders woken by a listing", extra={"sku": found[1], "orders": woken})
    arrived = stock_arrived(ddb.old_image, ddb.new_image)
    if arrived is not None and (woken := _wake_waiting_orders(arrived)):
        logger.info("held orders woken", extra={"sku": arrived, "orders": woken})
    sku = stock_change(ddb.old_image, ddb.new_image)
    if sku is not None:
        targets = channels_to_sync(catalog.listings_for(sku), queues)
        cause = "stock"
    else:
        listing = listing_change(ddb.old_image, ddb.new_image)
        if listing is None or listing.channel not in queues:
            return 0
        sku, targets, cause = listing.sku, [listing.channel], "listing"
    record_id = str(ddb.sequence_number)
    for channel in targets:
        trigger = SyncListing(channel=channel, sku=sku, stock_moved=cause == "stock")
        outbox.add(record_id, queues[channel], trigger)
    logger.info("change relayed", extra={"sku": sku, "cause": cause, "channels": targets})
    metrics.add_metric(name="SyncTriggers", unit=MetricUnit.Count, value=len(targets))
    return len(targets)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    # One processor per invocation: never shared by concurrent invocations (local stack).
    processor = BatchProcessor(
        event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
    )
    outbox = TriggerOutbox()
    response = process_partial_response(
        event=event,
        record_handler=lambda record: record_handler(record, outbox),
        processor=processor,
        context=context,
    )
    unsent = outbox.flush() - {f["itemIdentifier"] for f in response["batchItemFailures"]}
    if unsent:
        logger.warning("sync triggers not sent: their records fail", extra={"records": unsent})
        response["batchItemFailures"] += [{"itemIdentifier": r} for r in sorted(unsent)]
    return response
