"""Accept the buyer's cancellation requests on the channel (port.AcceptsCancellations), by
policy, once the intake has taken the order version that carries them: its parser already
left those lines out of what is reserved, so the stock is back before the channel is told.

Called after every take of such a version (a webhook's, a poll's), a replay included: the
adapter asks the channel what is still open, so a retried record or a repeated push does not
cancel twice. An order that has shipped is not accepted (the goods are gone)."""

from __future__ import annotations

from collections.abc import Callable

from shared.channels.errors import NothingToDo
from shared.channels.port import AcceptsCancellations
from shared.domain.orders import Order, OrderStatus


def accept_cancellation_requests(
    order: Order, stored: Order, acceptor: Callable[[], AcceptsCancellations] | None
) -> str | None:
    """What was done, for the log: None when the order carries no request. Raises the
    adapter's classified errors (a RetryableError: the record or the poll comes back)."""
    if not order.cancellation_requested:
        return None
    if acceptor is None:
        return "cancellation requested; this channel cannot be told (a person decides)"
    if stored.status is OrderStatus.SHIPPED:
        return "cancellation requested after shipping: not accepted"
    try:
        acceptor().accept_cancellation(order, order.cancellation_requested)
    except NothingToDo:
        return "cancellation already accepted"
    return f"cancellation accepted for {len(order.cancellation_requested)} line(s)"
