"""Poll (scheduled, per channel): the backstop for webhooks that never arrived.

One handler for every channel that can list its changed orders; its channel comes from
configuration (`KEEL_CHANNEL`). Orders go through the same intake as webhooks.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from shared.domain.orders import Order
from shared.metrics import count
from shared.runtime import ChannelKit, runtime
from shared.services.order_intake import Account, account
from shared.services.poll import poll_shop

logger = Logger(service="keel-poll")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Polls the account the event names — by its secret (`{"account_secret": name}`, a
    per-account schedule) or by itself (`{"account": key}`, an operator) — else every account
    of the channel in turn. Answers the first account's report, with every account's under
    `accounts`."""
    rt = runtime()
    channel = rt.channel(rt.channel_name())
    logger.thread_safe_append_keys(channel=channel.name)
    keys = channel.accounts_to_poll(event or {})
    reports = [_poll(channel, account(channel, key)) for key in keys]
    return {**reports[0], "accounts": reports}


def _log_cancellation(order: Order, result: str) -> None:
    logger.info("cancellation request", extra={"order": order.key, "result": result})


def _poll(channel: ChannelKit, shop: Account) -> dict[str, Any]:
    rt = runtime()
    logger.thread_safe_append_keys(account=shop.name)
    report = poll_shop(channel, shop, rt.intake, _log_cancellation)
    for key in report.missed_by_webhooks:  # how a merchant learns a webhook is broken
        logger.warning("order found by the poll, not by a webhook", extra={"order": key})
    if report.missed_by_webhooks:
        count(
            "OrdersMissedByWebhooks",
            len(report.missed_by_webhooks),
            "keel-poll",
            channel=channel.name,
        )
    result = {
        "channel": channel.name,
        "account": shop.name,
        "since": report.since.isoformat(),
        "taken": report.taken,
        "outcomes": report.outcomes,
        "missed_by_webhooks": report.missed_by_webhooks,
        "watermark": report.watermark.isoformat() if report.watermark else None,
    }
    logger.info("poll done", extra=result)
    return result
