"""The order workflow's steps: each one small, idempotent on the order key, and safe to run
again after a lost answer or a redrive. The state machine (shared/workflow/order.asl.json)
orders them; Step Functions retries what raises RetryableError and catches the rest.

Errors are named for the state machine: `OrderCancelled` (the channel ended the order:
compensate), `OrderEdited` (its lines changed after the parcel was labelled: re-plan),
`WorkflowRefused` (the order cannot be shipped as it is: a person fixes it, then redrives), the
channels' and the carrier's classified errors (retryable or not).

One rule where a cancellation races the hand-over: goods that left the shelf are shipped. An
order the channel ends after the carrier took its parcel is committed as shipped (what the label
carried leaves the shelf) and the cancellation is recorded against it; the channel is told it
shipped, as every channel is. The commit never depends on the channel's confirmation: stock
leaves when the goods do, and the confirmation has a retry budget of hours of its own."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from shared.channels.errors import NothingToDo, RetryableError
from shared.channels.port import ShipmentConfirmation
from shared.domain.inventory import aggregate_by_sku
from shared.domain.orders import Order, OrderStatus
from shared.domain.shipments import Shipment, ShipmentState
from shared.stores.intake import VersionMoved
from shared.stores.ports import Intake, Orders
from shared.stores.shipments import ShipmentStore

T = TypeVar("T")


class OrderCancelled(Exception):
    """The channel cancelled or refunded the order before it left: compensate."""


class WorkflowRefused(Exception):
    """The order cannot go on as it is (no address, a line without a SKU, held again)."""


class OrderEdited(Exception):
    """The order's lines changed (or it was held) after its parcel was labelled: re-plan."""


ORDER_EDITED = "OrderEdited"  # the error the waiting task is failed with (the ASL catches it)


class Carrier(Protocol):
    name: str

    def announce(self, order: Order, reference: str | None = None) -> Shipment:
        """The order's parcel under `reference` (None: the order key); the one announced before
        under it when a retry finds it, never a second."""
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
    orders: Orders
    intake: Intake
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


def contents(order: Order) -> dict[str, int]:
    """What the order's parcel carries: its stock lines, SKU -> units."""
    return aggregate_by_sku((ln.sku, ln.quantity) for ln in order.lines if ln.stock and ln.sku)


def ship(stores: Stores, order_key: str, carrier: Carrier, now: datetime) -> Shipment:
    record = stores.shipments.get(order_key)
    if record is not None and record.shipment is not None:
        return record.shipment  # announced before (a retry, a redrive)
    order, _ = _order(stores, order_key)
    _live(order)
    reference = record.reference if record is not None else order_key
    shipment = carrier.announce(order, reference)
    stores.shipments.announced(order_key, shipment, now, contents(order))
    return shipment


def edited_since_label(order: Order, reserved: dict[str, int], labelled: dict[str, int]) -> str:
    """Why the order no longer matches its parcel's label ("" when it does)."""
    if order.status is OrderStatus.HELD:
        return f"held since its parcel was labelled ({order.hold_reason or 'no reason'})"
    if contents(order) != labelled or reserved != labelled:
        return f"labelled {labelled}, the order now has {contents(order)}, reserved {reserved}"
    return ""


def await_carrier(
    stores: Stores, order_key: str, task_token: str, sfn: Any
) -> ShipmentState | None:
    """Leave the token with the parcel; the carrier's webhook resumes the execution. When the
    carrier was faster than this step, the order was cancelled, or it was edited since its
    label (the starter could not answer before the token was kept), answer now."""
    state = stores.shipments.wait_for_carrier(order_key, task_token)
    if state is ShipmentState.ANNOUNCED:
        order, reserved = _order(stores, order_key)
        record = stores.shipments.get(order_key)
        labelled = record.contents if record is not None else None
        if order.ended:
            fail_waiting(sfn, task_token, f"{order_key} is {order.status.value}")
        elif labelled is not None and (why := edited_since_label(order, reserved, labelled)):
            fail_waiting(sfn, task_token, why, ORDER_EDITED)
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


def fail_waiting(sfn: Any, task_token: str, cause: str, error: str = "OrderCancelled") -> bool:
    """The order ended (or was edited) while the execution waits for the carrier: it goes to
    compensation (or re-planning). False when nothing waited on the token any more."""
    try:
        sfn.send_task_failure(taskToken=task_token, error=error, cause=cause[:200])
    except (sfn.exceptions.TaskTimedOut, sfn.exceptions.InvalidToken):
        return False
    return True


def carrier_took(
    stores: Stores, carrier: str, parcel_id: str, sfn: Any, now: datetime
) -> str | None:
    """The carrier has the parcel: resume the execution once (a repeated event finds the
    parcel already handed over and does nothing). Returns the order key when it moved. When
    no execution waits on the token any more (a cancellation stopped the wait just before the
    carrier scanned the parcel), the goods left all the same: they are committed here."""
    order_key = stores.shipments.order_of_parcel(carrier, parcel_id)
    if order_key is None:
        return None
    record = stores.shipments.get(order_key)
    if record is None or record.shipment is None or record.shipment.parcel_id != parcel_id:
        return None  # a parcel cancelled to re-plan the order: not the one that ships
    moved = stores.shipments.move(order_key, ShipmentState.HANDED_OVER)
    if moved is None:
        return None
    if moved.task_token is not None and not _answer(sfn, moved.task_token):
        commit(stores, order_key, now)
    return order_key


def _answer(sfn: Any, token: str) -> bool:
    # An execution that stopped waiting (timed out, cancelled) has nothing to resume.
    try:
        sfn.send_task_success(taskToken=token, output=json.dumps({"handed_over": True}))
    except (sfn.exceptions.TaskTimedOut, sfn.exceptions.InvalidToken):
        return False
    return True


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


def shipment_confirmation(order: Order, shipment: Shipment) -> ShipmentConfirmation:
    """What the channel is told: the carrier service, tracking, and every stock line shipped."""
    return ShipmentConfirmation(
        carrier=shipment.carrier_service or shipment.carrier,
        tracking_number=shipment.tracking_number,
        tracking_url=shipment.tracking_url,
        lines=tuple((ln.line_id, ln.quantity) for ln in order.lines if ln.stock),
    )


def confirm(stores: Stores, order_key: str, tell: ConfirmsOnChannel, now: datetime) -> bool:
    """Tell the channel the order shipped, once it did (after the commit). False when it was
    told before. An order the channel cancelled after hand-over is told too: it shipped."""
    order, _ = _order(stores, order_key)
    record = stores.shipments.get(order_key)
    if record is None or record.shipment is None:
        raise WorkflowRefused("no parcel to confirm")
    if record.confirmed_at is not None:
        return False
    if order.status is not OrderStatus.SHIPPED:
        raise WorkflowRefused(f"order is {order.status.value}, not shipped: nothing to confirm")
    with contextlib.suppress(NothingToDo):  # the channel shows it already (a lost answer)
        tell(order, record.shipment)
    stores.shipments.confirmed(order_key, now)
    return True


COMMIT_ATTEMPTS = 3
LEFT_AFTER_END = "left the shelf after the order ended"


def commit(stores: Stores, order_key: str, now: datetime) -> bool:
    """Take the shipped goods off the shelf and mark the order shipped, in one transaction:
    exactly what the parcel's label carried, or a refusal with the reason (an order held or
    edited since its label is not shipped as it is now). False when there was nothing left to
    do. A version written meanwhile (the channel's own update) is read again and planned
    against, here, a few times: cheaper than failing the task to Step Functions' retry."""
    record = stores.shipments.get(order_key)
    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        order, reserved = _order(stores, order_key)
        if order.status is OrderStatus.SHIPPED:
            return False
        if record is None or record.shipment is None:
            raise WorkflowRefused("no parcel: nothing left the shelf")
        if record.shipment.state is not ShipmentState.HANDED_OVER:
            raise WorkflowRefused(f"the parcel is {record.shipment.state.value}, not handed over")
        labelled = record.contents if record.contents is not None else contents(order)
        s = record.shipment
        note = f"handed to {s.carrier_service or s.carrier}, tracking {s.tracking_number}"
        try:
            if order.ended:  # ended after hand-over: the goods left, so it shipped
                shipped = order.shipped(
                    now, f"{note}; {LEFT_AFTER_END} ({order.status.value} by the channel)"
                )
                stores.intake.commit_unreserved_shipment(shipped, order, labelled, now)
                return True
            if why := edited_since_label(order, reserved, labelled):
                raise WorkflowRefused(f"not shipped as it is now: {why}; nothing committed")
            stores.intake.commit_shipment(order.shipped(now, note), order, reserved, now)
        except VersionMoved as exc:
            if attempt == COMMIT_ATTEMPTS:
                raise RetryableError(f"{order_key} changed meanwhile", channel="keel") from exc
            continue
        return True
    raise AssertionError("unreachable")  # pragma: no cover


def compensate(stores: Stores, order_key: str, carrier: Carrier, now: datetime) -> str:
    """Undo what the workflow did, in reverse: the parcel, if the carrier does not have it yet.
    The reservation was already released by the cancellation itself (one transaction with
    the order's new state)."""
    record = stores.shipments.get(order_key)
    if record is None or record.shipment is None:
        return "nothing announced"
    if record.shipment.state is ShipmentState.HANDED_OVER:
        # The carrier took it before the cancellation could stop it: the goods left.
        commit(stores, order_key, now)
        return "handed over: shipped, the cancellation recorded against it"
    if record.shipment.state is ShipmentState.ANNOUNCED:
        with contextlib.suppress(NothingToDo):
            carrier.cancel(record.shipment)
        stores.shipments.move(order_key, ShipmentState.CANCELLED)
    return "parcel cancelled"


def replan(stores: Stores, order_key: str, carrier: Carrier) -> bool:
    """The order was edited (or held) after its parcel was labelled: cancel that parcel and
    forget it, so Ship announces the order as it is now. False when the carrier took the parcel
    first: the commit then ships what it carried, or refuses with the reason."""
    record = stores.shipments.get(order_key)
    if record is None or record.shipment is None:
        return True  # forgotten already (a retry): Ship announces anew
    if record.shipment.state is ShipmentState.HANDED_OVER:
        return False
    if record.shipment.state is ShipmentState.ANNOUNCED:
        with contextlib.suppress(NothingToDo):
            carrier.cancel(record.shipment)
    stores.shipments.replanned(order_key, record.shipment.parcel_id)
    return True


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
