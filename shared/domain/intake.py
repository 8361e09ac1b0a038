"""What happens to a new order: which SKUs to reserve, or why it must be held."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from shared.domain.inventory import aggregate_by_sku
from shared.domain.orders import Order

MAX_SKUS_PER_RESERVATION = 33
"""One transaction holds at most 100 writes. Shipping an order commits its stock in one: the
order plus three per SKU (level, reservation, ledger entry)."""

HOLD_UNMATCHED = "unmatched line"
HOLD_INSUFFICIENT = "insufficient stock"
HOLD_TOO_MANY_SKUS = "too many SKUs for one reservation"


@dataclass(frozen=True)
class Reserve:
    order: Order  # lines carry Keel SKUs
    quantities: dict[str, int]  # SKU -> quantity, aggregated


@dataclass(frozen=True)
class Hold:
    order: Order
    reason: str


SkuLookup = Callable[[str | None, str | None], str | None]
"""(channel variant id, channel sku) -> Keel SKU, or None when no listing matches."""


def plan_intake(order: Order, find_sku: SkuLookup) -> Reserve | Hold:
    matched = []
    unmatched = []
    for line in order.lines:
        if not line.stock:  # a tip, a gift card, a custom item: kept, never reserved
            matched.append(line)
            continue
        sku = find_sku(line.channel_variant_id, line.channel_sku)
        if sku is None:
            unmatched.append(line)
        matched.append(replace(line, sku=sku))
    order = replace(order, lines=tuple(matched))
    if unmatched:
        names = ", ".join(
            f"line {ln.line_id} (variant {ln.channel_variant_id}, sku {ln.channel_sku})"
            for ln in unmatched
        )
        return Hold(order, f"{HOLD_UNMATCHED}: no listing for {names}")
    if not order.lines:
        return Hold(order, "order has no lines")
    quantities = aggregate_by_sku((ln.sku, ln.quantity) for ln in order.lines if ln.sku)
    if len(quantities) > MAX_SKUS_PER_RESERVATION:
        return Hold(
            order,
            f"{HOLD_TOO_MANY_SKUS}: {len(quantities)} > {MAX_SKUS_PER_RESERVATION}",
        )
    return Reserve(order, quantities)
