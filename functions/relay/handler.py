"""Relay: when what a channel must show changes, tell that channel's sync queue.

Fed by two streams (wiring: `relay` on inventory, `relay-catalog` on the catalog). Messages are
triggers ("SKU needs syncing on CHANNEL"), never values: the sync consumer reads the canonical
level when it publishes, so duplicates and reordering cannot publish stale stock. Orders held
for the stock or listing that just arrived are woken (shared/services/relay.py decides).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from shared.partial_batch import stream_records
from shared.runtime import runtime
from shared.services.relay import relay_change
from shared.settings import RelaySettings
from shared.tracing import new_tracer
from shared.trigger_outbox import TriggerOutbox

logger = Logger(service="keel-relay")
tracer = new_tracer("keel-relay")
metrics = Metrics(namespace="Keel", service="keel-relay")


@tracer.capture_method
def record_handler(record: DynamoDBRecord, outbox: TriggerOutbox) -> int:
    """The record's triggers go to `outbox`, sent once the batch has been read."""
    if (ddb := record.dynamodb) is None:
        return 0
    rt, queues = runtime(), runtime().sync_queue_urls()
    held_queue = rt.settings(RelaySettings).held_orders_queue_url
    waiting = rt.inventory if held_queue and rt.config.inventory_table else None
    relayed = relay_change(ddb.old_image, ddb.new_image, rt.catalog, queues, waiting)
    if relayed.wakes and held_queue:
        for wake in relayed.wakes:
            rt.send(held_queue, wake.model_dump_json())
        logger.info("held orders woken", extra={"orders": len(relayed.wakes)})
    for trigger in relayed.triggers:
        outbox.add(str(ddb.sequence_number), queues[trigger.channel], trigger)
    if relayed.triggers:
        channels = [t.channel for t in relayed.triggers]
        logger.info(
            "change relayed",
            extra={"sku": relayed.triggers[0].sku, "cause": relayed.cause, "channels": channels},
        )
        metrics.add_metric(name="SyncTriggers", unit=MetricUnit.Count, value=len(channels))
    return len(relayed.triggers)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    outbox = TriggerOutbox()
    response = stream_records(event, context, lambda record: record_handler(record, outbox))
    unsent = outbox.flush() - {f["itemIdentifier"] for f in response["batchItemFailures"]}
    if unsent:
        logger.warning("sync triggers not sent: their records fail", extra={"records": unsent})
        response["batchItemFailures"] += [{"itemIdentifier": r} for r in sorted(unsent)]
    return response
