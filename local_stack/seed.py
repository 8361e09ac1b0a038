"""The demo catalog: three SKUs listed on every channel in the registry, with stock received.

Each sandbox creates the item in its channel (showing a stale quantity, as a shop would before
Keel manages it) and says which ids Keel's listing holds. Given the stack's listing targets, a
SKU is listed on every account of a channel and in every marketplace an account sells in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from local_stack.sandboxes.base import ChannelSandbox
from shared.channels.registry import CHANNELS
from shared.channels.spec import Channel
from shared.domain.inventory import Movement, MovementCause
from shared.domain.listings import Listing, ListingRules
from shared.stores.catalog import CatalogStore
from shared.stores.inventory import InventoryStore

# The demo merchant's further accounts (LocalConfig.more_accounts): a second Shopify shop.
# Amazon's seller sells in two marketplaces (its sandbox's secret names both).
DEMO_MORE_ACCOUNTS = {"shopify": 1}


@dataclass(frozen=True)
class ListingTarget:
    """One account of a channel a SKU can be listed on, and the marketplaces it sells in."""

    account: str  # the listing key's account: "" for the channel's first account
    sandbox: Any
    marketplaces: tuple[str, ...] = ()
    url: str = ""  # its sandbox's control surface


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
    targets: Mapping[str, Sequence[ListingTarget]] | None = None,
) -> dict[str, dict[str, dict[str, str]]]:
    """Returns SKU -> channel -> the refs of its first listing there (the first account's, in
    its first marketplace). `targets` (LocalStack.listing_targets): every account and
    marketplace to list on; None: each channel's one sandbox."""
    now = datetime.now(UTC)
    refs: dict[str, dict[str, dict[str, str]]] = {}
    for item in DEMO_SKUS:
        catalog.put_product(item.sku, item.title)
        refs[item.sku] = {}
        for channel in channels:
            where = (targets or {}).get(channel.name) or [
                ListingTarget("", sandboxes[channel.name])
            ]
            for target in where:
                for marketplace in target.marketplaces or ("",):
                    ids = target.sandbox.add_listing(
                        item.sku,
                        item.title,
                        item.price,
                        item.stale.get(channel.name),
                        item.variant,
                        marketplace=marketplace,
                    )
                    listing = Listing(
                        item.sku,
                        channel.name,
                        ids,
                        item.rules_on(channel.name),
                        account=target.account,
                        marketplace=marketplace,
                        countries=_countries(target.sandbox, ids),
                    )
                    catalog.put_listing(listing, lookup_refs=channel.lookup_refs)
                    refs[item.sku].setdefault(channel.name, ids)
        inventory.receive(
            Movement(item.sku, MovementCause.RECEIPT, item.on_hand, "seed:demo", "keel-seed", now),
            safety_stock=item.safety_stock,
        )
    return refs


def _countries(sandbox: ChannelSandbox, ids: Mapping[str, str]) -> tuple[str, ...]:
    """Where the channel shows the offer (bol: `store.visible[].countryCode`), as its sandbox
    listing row says; () where the channel has no such notion."""
    for row in sandbox.shown():
        if row.get("listing_id") == ids.get("listing_id") and row.get("countries"):
            return tuple(row["countries"])
    return ()
