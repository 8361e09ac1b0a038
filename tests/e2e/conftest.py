"""The embedded local stack, driven through its HTTP edges and channel sandboxes."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import cast

import httpx
import pytest

from local_stack.sandboxes.shopify import SandboxLine, ShopifySandbox
from local_stack.sandboxes.woocommerce import WooCommerceSandbox
from local_stack.stack import LocalConfig, LocalStack, stores
from shared.channels.registry import CHANNELS
from shared.domain.inventory import Movement, MovementCause
from shared.domain.listings import Listing, ListingRules

_ids = itertools.count(1)


_stacks = itertools.count(1)


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    """One stack per module. moto's backends are process-wide, so each gets its own prefix."""
    prefix = f"e2e{next(_stacks)}"
    config = LocalConfig(
        prefix=prefix, visibility_timeout_s=1, log_level="CRITICAL", timed_schedules=False
    )
    with LocalStack(config) as s:
        yield s


def shopify(stack: LocalStack) -> ShopifySandbox:
    return cast(ShopifySandbox, stack.sandboxes["shopify"])


def woo(stack: LocalStack) -> WooCommerceSandbox:
    return cast(WooCommerceSandbox, stack.sandboxes["woocommerce"])


@dataclass(frozen=True)
class Product:
    sku: str
    refs: dict[str, dict[str, str]]  # channel -> the listing's refs
    rules: ListingRules

    @property
    def variant_id(self) -> int:
        return int(self.refs["shopify"]["variant_id"])

    @property
    def woo_id(self) -> int:
        return int(self.refs["woocommerce"]["item_id"])

    def line(self, qty: int = 1) -> SandboxLine:
        return SandboxLine(self.variant_id, self.sku, self.sku, qty, Decimal("10.00"))


@pytest.fixture
def product(stack: LocalStack) -> Product:
    """A fresh SKU with 3 on hand, listed on every channel (each shows a stale 50)."""
    return make_product(stack, on_hand=3)


def make_product(stack: LocalStack, on_hand: int, rules: ListingRules | None = None) -> Product:
    """Listed on every channel in the registry; `rules` apply to WooCommerce."""
    n = next(_ids)
    sku = f"E2E-{n}"
    catalog, inventory, _ = stores(stack)
    catalog.put_product(sku, sku)
    refs: dict[str, dict[str, str]] = {}
    for channel in CHANNELS:
        ids = stack.sandboxes[channel.name].add_listing(sku, sku, Decimal("10.00"), 50)
        channel_rules = (rules or ListingRules()) if channel.name == "woocommerce" else None
        catalog.put_listing(
            Listing(sku, channel.name, ids, channel_rules or ListingRules()),
            lookup_refs=channel.lookup_refs,
        )
        refs[channel.name] = ids
    inventory.receive(
        Movement(sku, MovementCause.RECEIPT, on_hand, "po", "e2e", datetime.now(UTC)),
        safety_stock=0,
    )
    assert stack.wait_idle(30)
    return Product(sku, refs, rules or ListingRules())


def shows(stack: LocalStack, channel: str, listing_id: str | int) -> int | None:
    """What a channel shows for a listing, through its sandbox's control surface."""
    rows = httpx.get(f"{stack.sandbox_url(channel)}/__sandbox/listings", timeout=10).json()
    return next((r["quantity"] for r in rows if r["listing_id"] == str(listing_id)), None)
