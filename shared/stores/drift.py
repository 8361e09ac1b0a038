"""The drift still open after each channel's last reconciliation (in the catalog table, under
`DRIFT#<channel>`): what makes "drift that survived two runs" and "the oldest unresolved drift"
measurable. One item per drift id (`shared.domain.drift.Drift.id`) with when it was first seen."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from shared.stores.items import to_item
from shared.stores.table import Table


def _pk(channel: str) -> str:
    return f"DRIFT#{channel}"


class DriftStore:
    def __init__(self, table: str, client: Any) -> None:
        self._t = Table(table, client)

    def open_drift(self, channel: str) -> dict[str, datetime]:
        """Drift id -> when it was first seen, as the channel's last run left it."""
        return {
            str(i["sk"]): datetime.fromisoformat(str(i["first_seen"]))
            for i in self._t.query_partition(_pk(channel))
        }

    def keep_drift(self, channel: str, still_open: Mapping[str, datetime]) -> None:
        """What this run found open replaces what the last one left."""
        pk, name, client = _pk(channel), self._t.name, self._t.client
        for gone in set(self.open_drift(channel)) - set(still_open):
            client.delete_item(TableName=name, Key=to_item({"pk": pk, "sk": gone}))
        for drift_id, first_seen in still_open.items():
            item = {"pk": pk, "sk": drift_id, "first_seen": first_seen.isoformat()}
            client.put_item(TableName=name, Item=to_item(item))
