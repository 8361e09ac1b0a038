"""The channel an order came from changed its own count when the order did (it lowered it on
the sale, raised it on a cancellation or a restocking refund). Where Keel's stock did not move
the same way (a held order, a refund the order body does not itemize), no stream change will
put Keel's number back on that channel: trigger its sync for the order's SKUs."""

from __future__ import annotations

from collections.abc import Callable

from shared.channels.registry import BY_NAME
from shared.domain.orders import Order, OrderStatus
from shared.messages import SyncListing
from shared.stores.intake import Outcome


def needs_resync(outcome: Outcome, order: Order) -> bool:
    if outcome in (Outcome.HELD, Outcome.CANCELLED, Outcome.REFUNDED):
        return True
    return outcome is Outcome.RESERVED and order.status is OrderStatus.PARTIALLY_REFUNDED


def resync_selling_channel(order: Order, send: Callable[[SyncListing], None]) -> int:
    """Triggers sent (one per SKU, to the channel's sync queue); 0 for a channel Keel does not
    publish stock to."""
    if not BY_NAME[order.channel].publishes_stock:
        return 0
    skus = sorted({ln.sku for ln in order.lines if ln.sku})
    for sku in skus:
        send(SyncListing(channel=order.channel, sku=sku))
    return len(skus)
