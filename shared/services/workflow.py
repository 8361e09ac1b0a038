"""The order workflow's steps: each one small, idempotent on the order key, and safe to run
again after a lost answer or a redrive. The state machine (shared/workflow/order.asl.json)
orders them; Step Functions retries what raises RetryableError and catches the rest.

Errors are named for the state machine: `OrderCancelled` (the channel ended the order:
compensate), `WorkflowRefused` (the order cannot be shipped as it is: a person fixes it, then
redrives), the channels' and the carrier's classified errors (retryable or not)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from shared.channels.errors import NothingToDo, RetryableError
from shared.domain.inventory import aggregate_by_sku
from shared.domain.orders import Order, OrderStatus
from shared.domain.shipments import Shipment, ShipmentState
from shared.stores.intake import OrderIntakeStore, VersionMoved
from shared.stores.orders import OrderStore
from shared.stores.shipments import ShipmentStore

T = TypeVar("T")


class OrderCancelled(Exception):
    """The channel cancelled or refunded the order before it left: compensate."""


class WorkflowRefused(Exception):
    """The order cannot go on as it is (no address, a line without a SKU, held again)."""


class Carrier(Protocol):
    name: str

    def announce(self, order: Order) -> Shipment:
        """The order's parcel; the one announced before when a retry finds it (the order key is
        its external reference), never a second."""
        ...

    def cancel(self, shipment: Shipment) -> None:
        """Raises NothingToDo when the carrier no longer knows it (already cancelled)."""
        ...


class ConfirmsOnChannel(Protocol):
    def __call__(self, order: Order, shipment: Shipment) -> None:
        """Raises NothingToDo when the channel already shows it shipped."""
        ...


@dataclass(frozen=True)
class Stores:
    orders: OrderStore
    intake: OrderIntakeStore
    shipments: ShipmentStore


def _order(stores: Stores, order_key: str) -> tuple[Order, dict[str, int]]:
    found = stores.orders.get_with_reservations(order_key)
    if found is None:
        raise WorkflowRefused(f"no order {order_key}")
    return found


def _live(order: Order) -> None:
    if order.ended:
        raise OrderCancelled(f"{order.key} is {order.status.value}")


def validate(stores: Stores, order_key: str, can_confirm: bool) -> None:
    """Known SKUs, a shipping address, a channel that can be told, and the reservation the
    intake made (asserted, not made here)."""
    order, reserved = _order(stores, order_key)
    if order.status is OrderStatus.SHIPPED:
        return  # a redrive after the last step: nothing left to check
    if order.ended and _handed_over(stores, order_key):
        return  # ended after the carrier took it (a redrive from the top): the commit's turn
    _live(order)
    if not order.accepted:
        raise WorkflowRefused(f"order is {order.status.value}: {order.hold_reason or ''}")
    unknown = [ln.line_id for ln in order.lines if ln.stock and ln.sku is None]
    if unknown:
        raise WorkflowRefused(f"lines without a SKU: {', '.join(unknown)}")
    wanted = aggregate_by_sku((ln.sku, ln.quantity) for ln in order.lines if ln.stock and ln.sku)
    if wanted != reserved:
        raise WorkflowRefused(f"reserved {reserved} is not what the lines order ({wanted})")
    if order.shipping_address is None:
        raise WorkflowRefused("the order has no shipping address")
    if not can_confirm:
        raise WorkflowRefused(f"channel {order.channel} cannot be told of shipments")


def _handed_over(stores: Stores, order_key: str) -> bool:
    record = stores.shipments.get(order_key)
    shipment = record.shipment if record else None
    return shipment is not None and shipment.state is ShipmentState.HANDED_OVER


def ship(stores: Stores, order_key: str, carrier: Carrier, now: datetime) -> Shipment:
    record = stores.shipments.get(order_key)
    if record is not None and record.shipment is not None:
        return record.shipment  # announced before (a retry, a redrive)
    order, _ = _order(stores, order_key)
    _live(order)
    shipment = carrier.announce(order)
    stores.shipments.announced(order_key, shipment, now)
    return shipment


def await_carrier(
    stores: Stores, order_key: str, task_token: str, sfn: Any
) -> ShipmentState | None:
    """Leave the token with the parcel; the carrier's webhook resumes the execution. When the
    carrier was faster than this step (or the order was cancelled), answer now."""
    state = stores.shipments.wait_for_carrier(order_key, task_token)
    if state is ShipmentState.ANNOUNCED:
        order, _ = _order(stores, order_key)
        if order.ended:  # cancelled before the token was kept: the starter could not answer
            fail_waiting(sfn, task_token, f"{order_key} is {order.status.value}")
        return state
    if state is ShipmentState.HANDED_OVER:
        sfn.send_task_success(taskToken=task_token, output=json.dumps({"handed_over": True}))
    elif state is ShipmentState.CANCELLED:
        sfn.send_task_failure(
            taskToken=task_token, error="OrderCancelled", cause="parcel cancelled"
        )
    elif state is None:
        raise WorkflowRefused("no parcel to wait for")
    return state


def fail_waiting(sfn: Any, task_token: str, cause: str) -> None:
    """The order ended while the execution waits for the carrier: it goes to compensation."""
    with contextlib.suppress(sfn.exceptions.TaskTimedOut, sfn.exceptions.InvalidToken):
        sfn.send_task_failure(taskToken=task_token, error="OrderCancelled", cause=cause[:200])


def carrier_took(stores: Stores, carrier: str, parcel_id: str, sfn: Any) -> str | None:
    """The carrier has the parcel: resume the execution once (a repeated event finds the
    parcel already handed over and does nothing). Returns the order key when it moved."""
    order_key = stores.shipments.order_of_parcel(carrier, parcel_id)
    if order_key is None:
        return None
    moved = stores.shipments.move(order_key, ShipmentState.HANDED_OVER)
    if moved is None:
        return None
    if moved.task_token is not None:
        _answer(sfn, moved.task_token)
    return order_key


def _answer(sfn: Any, token: str) -> None:
    # An execution that stopped waiting (timed out, cancelled) has nothing to resume.
    with contextlib.suppress(sfn.exceptions.TaskTimedOut, sfn.exceptions.InvalidToken):
        sfn.send_task_success(taskToken=token, output=json.dumps({"handed_over": True}))


def carrier_progress(stores: Stores, carrier: str, parcel_id: str, sfn: Any) -> bool:
    """Any other carrier event: the parcel is alive (the heartbeat of the wait)."""
    order_key = stores.shipments.order_of_parcel(carrier, parcel_id)
    token = stores.shipments.waiting_token(order_key) if order_key else None
    if token is None:
        return False
    try:
        sfn.send_task_heartbeat(taskToken=token)
    except (sfn.exceptions.TaskTimedOut, sfn.exceptions.InvalidToken):
        return False
    return True


def confirm(stores: Stores, order_key: str, tell: ConfirmsOnChannel) -> None:
    order, _ = _order(stores, order_key)
    record = stores.shipments.get(order_key)
    if record is None or record.shipment is None:
        raise WorkflowRefused("no parcel to confirm")
    if order.ended or order.status is OrderStatus.SHIPPED:
        return  # cancelled after hand-over (recorded, not compensated), or confirmed before
    with contextlib.suppress(NothingToDo):  # the channel shows it already (a lost answer)
        tell(order, record.shipment)


COMMIT_ATTEMPTS = 3
LEFT_AFTER_END = "left the shelf after the order ended"


def commit(stores: Stores, order_key: str, now: datetime) -> bool:
    """Take the shipped goods off the shelf and mark the order shipped, in one transaction.
    False when there was nothing left to do. A version written meanwhile (typically the
    channel's own update for the shipment just confirmed) is read again and planned against,
    here, a few times: cheaper than failing the task to Step Functions' retry, which bills a
    transition and runs the confirmation again."""
    record = stores.shipments.get(order_key)
    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        order, reserved = _order(stores, order_key)
        if order.status is OrderStatus.SHIPPED:
            return False
        if record is None or record.shipment is None:
            raise WorkflowRefused("no parcel: nothing left the shelf")
        s = record.shipment
        note = f"handed to {s.carrier_service or s.carrier}, tracking {s.tracking_number}"
        try:
            if order.ended:  # cancelled after hand-over: it stays ended, the goods left anyway
                if any(h[2].startswith(LEFT_AFTER_END) for h in order.history):
                    return False
                gone = aggregate_by_sku(
                    (ln.sku, ln.quantity) for ln in order.lines if ln.stock and ln.sku
                )
                ended = order.noted(now, f"{LEFT_AFTER_END}: {note}")
                stores.intake.commit_unreserved_shipment(ended, order, gone, now)
                return True
            stores.intake.commit_shipment(order.shipped(now, note), order, reserved, now)
        except VersionMoved as exc:
            if attempt == COMMIT_ATTEMPTS:
                raise RetryableError(f"{order_key} changed meanwhile", channel="keel") from exc
            continue
        return True
    raise AssertionError("unreachable")  # pragma: no cover


def compensate(stores: Stores, order_key: str, carrier: Carrier) -> str:
    """Undo what the workflow did, in reverse: the parcel, if the carrier does not have it yet.
    The reservation was already released by the cancellation itself (one transaction with
    the order's new state)."""
    record = stores.shipments.get(order_key)
    if record is None or record.shipment is None:
        return "nothing announced"
    if record.shipment.state is ShipmentState.HANDED_OVER:
        return "handed over: recorded, not compensated"
    if record.shipment.state is ShipmentState.ANNOUNCED:
        with contextlib.suppress(NothingToDo):
            carrier.cancel(record.shipment)
        stores.shipments.move(order_key, ShipmentState.CANCELLED)
    return "parcel cancelled"


def record_failure(stores: Stores, order_key: str, error: dict[str, Any], now: datetime) -> None:
    """The reason goes on the order's history, where a person looks first."""
    cause = str(error.get("Cause", ""))
    with contextlib.suppress(ValueError, AttributeError):
        cause = str(json.loads(cause).get("errorMessage", cause))
    reason = f"shipping failed: {error.get('Error', 'error')}: {cause}"[:500]
    found = stores.orders.get_with_reservations(order_key)
    if found is None:
        return
    order, reserved = found
    try:
        stores.intake.keep_version(order.noted(now, reason), order, reserved)
    except VersionMoved as exc:
        raise RetryableError(f"{order_key} changed meanwhile", channel="keel") from exc


def step(name: str, stores: Stores, order_key: str, run: Callable[[], T]) -> T:
    """Run one step; whatever it raises is remembered as where the order's workflow stopped
    (a redrive resumes there) before it reaches the state machine."""
    try:
        return run()
    except Exception as exc:
        if stores.shipments.get(order_key) is not None or name != "Validate":
            stores.shipments.failed(order_key, name, f"{type(exc).__name__}: {exc}")
        raise
