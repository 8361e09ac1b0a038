"""An order held for stock follows its channel's oversell policy. "hold" (the default) leaves it
to a person or to stock arriving; "cancel-short-lines" has the channel cut the lines Keel cannot
supply and tell the buyer. The channel's edited order then comes back through the one upsert
(webhook or poll) and what stayed is reserved: Keel never edits an order behind the channel."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.channels.errors import NothingToDo
from shared.channels.port import CancelsLines
from shared.domain.orders import OrderStatus
from shared.domain.oversell import OversellPolicy, held_for_stock, short_lines
from shared.stores.inventory import InventoryStore
from shared.stores.orders import ORDER_SK, OrderStore, order_pk

# Channels stamp an order's versions to the second (WooCommerce's date_modified, Shopify's
# updated_at): an edit made in the same second as the version it edits would carry the same
# stamp and read as a replay. The cut is asked for only once this much has passed since.
SETTLE_S = 2.0


@dataclass(frozen=True)
class PolicyTrigger:
    order_key: str
    channel: str


def policy_trigger(
    old: Mapping[str, object] | None, new: Mapping[str, object] | None
) -> PolicyTrigger | None:
    """From deserialized stream images of an order item: a version stored held (newly, or a
    newer channel version still held) may need the policy; the service reads it again."""
    if not new or new.get("sk") != ORDER_SK or new.get("status") != OrderStatus.HELD.value:
        return None
    if (
        old
        and old.get("status") == new.get("status")
        and old.get("channel_updated_at") == new.get("channel_updated_at")
    ):
        return None  # the same version (a retry's write, a revision bump)
    key = str(new["pk"]).removeprefix(order_pk(""))
    return PolicyTrigger(key, str(new.get("channel", "")))


def follow_policy(
    order_key: str,
    policy: OversellPolicy,
    orders: OrderStore,
    inventory: InventoryStore,
    canceller: Callable[[str], CancelsLines | None],
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """What was done, in words for the log. Raises the channel's classified errors (the stream
    retries the record, then sends it to the function's failure queue). `canceller`: the
    channel's line canceller for the order's account (`Order.listing_account`), if it has one."""
    if policy is OversellPolicy.HOLD:
        return "held for a person (policy)"
    order = orders.get(order_key)
    if order is None or not held_for_stock(order):
        return "no longer held for stock"
    skus = sorted({ln.sku for ln in order.lines if ln.sku})
    levels = {sku: inventory.get(sku) for sku in skus}
    available = {sku: (lv.available if lv else 0) for sku, lv in levels.items()}
    cut = short_lines(order, available)
    if cut is None:
        return "nothing to cut, or nothing could stay: held for a person"
    adapter = canceller(order.listing_account)
    if adapter is None:
        return "channel cannot cut lines: held for a person"
    since = (now() - order.channel_updated_at).total_seconds()
    if since < SETTLE_S:
        sleep(SETTLE_S - max(0.0, since))
    try:
        adapter.cancel_lines(order, cut.cuts, cut.note)
    except NothingToDo as exc:
        return f"already cut: {exc}"
    return "cut " + ", ".join(f"{c.line_id} to {c.keep}" for c in cut.cuts)
