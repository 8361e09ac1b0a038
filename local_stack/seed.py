"""The demo catalog: three SKUs listed on Shopify and WooCommerce, with stock received."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from local_stack.sandboxes.woocommerce import WooCommerceSandbox
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
    shopify_variant_id: int
    woo_product_id: int
    woo_variation_id: int | None
    woo_rules: ListingRules
    woo_stale_stock: int  # what the shop shows before Keel syncs it


DEMO_SKUS = (
    DemoSku(
        "KEEL-MUG-BLUE",
        "Blue mug",
        Decimal("12.50"),
        20,
        2,
        44000000001,
        501,
        None,
        ListingRules(share=Decimal("0.8"), buffer=1, cap=50),
        99,
    ),
    DemoSku(
        "KEEL-TEE-M",
        "Keel T-shirt, size M",
        Decimal("24.95"),
        6,
        0,
        44000000002,
        610,
        611,
        ListingRules(),
        0,
    ),
    DemoSku(
        "KEEL-LAMP",
        "Anchor desk lamp",
        Decimal("89.00"),
        1,
        0,
        44000000003,
        502,
        None,
        ListingRules(),
        3,
    ),
)


def woo_refs(item: DemoSku) -> dict[str, str]:
    refs = {"product_id": str(item.woo_product_id)}
    if item.woo_variation_id:
        refs["variation_id"] = str(item.woo_variation_id)
    return refs


def seed_demo(catalog: CatalogStore, inventory: InventoryStore, woo: WooCommerceSandbox) -> None:
    now = datetime.now(UTC)
    for item in DEMO_SKUS:
        catalog.put_product(item.sku, item.title)
        catalog.put_listing(
            Listing(
                item.sku,
                "shopify",
                {"variant_id": str(item.shopify_variant_id), "sku": item.sku},
            ),
            lookup_refs=("variant_id", "sku"),
        )
        catalog.put_listing(Listing(item.sku, "woocommerce", woo_refs(item), item.woo_rules))
        if item.woo_variation_id:
            woo.add_variation(
                item.woo_product_id,
                item.woo_variation_id,
                item.title,
                item.sku,
                item.woo_stale_stock,
            )
        else:
            woo.add_product(item.woo_product_id, item.title, item.sku, item.woo_stale_stock)
        inventory.receive(
            Movement(item.sku, MovementCause.RECEIPT, item.on_hand, "seed:demo", "keel-seed", now),
            safety_stock=item.safety_stock,
        )
