"""What the orders table's changes mean for the order workflow: an order accepted (reserved,
from intake, a poll or a released hold) and released by its channel for shipment starts its one
execution; an order that ends while its execution waits for the carrier stops that wait
(compensation follows); one whose reservation changes or that is held while accepted (an edit)
stops it too, so a parcel labelled for the old lines is re-planned."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.domain.orders import OrderStatus
from shared.stores.orders import ORDER_SK, order_pk

ACCEPTED = frozenset({OrderStatus.RESERVED.value, OrderStatus.PARTIALLY_REFUNDED.value})
ENDED = frozenset({OrderStatus.CANCELLED.value, OrderStatus.REFUNDED.value})


@dataclass(frozen=True)
class Start:
    order_key: str


@dataclass(frozen=True)
class Stop:
    order_key: str
    status: str


@dataclass(frozen=True)
class Edited:
    """An accepted order's lines changed, or it was held: a parcel labelled before is wrong."""

    order_key: str
    why: str


def what_follows(
    old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> Start | Stop | Edited | None:
    """From deserialized stream images of an order item."""
    if not new or new.get("sk") != ORDER_SK:
        return None
    key = str(new["pk"]).removeprefix(order_pk(""))
    before = str(old["status"]) if old else None
    after = str(new["status"])
    was_startable = before in ACCEPTED and _ready(old)
    shipped = before == OrderStatus.SHIPPED.value
    if after in ACCEPTED and _ready(new) and not was_startable and not shipped:
        return Start(key)
    if after in ENDED and before in ACCEPTED:
        return Stop(key, after)
    if before in ACCEPTED and old is not None:
        if after == OrderStatus.HELD.value:
            return Edited(key, "held after it was accepted")
        if after in ACCEPTED and _reserved(old) != _reserved(new):
            return Edited(key, f"reserved {_reserved(old)} -> {_reserved(new)}")
    return None


def _reserved(image: Mapping[str, Any]) -> dict[str, int]:
    return {str(k): int(v) for k, v in (image.get("reserved") or {}).items()}


def _ready(image: Mapping[str, Any] | None) -> bool:
    """Items written before readiness was kept have none: ready, as they always were."""
    return bool(image) and (image or {}).get("ready_to_ship", True) is not False
