"""One DynamoDB table through the low-level client: the reads every store would repeat."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from shared.stores.items import av, from_item


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

    def query_prefix(self, pk: str, sk_prefix: str) -> Iterator[dict[str, Any]]:
        for page in self.client.get_paginator("query").paginate(
            TableName=self.name,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": av(pk), ":prefix": av(sk_prefix)},
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
