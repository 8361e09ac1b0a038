"""Ingest: one SQS batch of verified deliveries -> canonical orders with reservations.

Partial batch responses: a record that fails for a retryable reason comes back alone. A body
that cannot be parsed or stored is kept as a held delivery (a retry would not fix it) and
acknowledged. The channel's parser and line matching come from the channel registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
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
from shared.channels.errors import AuthError, PermanentError
from shared.channels.port import (
    AcceptsCancellations,
    FetchesOrder,
    OrderNotice,
    ParsesWebhooks,
)
from shared.channels.registry import BY_NAME
from shared.channels.spec import load
from shared.dead_letters import send_dead_letter
from shared.domain.lifecycle import deleted_by_channel
from shared.domain.orders import Order, order_key
from shared.messages import InboundDelivery
from shared.names import INGEST_MAX_RECEIVES
from shared.secret_cache import get_json
from shared.services.cancellations import accept_cancellation_requests
from shared.services.intake import sku_lookup, take_order
from shared.services.selling_channel import needs_resync, resync_selling_channel
from shared.settings import IngestSettings, SecretName, env_prefix
from shared.stores.intake import OrderStores, Outcome
from shared.stores.orders import HeldDelivery, OrderTooLarge, held_expiry
from shared.tracing import new_tracer, trace_http
from shared.validation import describe

logger = Logger(service="keel-ingest")
tracer = new_tracer("keel-ingest")
metrics = Metrics(namespace="Keel", service="keel-ingest")


@cache
def _settings() -> IngestSettings:
    return IngestSettings()  # type: ignore[call-arg]  # values come from the environment


@cache
def _inbound(channel: str) -> ParsesWebhooks | None:
    spec = BY_NAME.get(channel)
    if spec is None or spec.inbound is None:
        return None
    parser: ParsesWebhooks = load(spec.inbound)()
    return parser


@dataclass(frozen=True)
class _Account:
    name: str  # as order keys spell it
    currency: str  # what the shop sells in
    secret: dict[str, Any]


def _account(channel: str) -> _Account:
    """The account the channel's secret serves and its currency (secret cached): the webhook
    refused deliveries from any other account."""
    secret_name = SecretName(_env_prefix=env_prefix(channel)).secret_name  # type: ignore[call-arg]
    secret = get_json(secret_name, _settings().secret_cache_seconds)
    if not isinstance(secret, dict) or not secret.get("currency"):
        raise RuntimeError(f"secret for {channel} has no 'currency'")  # retried, then alarmed
    return _Account(BY_NAME[channel].account(secret), str(secret["currency"]), secret)


@cache
def _http() -> Any:
    """Only channels whose deliveries name orders (not carry them) pay for importing httpx."""
    import httpx

    trace_http(tracer)
    return httpx.Client(timeout=httpx.Timeout(15.0, connect=3.0))


def _fetch(channel: str, account: _Account, notice: OrderNotice) -> Order | None:
    """The order a notice names, read from the channel now (secret as cached: a rotated one is
    picked up within the cache's age)."""
    spec = BY_NAME[channel]
    if spec.fetch_order is None:
        raise PermanentError(f"{channel} names orders but has no fetch_order", channel=channel)
    secret = load(spec.secret_schema).model_validate(account.secret)
    fetcher: FetchesOrder = load(spec.fetch_order)(secret, _http())
    return fetcher.fetch_order(notice.order_id)


def _deleted(channel: str, account: _Account, notice: OrderNotice) -> Order | None:
    """The channel deleted the order for good: Keel's copy, cancelled (None: none kept)."""
    stored = _stores().orders.get(order_key(channel, account.name, notice.order_id))
    return deleted_by_channel(stored, datetime.now(UTC)) if stored is not None else None


def _acceptor(channel: str, account: _Account) -> Callable[[], AcceptsCancellations] | None:
    """How to tell the channel Keel accepts a buyer's cancellation request (built on use)."""
    spec = BY_NAME[channel]
    path = spec.accept_cancellation
    if path is None:
        return None

    def build() -> AcceptsCancellations:
        secret = load(spec.secret_schema).model_validate(account.secret)
        acceptor: AcceptsCancellations = load(path)(secret, _http())
        return acceptor

    return build


def _raw_body(delivery: InboundDelivery) -> bytes:
    if delivery.body_ref is None:
        return delivery.inline_body()
    obj = client("s3").get_object(Bucket=_settings().raw_bodies_bucket, Key=delivery.body_ref)
    body: bytes = obj["Body"].read()
    return body


@cache
def _stores() -> OrderStores:
    s = _settings()
    return OrderStores.connect(
        s.catalog_table, s.inventory_table, s.orders_table, client("dynamodb")
    )


def _hold_delivery(delivery: InboundDelivery, reason: str) -> str:
    kept = _stores().orders.keep_held_delivery(
        HeldDelivery(
            channel=delivery.channel,
            delivery_id=delivery.delivery_id,
            topic=delivery.topic,
            reason=reason[:2000],
            raw_body=delivery.body,
            received_at=delivery.received_at,
            body_encoding=delivery.body_encoding,
            body_ref=delivery.body_ref,
            expires_at=held_expiry(delivery.received_at, _settings().raw_body_retention_days),
        )
    )
    logger.warning("delivery held", extra={"reason": reason[:2000], "first_time": kept})
    metrics.add_metric(name="DeliveriesHeld", unit=MetricUnit.Count, value=1)
    return "held"


@tracer.capture_method
def record_handler(record: SQSRecord) -> str:
    """One delivery. A failure is logged with its class; on the last receive the delivery goes
    to the DLQ with the error that kept failing it (the redrive policy's copy carries none)."""
    try:
        return _take_delivery(record)
    except Exception as exc:
        receives = int(record.attributes.approximate_receive_count or 1)
        last = receives >= INGEST_MAX_RECEIVES
        logger.exception(
            "delivery failed", extra={"error_class": type(exc).__name__, "receives": receives}
        )
        if not last:
            raise
        _dead_letter(record.body, exc)
        metrics.add_metric(name="DeliveriesDeadLettered", unit=MetricUnit.Count, value=1)
        return "dead-lettered"


def _dead_letter(body: str, exc: Exception) -> None:
    dlq_url = _settings().ingest_dlq_url
    if dlq_url is None:
        raise RuntimeError("ingest: no DLQ URL configured") from exc
    send_dead_letter(client("sqs"), dlq_url, body, type(exc).__name__, str(exc))


def _take_delivery(record: SQSRecord) -> str:
    delivery = InboundDelivery.model_validate_json(record.body)  # our own envelope: must parse
    logger.thread_safe_append_keys(channel=delivery.channel, delivery_id=delivery.delivery_id)
    inbound = _inbound(delivery.channel)
    if inbound is None:
        return _hold_delivery(delivery, f"no inbound adapter for channel {delivery.channel!r}")
    what = delivery.topic or "delivery"
    account = _account(delivery.channel)
    try:
        order = inbound.parse_webhook(delivery.headers, _raw_body(delivery), account.name)
    except ValidationError as exc:  # where and why, never the values (customer data)
        return _hold_delivery(delivery, f"unparseable {what}: {describe(exc)}")
    except ValueError as exc:
        return _hold_delivery(delivery, f"unparseable {what}: {exc}")
    except RecursionError:
        return _hold_delivery(delivery, f"unparseable {what}: nested too deep")
    if order is None:
        logger.info("topic not acted on", extra={"topic": delivery.topic})
        return "ignored"
    if isinstance(order, OrderNotice):
        notice = order
        try:
            order = _fetch(delivery.channel, account, notice)
        except AuthError:
            raise  # a rotated credential: the record comes back and the secret cache expires
        except PermanentError as exc:  # a retry gets the same answer: kept for a person
            return _hold_delivery(delivery, f"order {notice.order_id} unreadable: {exc}")
        # RetryableError (and AuthError after its refresh budget) raise: the record comes back
        if order is None and notice.deleted:
            order = _deleted(delivery.channel, account, notice)
            if order is None:
                logger.info("deleted order Keel never had", extra={"order_id": notice.order_id})
                return "ignored"
        if order is None:
            return _hold_delivery(
                delivery, f"{delivery.channel} does not know order {notice.order_id}"
            )

    logger.thread_safe_append_keys(correlation_id=order.key)  # = order id, across functions
    stores = _stores()
    try:
        outcome, stored = take_order(
            order,
            sku_lookup(stores.catalog, BY_NAME[delivery.channel]),
            stores.intake,
            stores.orders,
            datetime.now(UTC),
            shop_currency=account.currency,
            cause=f"{delivery.topic or 'delivery'} {delivery.delivery_id}"[:300],
            catalog=stores.catalog,
        )
    except OrderTooLarge as exc:
        return _hold_delivery(delivery, f"order too large to store: {exc}")
    logger.info("order taken", extra={"outcome": outcome.value, "hold_reason": stored.hold_reason})
    accepted = accept_cancellation_requests(order, stored, _acceptor(delivery.channel, account))
    if accepted:
        logger.info("cancellation request", extra={"result": accepted})
    if needs_resync(outcome, stored):
        resync_selling_channel(stored, client("sqs"))
    metric = {
        Outcome.RESERVED: "OrdersReserved",
        Outcome.HELD: "OrdersHeld",
        Outcome.CANCELLED: "OrdersCancelled",
        Outcome.REFUNDED: "OrdersRefunded",
        Outcome.KEPT: "OrdersUpdatedAfterShipping",
    }.get(outcome)
    metrics.add_metric(name=metric or "DuplicateOrders", unit=MetricUnit.Count, value=1)
    return outcome.value


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    # One processor per invocation: a module-level one is shared by concurrent invocations in
    # the local stack and loses failures (Lambda runs one invocation per environment).
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
