"""The audit trail of operators' changes (#22): who did what, where, and why — in the orders
table, one partition per UTC day (`AUDIT#<date>`), newest last. A listing's rule changes stay
beside the listing (catalog `CHANGE#`); this holds every other `keel` mutation: stock moves by
hand, redrives, resyncs, polls, secrets written (their field names, never values)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from shared.stores.items import to_item
from shared.stores.table import Table

AUDIT_PK = "AUDIT#"


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    env: str
    command: str  # e.g. "dlq redrive sync-shopify-dlq"
    reason: str
    detail: dict[str, Any] = field(default_factory=dict)


class AuditTrail:
    def __init__(self, table_name: str, client: Any) -> None:
        self._t = Table(table_name, client)

    def record(self, entry: AuditEntry) -> None:
        item = {
            "pk": f"{AUDIT_PK}{entry.at.date().isoformat()}",
            "sk": f"{entry.at.isoformat()}#{uuid.uuid4().hex[:8]}",
            "actor": entry.actor,
            "env": entry.env,
            "command": entry.command,
            "reason": entry.reason,
            "detail": entry.detail,
        }
        self._t.client.put_item(TableName=self._t.name, Item=to_item(item))

    def entries(self, day: date) -> list[AuditEntry]:
        return [
            AuditEntry(
                at=datetime.fromisoformat(str(i["sk"]).rsplit("#", 1)[0]),
                actor=str(i["actor"]),
                env=str(i["env"]),
                command=str(i["command"]),
                reason=str(i["reason"]),
                detail=dict(i.get("detail") or {}),
            )
            for i in self._t.query_prefix(f"{AUDIT_PK}{day.isoformat()}", day.isoformat())
        ]
