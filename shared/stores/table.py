"""One DynamoDB table through the low-level client: the reads every store would repeat."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from shared.stores.items import av, from_item

BATCH_GET_KEYS = 100  # BatchGetItem's limit per request


class Table:
    """Reads are strongly consistent: stores read stock and orders right after writing them."""

    def __init__(self, name: str, client: Any) -> None:
        self.name = name
        self.client = client

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.name, Key={"pk": av(pk), "sk": av(sk)}, ConsistentRead=True
        )
        item = response.get("Item")
        return from_item(item) if item else None

    def get_many(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """Items by (pk, sk); absent ones are left out. One BatchGetItem per 100 keys instead
        of a GetItem each: a sync batch reads several items per SKU. Keys DynamoDB leaves
        unprocessed (it was throttled) are asked for again, after a short backoff."""
        wanted = list(dict.fromkeys(keys))
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for start in range(0, len(wanted), BATCH_GET_KEYS):
            chunk = wanted[start : start + BATCH_GET_KEYS]
            request: dict[str, Any] = {
                self.name: {
                    "Keys": [{"pk": av(pk), "sk": av(sk)} for pk, sk in chunk],
                    "ConsistentRead": True,
                }
            }
            for attempt in range(10):
                response = self.client.batch_get_item(RequestItems=request)
                for raw in response.get("Responses", {}).get(self.name, []):
                    item = from_item(raw)
                    found[(str(item["pk"]), str(item["sk"]))] = item
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(0.05 * 2**attempt, 2.0))
            else:
                raise RuntimeError(f"{self.name}: keys still unprocessed after 10 attempts")
        return found

    def query_prefix(self, pk: str, sk_prefix: str) -> Iterator[dict[str, Any]]:
        for page in self.client.get_paginator("query").paginate(
            TableName=self.name,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": av(pk), ":prefix": av(sk_prefix)},
            ConsistentRead=True,
        ):
            yield from (from_item(i) for i in page.get("Items", []))

    def query_partition(self, pk: str) -> Iterator[dict[str, Any]]:
        """Every item under one partition key (a small one: a list kept under a fixed key)."""
        for page in self.client.get_paginator("query").paginate(
            TableName=self.name,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": av(pk)},
            ConsistentRead=True,
        ):
            yield from (from_item(i) for i in page.get("Items", []))

    def scan_sk(self, sk: str) -> Iterator[dict[str, Any]]:
        """Every item of one kind; for operators' listings, not for request paths."""
        for page in self.client.get_paginator("scan").paginate(
            TableName=self.name,
            FilterExpression="sk = :sk",
            ExpressionAttributeValues={":sk": av(sk)},
            ConsistentRead=True,
        ):
            yield from (from_item(i) for i in page.get("Items", []))

    def scan_prefix(self, sk_prefix: str) -> Iterator[dict[str, Any]]:
        """Every item whose sort key starts so; for schedules and operators."""
        for page in self.client.get_paginator("scan").paginate(
            TableName=self.name,
            FilterExpression="begins_with(sk, :prefix)",
            ExpressionAttributeValues={":prefix": av(sk_prefix)},
            ConsistentRead=True,
        ):
            yield from (from_item(i) for i in page.get("Items", []))
