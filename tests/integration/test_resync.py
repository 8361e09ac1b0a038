"""The resync (scheduled, or `keel resync [CHANNEL]`): a trigger for every listing of every
channel Keel publishes to, or of the one channel asked for."""

from __future__ import annotations

from typing import Any

from functions.resync.handler import handler as resync
from local_stack.resources import Provisioned
from shared.domain.listings import Listing
from shared.stores.catalog import CatalogStore
from tests.integration.conftest import context, drain


def test_every_listing_or_one_channels_is_triggered(
    deployed: Provisioned, catalog: CatalogStore, sqs: Any
) -> None:
    for sku in ("MUG", "TEE"):
        catalog.put_listing(Listing(sku, "woocommerce", {"product_id": sku}))
        catalog.put_listing(Listing(sku, "shopify", {"variant_id": sku}))
    assert resync({"channel": "woocommerce"}, context("resync")) == {"woocommerce": 2}
    assert len(drain(sqs, deployed.queue_urls["sync-woocommerce"])) == 2
    assert drain(sqs, deployed.queue_urls["sync-shopify"]) == []
    assert resync({"schedule": "resync"}, context("resync")) == {"shopify": 2, "woocommerce": 2}
