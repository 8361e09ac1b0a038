"""Resync (scheduled): a trigger for every listing on every channel Keel publishes to.

The backstop for what no stream saw: a trigger lost after its retries, or stock changed by hand
in a channel's admin. Triggers are cheap (the sync reads canonical stock and batches).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from shared.messages import SyncListing
from shared.runtime import runtime
from shared.trigger_outbox import TriggerOutbox

logger = Logger(service="keel-resync")
metrics = Metrics(namespace="Keel", service="keel-resync")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    rt = runtime()
    catalog, queues = rt.catalog, rt.sync_queue_urls()
    by_channel: dict[str, list[str]] = {}
    only = event.get("channel")  # `keel resync CHANNEL`; the schedule resyncs every channel
    for listing in catalog.all_listings():
        if listing.channel in queues and only in (None, listing.channel):
            by_channel.setdefault(listing.channel, []).append(listing.sku)
    outbox = TriggerOutbox()  # per queue, ten to a request
    for channel, skus in sorted(by_channel.items()):
        for sku in skus:
            outbox.add(channel, queues[channel], SyncListing(channel=channel, sku=sku))
    if unsent := outbox.flush():
        raise RuntimeError(f"triggers not sent to {sorted(unsent)}")
    sent = {channel: len(skus) for channel, skus in sorted(by_channel.items())}
    for count in sent.values():
        metrics.add_metric(name="ResyncTriggers", unit=MetricUnit.Count, value=count)
    logger.info("resync triggered", extra={"schedule": event.get("schedule"), "sent": sent})
    return sent
