"""Sync triggers a stream batch produced, sent per queue ten to a request once every record
has been read: a change on a SKU costs one batch entry per channel, not one request. Which
record each trigger came from is kept, so a trigger that was not sent fails its record (the
stream retries from it; a trigger sent twice is harmless, the sync reads the level when it
publishes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.aws import client
from shared.domain.listings import Listing
from shared.messages import SyncListing, SyncPrice

SEND_BATCH = 10  # SendMessageBatch's most entries


@dataclass
class TriggerOutbox:
    # queue URL -> (what the trigger came from: a stream record's id, a channel; the trigger)
    _pending: dict[str, list[tuple[str, SyncListing | SyncPrice]]] = field(default_factory=dict)

    def add(self, source: str, queue_url: str, trigger: SyncListing | SyncPrice) -> None:
        self._pending.setdefault(queue_url, []).append((source, trigger))

    def flush(self) -> set[str]:
        """Send everything added; the sources one of whose triggers was not sent."""
        failed: set[str] = set()
        pending, self._pending = self._pending, {}
        for queue_url, triggers in pending.items():
            for start in range(0, len(triggers), SEND_BATCH):
                chunk = triggers[start : start + SEND_BATCH]
                entries = [_entry(str(n), trigger) for n, (_, trigger) in enumerate(chunk)]
                try:
                    answer: dict[str, Any] = client("sqs").send_message_batch(
                        QueueUrl=queue_url, Entries=entries
                    )
                except (BotoCoreError, ClientError):
                    failed.update(source for source, _ in chunk)
                    continue
                failed.update(chunk[int(f["Id"])][0] for f in answer.get("Failed", []))
        return failed


def _entry(entry_id: str, trigger: SyncListing | SyncPrice) -> dict[str, Any]:
    return {
        "Id": entry_id,
        "MessageBody": trigger.model_dump_json(),
        "MessageAttributes": {"channel": {"DataType": "String", "StringValue": trigger.channel}},
    }


@dataclass
class RepairTriggers:
    """Reconciliation's repairs (shared/services/reconcile.Repairs): a stock trigger for the
    listing's account and a price trigger for the listing, on its channel's sync queue. Always
    sent (not `stock_moved`): the channel is known to show something else."""

    queue_url: str
    outbox: TriggerOutbox = field(default_factory=TriggerOutbox)

    def stock(self, listing: Listing) -> None:
        trigger = SyncListing(channel=listing.channel, account=listing.account, sku=listing.sku)
        self.outbox.add(listing.key, self.queue_url, trigger)

    def price(self, listing: Listing) -> None:
        trigger = SyncPrice(channel=listing.channel, sku=listing.sku, listing=listing.key)
        self.outbox.add(listing.key, self.queue_url, trigger)

    def flush(self) -> list[str]:
        return sorted(self.outbox.flush())
