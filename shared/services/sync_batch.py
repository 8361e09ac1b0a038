"""A sync queue's batch, split between the planners that share the queue: stock triggers and
checks to the stock planner, price triggers and checks to the price planner; one plan back."""

from __future__ import annotations

from shared.messages import ConfirmPrice, SyncPrice, sync_message
from shared.services.outbound import BatchPlan, DeadLettered, QueueRecord, merged
from shared.services.price_outbound import PriceOutbound, plan_price_batch
from shared.services.stock_outbound import StockOutbound, plan_stock_batch


def plan_sync_batch(
    records: list[QueueRecord], stock: StockOutbound, prices: PriceOutbound | None
) -> BatchPlan:
    """`prices` None: the channel publishes no prices (a price message is dead-lettered)."""
    stock_records: list[QueueRecord] = []
    price_messages: list[tuple[str, int, SyncPrice | ConfirmPrice]] = []
    refused = BatchPlan()
    for record in records:
        try:
            message = sync_message(record.body)
        except ValueError:
            stock_records.append(record)  # the stock planner dead-letters it with the reason
            continue
        if not isinstance(message, SyncPrice | ConfirmPrice):
            stock_records.append(record)
        elif prices is None:
            refused.fates[record.message_id] = DeadLettered(
                f"{message.channel} publishes no prices", "-", {"sku": message.sku}
            )
        else:
            price_messages.append((record.message_id, record.receives, message))
    plans = [refused]
    if stock_records:
        plans.append(plan_stock_batch(stock_records, stock))
    if price_messages and prices is not None:
        plans.append(plan_price_batch(price_messages, prices))
    return merged(*plans)
