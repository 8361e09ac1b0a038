"""Release held orders: stock of a SKU arrived (or a listing for an unmatched line appeared), so
orders held waiting for it are tried again.

Triggered by the relays (one message per waiting order, oldest hold first). A retry
that is still short leaves the order waiting; one that fits reserves it in one transaction.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from shared.channels.registry import BY_NAME
from shared.messages import RetryHeld
from shared.partial_batch import queue_records
from shared.runtime import runtime
from shared.services.intake import retry_held, sku_lookup
from shared.tracing import new_tracer

logger = Logger(service="keel-release-held")
tracer = new_tracer("keel-release-held")


@tracer.capture_method
def record_handler(record: SQSRecord) -> str:
    trigger = RetryHeld.model_validate_json(record.body)
    logger.thread_safe_append_keys(correlation_id=trigger.order_key, sku=trigger.sku)
    rt = runtime()
    stores = rt.order_stores
    channel = BY_NAME[trigger.order_key.split("#", 1)[0]]
    outcome = retry_held(
        trigger.order_key,
        trigger.sku,
        partial(sku_lookup, stores.catalog, channel),
        stores.intake,
        stores.orders,
        stores.inventory,
        rt.clock(),
        catalog=stores.catalog,
        because=trigger.because,
    )
    logger.info("held order retried", extra={"outcome": outcome.value})
    return outcome.value


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return queue_records(event, context, record_handler)
