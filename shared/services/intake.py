"""Take a new channel order into Keel: match its lines, reserve its stock, or hold it."""

from __future__ import annotations

from datetime import datetime

from shared.domain.intake import HOLD_INSUFFICIENT, Hold, SkuLookup, plan_intake
from shared.domain.orders import Order
from shared.stores.catalog import CatalogStore
from shared.stores.intake import OrderIntakeStore, Outcome, ReservationRefused


def sku_lookup(catalog: CatalogStore, channel: str) -> SkuLookup:
    """Match by the channel's variant id first, then by the SKU the channel reports."""

    def find(variant_id: str | None, channel_sku: str | None) -> str | None:
        if variant_id:
            sku = catalog.find_sku(channel, "variant_id", variant_id)
            if sku:
                return sku
        if channel_sku:
            return catalog.find_sku(channel, "sku", channel_sku)
        return None

    return find


def take_order(
    order: Order, find_sku: SkuLookup, intake: OrderIntakeStore, now: datetime
) -> tuple[Outcome, Order]:
    plan = plan_intake(order, find_sku)
    if isinstance(plan, Hold):
        held = plan.order.held(plan.reason, now)
        return intake.hold(held), held
    reserved = plan.order.reserved(now)
    try:
        return intake.reserve(reserved, plan.quantities, now), reserved
    except ReservationRefused as refused:
        held = plan.order.held(f"{HOLD_INSUFFICIENT}: {', '.join(refused.skus)}", now)
        return intake.hold(held), held
