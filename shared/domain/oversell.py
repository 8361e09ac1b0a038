"""What happens to an order that came in for more than Keel holds: the selling channel's
oversell policy. By default it waits for a person (or for stock); a channel may instead be told
to cut the lines Keel cannot supply, keeping what it can, and to tell the buyer why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from shared.domain.intake import HOLD_INSUFFICIENT
from shared.domain.orders import Order, OrderStatus


class OversellPolicy(StrEnum):
    HOLD = "hold"  # the order waits, held, for a person or for stock
    CANCEL_SHORT_LINES = "cancel-short-lines"  # the channel cuts what Keel cannot supply


@dataclass(frozen=True)
class LineCut:
    line_id: str  # the channel's line id
    keep: int  # the line's quantity after the cut (0: the line goes)
    removed: int
    title: str


@dataclass(frozen=True)
class ShortLines:
    """The cut to ask of the channel, and the words the buyer reads."""

    cuts: tuple[LineCut, ...]
    note: str


def held_for_stock(order: Order) -> bool:
    return order.status is OrderStatus.HELD and (order.hold_reason or "").startswith(
        HOLD_INSUFFICIENT
    )


def short_lines(order: Order, available: Mapping[str, int]) -> ShortLines | None:
    """The lines to cut so that what stays can be reserved now, stock shared in line order.
    None when nothing needs cutting (stock came in meanwhile: the release reserves it) or when
    nothing at all could stay — cancelling a whole order is a person's decision."""
    left = {sku: max(0, qty) for sku, qty in available.items()}
    cuts: list[LineCut] = []
    kept_any = False
    for line in order.lines:
        if not line.stock or line.sku is None:
            kept_any = kept_any or line.stock  # an unmatched line is not this policy's
            continue
        keep = min(line.quantity, left.get(line.sku, 0))
        left[line.sku] = left.get(line.sku, 0) - keep
        kept_any = kept_any or keep > 0
        if keep < line.quantity:
            cuts.append(LineCut(line.line_id, keep, line.quantity - keep, line.title))
    if not cuts or not kept_any:
        return None
    said = ", ".join(f"{c.removed} x {c.title or c.line_id}" for c in cuts)
    note = (
        f"Sorry: we could not supply {said}, so we removed it from your order "
        f"{order.name}. Everything else is on its way; any amount paid for what was "
        "removed will be refunded."
    )
    return ShortLines(tuple(cuts), note)
