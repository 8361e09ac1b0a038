"""Ingest: one SQS batch of verified deliveries -> canonical orders with reservations.

Partial batch responses: a record that fails for a retryable reason comes back alone. A body
that cannot be parsed is kept as a held delivery (a retry would not fix it) and acknowledged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from shared.aws import client
from shared.channels.port import ParsesWebhooks
from shared.channels.shopify.orders import ShopifyOrdersInbound
from shared.messages import InboundDelivery
from shared.services.intake import sku_lookup, take_order
from shared.settings import IngestSettings
from shared.stores.catalog import CatalogStore
from shared.stores.intake import OrderIntakeStore, Outcome
from shared.stores.inventory import InventoryStore
from shared.stores.orders import HeldDelivery, OrderStore

logger = Logger(service="keel-ingest")
tracer = Tracer(service="keel-ingest")
metrics = Metrics(namespace="Keel", service="keel-ingest")
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

INBOUND: dict[str, ParsesWebhooks] = {"shopify": ShopifyOrdersInbound()}


@cache
def _settings() -> IngestSettings:
    return IngestSettings()  # type: ignore[call-arg]  # values come from the environment


def _raw_body(delivery: InboundDelivery) -> bytes:
    if delivery.body_ref is None:
        return delivery.inline_body()
    obj = client("s3").get_object(Bucket=_settings().raw_bodies_bucket, Key=delivery.body_ref)
    body: bytes = obj["Body"].read()
    return body


@cache
def _stores() -> tuple[CatalogStore, OrderStore, OrderIntakeStore]:
    settings = _settings()
    db = client("dynamodb")
    orders = OrderStore(settings.orders_table, db)
    inventory = InventoryStore(settings.inventory_table, db)
    return CatalogStore(settings.catalog_table, db), orders, OrderIntakeStore(orders, inventory, db)


def _hold_delivery(delivery: InboundDelivery, reason: str) -> None:
    _, orders, _ = _stores()
    kept = orders.keep_held_delivery(
        HeldDelivery(
            channel=delivery.channel,
            delivery_id=delivery.delivery_id,
            topic=delivery.topic,
            reason=reason,
            raw_body=delivery.body,
            received_at=delivery.received_at,
            body_encoding=delivery.body_encoding,
            body_ref=delivery.body_ref,
        )
    )
    logger.warning("delivery held", extra={"reason": reason, "first_time": kept})
    metrics.add_metric(name="DeliveriesHeld", unit=MetricUnit.Count, value=1)


@tracer.capture_method
def record_handler(record: SQSRecord) -> str:
    delivery = InboundDelivery.model_validate_json(record.body)  # our own envelope: must parse
    logger.append_keys(channel=delivery.channel, delivery_id=delivery.delivery_id)
    inbound = INBOUND.get(delivery.channel)
    if inbound is None:
        _hold_delivery(delivery, f"no inbound adapter for channel {delivery.channel!r}")
        return "held"
    try:
        order = inbound.parse_webhook(delivery.headers, _raw_body(delivery))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}"
            for err in exc.errors()
        )
        _hold_delivery(delivery, f"unparseable {delivery.topic or 'delivery'}: {problems}"[:2000])
        return "held"
    except ValueError as exc:
        _hold_delivery(delivery, f"unparseable {delivery.topic or 'delivery'}: {exc}"[:2000])
        return "held"
    if order is None:
        logger.info("topic not acted on", extra={"topic": delivery.topic})
        return "ignored"

    logger.set_correlation_id(order.key)  # correlation id = order id, across functions
    catalog, _, intake = _stores()
    outcome, stored = take_order(
        order, sku_lookup(catalog, order.channel), intake, datetime.now(UTC)
    )
    logger.info("order taken", extra={"outcome": outcome.value, "hold_reason": stored.hold_reason})
    metric = {Outcome.RESERVED: "OrdersReserved", Outcome.HELD: "OrdersHeld"}.get(outcome)
    metrics.add_metric(name=metric or "DuplicateOrders", unit=MetricUnit.Count, value=1)
    return outcome.value


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
