"""A merchant who arrives with a catalog and channels already selling (`keel local up --seed
merchant`): Keel starts empty, the sandboxes hold the merchant's own listings, and nothing is
delivered to Keel until `keel channels connect`.

The listings are what onboarding meets in real shops: most SKUs listed under Keel's SKU, some
only recognisable by GTIN (a WooCommerce variation under an old SKU, a bol.com offer without a
reference), a SKU listed twice on Shopify (a conflict), a listing Keel does not know, and a SKU
on no channel. Each listing shows a stale quantity until Keel publishes its own.

The catalog file to import sits beside this module (`merchant_catalog.csv`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path

from local_stack.seed import DEMO_SKUS, ListingTarget

CATALOG_FILE = Path(__file__).with_name("merchant_catalog.csv")

GTINS = {
    "KEEL-MUG-BLUE": "8712345000011",
    "KEEL-TEE-M": "8712345000028",
    "KEEL-LAMP": "8712345000035",
    "KEEL-POSTER": "8712345000042",
}
# (channel, SKU) -> the SKU the merchant's listing there carries ("": none), when not Keel's own.
SKU_ON_CHANNEL = {
    ("woocommerce", "KEEL-TEE-M"): "tee-m-2019",  # an old SKU: found by its GTIN
    ("bol", "KEEL-LAMP"): "",  # an offer without a reference: found by its EAN
}
# Listings Keel cannot or must not link by itself.
POSTER = ("KEEL-POSTER", "Keel poster", Decimal("9.95"))  # twice in the first Shopify shop
KEYCHAIN = ("OLD-KEYCHAIN", "Anchor keychain", Decimal("4.50"))  # on WooCommerce, not in Keel


def seed_merchant(targets: Mapping[str, Sequence[ListingTarget]]) -> Path:
    """Fill every account's sandbox with the merchant's listings and stop every sandbox from
    delivering until Keel registers its subscriptions. Returns the catalog file to import."""
    for where in targets.values():
        for target in where:
            target.sandbox.subscriptions.preregistered = False
    for channel, where in targets.items():
        for target in where:
            for marketplace in target.marketplaces or ("",):
                for item in DEMO_SKUS:
                    target.sandbox.add_listing(
                        SKU_ON_CHANNEL.get((channel, item.sku), item.sku),
                        item.title,
                        item.price,
                        item.stale.get(channel),
                        item.variant,
                        marketplace=marketplace,
                        gtin=GTINS[item.sku],
                    )
    first_shop = targets["shopify"][0].sandbox
    for _ in range(2):
        first_shop.add_listing(POSTER[0], POSTER[1], POSTER[2], 5, gtin=GTINS[POSTER[0]])
    targets["woocommerce"][0].sandbox.add_listing(KEYCHAIN[0], KEYCHAIN[1], KEYCHAIN[2], 12)
    return CATALOG_FILE
