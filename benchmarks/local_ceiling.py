"""Part 2: what one order's transaction (and one partition's Query) costs moto as its table
grows, with and without the local stack's mends (local_stack/moto_patches.py).

Method. In process (`mock_aws`, no server, no lock), one table shaped like the inventory
table (pk/sk, stream on) is filled with N items (levels, reservations and ledger entries of
N/3 SKUs), then TRIES transactions like an order's are timed: a conditional Update of one
level (`reservable >= q`), a Put of its reservation, a conditional Put of an order item in a
second table. Median milliseconds per transaction, run back to back with moto's own
TransactWriteItems (which deep-copies every table the transaction names, once per item) and
with the mend (which remembers only the items named). Wall time on a shared machine: compare
the two curves, not the absolute figures.
"""

from __future__ import annotations

import gc
import statistics
import time
from typing import Any

import boto3
from moto import mock_aws

from local_stack.moto_patches import install

TRIES = 15


def _table(db: Any, name: str) -> None:
    db.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )


def _fill(db: Any, items: int) -> None:
    rows = [{"pk": {"S": "SKU#0"}, "sk": {"S": "LEVEL"}, "reservable": {"N": "1000000"}}]
    for n in range(items):
        sku = f"SKU#{n // 3 + 1}"
        sk = ("LEVEL", f"RES#order-{n}", f"MOVE#receipt#po-{n}")[n % 3]
        rows.append(
            {
                "pk": {"S": sku},
                "sk": {"S": sk},
                "reservable": {"N": "1000000"},
                "note": {"S": "x" * 200},
            }
        )
    for start in range(0, len(rows), 25):
        chunk = rows[start : start + 25]
        db.batch_write_item(
            RequestItems={"inventory": [{"PutRequest": {"Item": r}} for r in chunk]}
        )


def _order(db: Any, n: int) -> float:
    started = time.perf_counter()
    db.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": "inventory",
                    "Key": {"pk": {"S": "SKU#0"}, "sk": {"S": "LEVEL"}},
                    "UpdateExpression": "SET reservable = reservable - :q",
                    "ConditionExpression": "reservable >= :q",
                    "ExpressionAttributeValues": {":q": {"N": "1"}},
                }
            },
            {
                "Put": {
                    "TableName": "inventory",
                    "Item": {"pk": {"S": "SKU#0"}, "sk": {"S": f"RES#new-{n}"}},
                }
            },
            {
                "Put": {
                    "TableName": "orders",
                    "Item": {"pk": {"S": f"ORDER#{n}"}, "sk": {"S": "ORDER"}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
    )
    return (time.perf_counter() - started) * 1000


def _query(db: Any) -> float:
    """The relay's listing lookup, shaped: one partition by key and sort-key prefix."""
    started = time.perf_counter()
    db.query(
        TableName="inventory",
        KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
        ExpressionAttributeValues={":pk": {"S": "SKU#1"}, ":p": {"S": "RES#"}},
        ConsistentRead=True,
    )
    return (time.perf_counter() - started) * 1000


def run(sizes: tuple[int, ...], tries: int = TRIES) -> list[dict[str, Any]]:
    """Per table size: an order's transaction and a one-partition Query, moto's own and mended."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    install()
    mended: tuple[Any, ...] = (DynamoDBBackend.transact_write_items, Table.query, Table.all_items)
    original = tuple(m.__wrapped__ for m in mended)  # functools.wraps kept moto's own
    out = []
    for size in sizes:
        row: dict[str, Any] = {"table_items": size}
        for label, (transact, query, all_items) in (("moto", original), ("mended", mended)):
            DynamoDBBackend.transact_write_items = transact  # type: ignore[method-assign]
            Table.query, Table.all_items = query, all_items  # type: ignore[method-assign]
            with mock_aws():
                db = boto3.client("dynamodb", region_name="eu-west-1")
                _table(db, "inventory")
                _table(db, "orders")
                _fill(db, size)
                gc.collect()
                row[f"{label}_ms"] = round(
                    statistics.median(_order(db, n) for n in range(tries)), 1
                )
                row[f"query_{label}_ms"] = round(
                    statistics.median(_query(db) for _ in range(tries)), 2
                )
        DynamoDBBackend.transact_write_items = mended[0]  # type: ignore[method-assign]
        Table.query, Table.all_items = mended[1], mended[2]  # type: ignore[method-assign]
        out.append(row)
        print(f"  local ceiling: {row}", flush=True)
    return out
