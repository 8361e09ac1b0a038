"""Sync one channel: a batch of its sync-queue records -> one batched stock update, and the
prices in force for the listings whose price changed.

One handler for every channel that publishes stock; its channel comes from configuration
(`KEEL_CHANNEL`, set per function by the wiring). The stock planner of the outbound engine
decides (shared/services/stock_outbound.py); shared/queue_batch.py carries the plan out.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from shared import queue_batch
from shared.metrics import count
from shared.names import sync_queue
from shared.runtime import runtime
from shared.services.outbound import QueueRecord
from shared.services.price_outbound import PriceOutbound
from shared.services.stock_outbound import StockOutbound
from shared.services.sync_batch import plan_sync_batch
from shared.tracing import new_tracer

logger = Logger(service="keel-sync")
tracer = new_tracer("keel-sync")


def _warn(message: str, extra: dict[str, Any]) -> None:
    logger.warning(message, extra=extra)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    rt = runtime()
    channel = rt.channel(rt.channel_name())
    logger.thread_safe_append_keys(channel=channel.name)
    records = event.get("Records", [])
    out = StockOutbound(
        channel,
        channel.spec.sync,
        rt.catalog,
        rt.inventory,
        now=rt.clock,
        remaining_s=lambda: float(context.get_remaining_time_in_millis()) / 1000,
        accounts=channel.stock_accounts(),
    )
    prices = (
        PriceOutbound(channel, channel.spec.sync, rt.prices, rt.catalog.listing, now=rt.clock)
        if channel.can("outbound_prices")
        else None
    )
    plan = plan_sync_batch([QueueRecord.from_event(r) for r in records], out, prices)
    for level, message, extra in plan.notes:
        getattr(logger, level)(message, extra=extra)
    queue = rt.queue(sync_queue(channel.name))
    sqs = rt.aws("sqs")
    response = queue_batch.carry_out(plan, records, sqs, queue.queue_url, queue.dlq_url, _warn)
    for metric, value in plan.counts.items():
        count(metric, value, "keel-sync", channel=channel.name)
    return response
