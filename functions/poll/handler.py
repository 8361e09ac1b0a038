"""Poll (scheduled, per channel): the backstop for webhooks that never arrived.

One handler for every channel that can list its changed orders; its channel comes from
configuration (`KEEL_CHANNEL`). Orders go through the same upsert as webhooks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import httpx
from aws_lambda_powertools import Logger

from shared.aws import client
from shared.channels.port import FetchesOrders
from shared.channels.registry import BY_NAME
from shared.channels.spec import load
from shared.domain.orders import Order
from shared.metrics import count
from shared.secret_cache import get_json
from shared.services.cancellations import accept_cancellation_requests
from shared.services.intake import sku_lookup, take_order
from shared.services.poll import poll_orders
from shared.services.selling_channel import needs_resync, resync_selling_channel
from shared.settings import ChannelOfFunction, ReleaseHeldSettings, SecretName, env_prefix
from shared.stores.intake import OrderStores, Outcome

logger = Logger(service="keel-poll")


@cache
def _stores() -> OrderStores:
    s = ReleaseHeldSettings()  # type: ignore[call-arg]  # values come from the environment
    return OrderStores.connect(
        s.catalog_table, s.inventory_table, s.orders_table, client("dynamodb")
    )


@cache
def _http() -> httpx.Client:
    return httpx.Client(timeout=httpx.Timeout(15.0, connect=3.0))


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    channel = BY_NAME[ChannelOfFunction().keel_channel]  # type: ignore[call-arg]
    if channel.poll_orders is None:
        raise RuntimeError(f"channel {channel.name!r} has no poll")
    logger.thread_safe_append_keys(channel=channel.name)
    secret_name = SecretName(_env_prefix=env_prefix(channel.name)).secret_name  # type: ignore[call-arg]
    secret = get_json(secret_name, 300)
    schema = load(channel.secret_schema).model_validate(secret)
    fetcher: FetchesOrders = load(channel.poll_orders)(schema, _http())
    stores = _stores()
    find_sku = sku_lookup(stores.catalog, channel)
    now = datetime.now(UTC)
    path = channel.accept_cancellation
    acceptor = (lambda: load(path)(schema, _http())) if path else None

    def take(order: Order) -> Outcome:
        outcome, stored = take_order(
            order,
            find_sku,
            stores.intake,
            stores.orders,
            now,
            schema.currency,
            cause="poll",
            catalog=stores.catalog,
        )
        if needs_resync(outcome, stored):
            resync_selling_channel(stored, client("sqs"))
        accepted = accept_cancellation_requests(order, stored, acceptor)
        if accepted:
            logger.info("cancellation request", extra={"order": order.key, "result": accepted})
        return outcome

    report = poll_orders(
        fetcher, stores.orders, take, timedelta(minutes=channel.poll.overlap_minutes), now
    )
    for key in report.missed_by_webhooks:
        # How a merchant learns a webhook is broken: an order only the poll found.
        logger.warning("order found by the poll, not by a webhook", extra={"order": key})
    if report.missed_by_webhooks:
        count("OrdersMissedByWebhooks", len(report.missed_by_webhooks), "keel-poll",
              channel=channel.name)  # fmt: skip
    result = {
        "channel": channel.name,
        "since": report.since.isoformat(),
        "taken": report.taken,
        "outcomes": report.outcomes,
        "missed_by_webhooks": report.missed_by_webhooks,
        "watermark": report.watermark.isoformat() if report.watermark else None,
    }
    logger.info("poll done", extra=result)
    return result
