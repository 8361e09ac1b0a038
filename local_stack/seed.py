"""The demo catalog: three SKUs listed on every channel in the registry, with stock received.

Each sandbox creates the item in its channel (showing a stale quantity, as a shop would before
Keel manages it) and says which ids Keel's listing holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from local_stack.sandboxes.base import ChannelSandbox
from shared.channels.registry import CHANNELS
from shared.channels.spec import Channel
from shared.domain.inventory import Movement, MovementCause
from shared.domain.listings import Listing, ListingRules
from shared.stores.catalog import CatalogStore
from shared.stores.inventory import InventoryStore


@dataclass(frozen=True)
class DemoSku:
    sku: str
    title: str
    price: Decimal
    on_hand: int
    safety_stock: int
    variant: bool  # a variation of a product with options (Woo: variable product)
    rules: dict[str, ListingRules] = field(default_factory=dict)  # per channel; default: all
    stale: dict[str, int] = field(default_factory=dict)  # what a channel shows before Keel

    def rules_on(self, channel: str) -> ListingRules:
        return self.rules.get(channel, ListingRules())


DEMO_SKUS = (
    DemoSku(
        "KEEL-MUG-BLUE",
        "Blue mug",
        Decimal("12.50"),
        on_hand=20,
        safety_stock=2,
        variant=False,
        rules={"woocommerce": ListingRules(share=Decimal("0.8"), buffer=1, cap=50)},
        stale={"woocommerce": 99, "shopify": 40},
    ),
    DemoSku(
        "KEEL-TEE-M",
        "Keel T-shirt, size M",
        Decimal("24.95"),
        on_hand=6,
        safety_stock=0,
        variant=True,
        stale={"woocommerce": 0, "shopify": 6},
    ),
    DemoSku(
        "KEEL-LAMP",
        "Anchor desk lamp",
        Decimal("89.00"),
        on_hand=1,
        safety_stock=0,
        variant=False,
        stale={"woocommerce": 3, "shopify": 1},
    ),
)


def seed_demo(
    catalog: CatalogStore,
    inventory: InventoryStore,
    sandboxes: Mapping[str, ChannelSandbox],
    channels: tuple[Channel, ...] = CHANNELS,
) -> dict[str, dict[str, dict[str, str]]]:
    """Returns SKU -> channel -> the listing's refs."""
    now = datetime.now(UTC)
    refs: dict[str, dict[str, dict[str, str]]] = {}
    for item in DEMO_SKUS:
        catalog.put_product(item.sku, item.title)
        refs[item.sku] = {}
        for channel in channels:
            ids = sandboxes[channel.name].add_listing(
                item.sku, item.title, item.price, item.stale.get(channel.name), item.variant
            )
            catalog.put_listing(
                Listing(item.sku, channel.name, ids, item.rules_on(channel.name)),
                lookup_refs=channel.lookup_refs,
            )
            refs[item.sku][channel.name] = ids
        inventory.receive(
            Movement(item.sku, MovementCause.RECEIPT, item.on_hand, "seed:demo", "keel-seed", now),
            safety_stock=item.safety_stock,
        )
    return refs
