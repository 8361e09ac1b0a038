"""Take a new channel order into Keel: match its lines, check it, reserve its stock, or hold it."""

from __future__ import annotations

from datetime import datetime

from shared.channels.spec import Channel
from shared.domain.intake import HOLD_INSUFFICIENT, Hold, SkuLookup, plan_intake
from shared.domain.order_checks import implausibility
from shared.domain.orders import Order
from shared.stores.catalog import CatalogStore
from shared.stores.intake import OrderIntakeStore, Outcome, ReservationRefused


def sku_lookup(catalog: CatalogStore, channel: Channel) -> SkuLookup:
    """Match by the channel's item id first (the registry names the listing ref), then by the
    SKU the channel reports."""

    def find(item_id: str | None, channel_sku: str | None) -> str | None:
        if item_id and channel.line_item_ref:
            sku = catalog.find_sku(channel.name, channel.line_item_ref, item_id)
            if sku:
                return sku
        if channel_sku:
            return catalog.find_sku(channel.name, "sku", channel_sku)
        return None

    return find


def take_order(
    order: Order,
    find_sku: SkuLookup,
    intake: OrderIntakeStore,
    now: datetime,
    shop_currency: str | None = None,
) -> tuple[Outcome, Order]:
    """`shop_currency` None skips the plausibility checks (no configured currency to hold
    the order against)."""
    reason = implausibility(order, shop_currency) if shop_currency else None
    if reason is not None:
        held = order.held(reason, now)
        return intake.hold(held), held
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
