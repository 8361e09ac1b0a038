"""A sync batch reads DynamoDB a few times per batch, not a few times per SKU: each read is a
round trip that the batch's latency and the local stack's CPU pay for."""

from __future__ import annotations

import collections
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from local_stack.resources import Provisioned
from shared.domain.inventory import Movement, MovementCause
from shared.domain.listings import Listing
from shared.services.stock_sync import publish_stock
from shared.stores.catalog import CatalogStore
from shared.stores.inventory import InventoryStore
from shared.stores.table import Table
from tests.integration.conftest import WOO_BASE

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
SKUS = [f"SKU-{n:03}" for n in range(40)]


def _counting(db: Any) -> collections.Counter[str]:
    calls: collections.Counter[str] = collections.Counter()

    def count(event_name: str, **_: Any) -> None:
        calls[event_name.rsplit(".", 1)[-1]] += 1

    db.meta.events.register("before-call.dynamodb", count)
    return calls


@respx.mock
def test_a_forty_sku_batch_reads_in_a_handful_of_requests(
    deployed: Provisioned, catalog: CatalogStore, inventory: InventoryStore, db: Any
) -> None:
    respx.post(f"{WOO_BASE}/wp-json/wc/v3/products/batch").mock(
        side_effect=lambda r: httpx.Response(200, json={"update": json.loads(r.content)["update"]})
    )
    for n, sku in enumerate(SKUS[:-1]):  # the last one is not listed on WooCommerce
        catalog.put_listing(Listing(sku, "woocommerce", {"product_id": str(700 + n)}))
        inventory.receive(Movement(sku, MovementCause.RECEIPT, 5, f"po-{sku}", "t", NOW), 0)
    from shared.runtime import Runtime  # the functions' own wiring of the adapter

    adapter = Runtime().channel("woocommerce").stock_publisher()
    calls = _counting(db)
    outcomes = publish_stock(SKUS, adapter, catalog, inventory, lambda: NOW)
    reads = sum(n for op, n in calls.items() if op in {"GetItem", "BatchGetItem", "Query"})
    assert reads <= 3  # levels; listings with what the channel shows; levels again
    assert sorted(s for s, o in outcomes.items() if o.error is None) == SKUS[:-1]
    assert outcomes[SKUS[-1]].error is not None  # not listed here: nothing to do
    assert all(catalog.shown(sku, "woocommerce") == 5 for sku in SKUS[:-1])


class _Throttled:
    """A client whose first BatchGetItem leaves some keys unprocessed, as DynamoDB does when a
    partition is throttled."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.requests: list[int] = []

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        ((name, spec),) = RequestItems.items()
        self.requests.append(len(spec["Keys"]))
        if len(self.requests) == 1:
            kept, left = spec["Keys"][:3], spec["Keys"][3:]
            answer = self.real.batch_get_item(RequestItems={name: {**spec, "Keys": kept}})
            answer["UnprocessedKeys"] = {name: {**spec, "Keys": left}}
            return dict(answer)
        return dict(self.real.batch_get_item(RequestItems=RequestItems))


def test_get_many_reads_in_chunks_of_a_hundred_and_asks_again_for_unprocessed_keys(
    deployed: Provisioned, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = deployed.tables["catalog"]
    for n in range(0, 250, 2):  # every other key exists
        db.put_item(
            TableName=name, Item={"pk": {"S": f"K#{n}"}, "sk": {"S": "X"}, "n": {"N": str(n)}}
        )
    throttled = _Throttled(db)
    monkeypatch.setattr("shared.stores.table.time.sleep", lambda s: None)
    found = Table(name, throttled).get_many((f"K#{n}", "X") for n in range(250))
    assert sorted(int(item["n"]) for item in found.values()) == list(range(0, 250, 2))
    assert found[("K#4", "X")]["n"] == 4
    assert throttled.requests == [100, 97, 100, 50]
