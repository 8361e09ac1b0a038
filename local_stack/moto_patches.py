"""Where moto differs from DynamoDB in a way the local stack would show, it is mended here.

A cancelled TransactWriteItems makes moto restore each table it touched from a deep copy, stream
shard included. Iterators already handed out still point at the old shard, which now also holds
records of the cancelled writes; the restored shard then reuses their sequence numbers for the
next real writes. A stream reader that got its iterator just before a cancelled transaction read
phantom records and then skipped real ones (seen as a last-unit reservation that never reached
WooCommerce). DynamoDB has one shard that never holds cancelled writes: keep the shard object,
drop what the cancelled transaction appended, and put it back on the restored table.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

_lock = threading.Lock()
_applied: set[str] = set()


def keep_stream_shards_across_rollbacks() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    with _lock:
        if "stream_shards" in _applied:
            return
        original = DynamoDBBackend.transact_write_items

        @functools.wraps(original)
        def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
            shards = {
                name: (table.stream_shard, len(table.stream_shard.items))
                for name, table in self.tables.items()
                if table.stream_shard is not None
            }
            try:
                original(self, transact_items)
            except Exception:
                for name, (shard, length) in shards.items():
                    table = self.tables.get(name)
                    if table is not None and table.stream_shard is not shard:
                        del shard.items[length:]
                        shard.table = table
                        table.stream_shard = shard
                raise

        DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
        _applied.add("stream_shards")
