"""The embedded local stack, driven through its HTTP edges and channel sandboxes."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from local_stack.sandboxes.shopify import SandboxLine
from local_stack.stack import LocalConfig, LocalStack, stores
from shared.domain.inventory import Movement, MovementCause
from shared.domain.listings import Listing, ListingRules

_ids = itertools.count(1)


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(LocalConfig(prefix="e2e", visibility_timeout_s=1, log_level="CRITICAL")) as s:
        yield s


@dataclass(frozen=True)
class Product:
    sku: str
    variant_id: int
    woo_id: int
    rules: ListingRules

    def line(self, qty: int = 1) -> SandboxLine:
        return SandboxLine(self.variant_id, self.sku, self.sku, qty, Decimal("10.00"))


@pytest.fixture
def product(stack: LocalStack) -> Product:
    """A fresh SKU with 3 on hand, listed on Shopify and WooCommerce (shop shows stale 50)."""
    return make_product(stack, on_hand=3)


def make_product(stack: LocalStack, on_hand: int, rules: ListingRules | None = None) -> Product:
    n = next(_ids)
    item = Product(f"E2E-{n}", 55000 + n, 9000 + n, rules or ListingRules())
    catalog, inventory, _ = stores(stack)
    catalog.put_product(item.sku, item.sku)
    catalog.put_listing(
        Listing(item.sku, "shopify", {"variant_id": str(item.variant_id)}),
        lookup_refs=("variant_id",),
    )
    catalog.put_listing(
        Listing(item.sku, "woocommerce", {"product_id": str(item.woo_id)}, item.rules)
    )
    stack.woo.add_product(item.woo_id, item.sku, item.sku, stock=50)
    inventory.receive(
        Movement(item.sku, MovementCause.RECEIPT, on_hand, "po", "e2e", datetime.now(UTC)),
        safety_stock=0,
    )
    assert stack.wait_idle(30)
    return item
