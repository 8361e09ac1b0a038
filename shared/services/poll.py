"""The poll backstop: take in every order a channel changed since the watermark (minus an
overlap), through the same upsert as webhooks, and move the watermark only past what was taken.
Orders the poll finds that Keel never stored are webhooks that never arrived: counted."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from shared.channels.port import FetchesOrders
from shared.domain.orders import Order
from shared.services.order_intake import Account, IntakeChannel, IntakePorts, take_in
from shared.stores.intake import Outcome
from shared.stores.ports import Orders

FIRST_POLL_LOOKBACK = timedelta(days=2)  # no watermark yet: how far back the first poll reads


@dataclass
class PollReport:
    since: datetime
    taken: int = 0
    missed_by_webhooks: list[str] = field(default_factory=list)  # order keys
    outcomes: dict[str, int] = field(default_factory=dict)
    watermark: datetime | None = None


def poll_orders(
    fetcher: FetchesOrders,
    orders: Orders,
    take: Callable[[Order], Outcome],
    overlap: timedelta,
    now: datetime,
) -> PollReport:
    """`take` is the ingest upsert. An error part-way (a page that fails) leaves the watermark
    at the last order taken, and is raised: the next poll starts there."""
    channel = fetcher.channel
    watermark = orders.watermark(channel, fetcher.account)
    since = (watermark - overlap) if watermark else now - FIRST_POLL_LOOKBACK
    report = PollReport(since=since, watermark=watermark)
    try:
        for order in fetcher.fetch_orders(since):
            unseen = orders.get(order.key) is None
            outcome = take(order)
            report.taken += 1
            report.outcomes[outcome.value] = report.outcomes.get(outcome.value, 0) + 1
            if unseen and outcome is not Outcome.DUPLICATE:
                report.missed_by_webhooks.append(order.key)
            if report.watermark is None or order.channel_updated_at > report.watermark:
                report.watermark = order.channel_updated_at
    finally:
        if report.watermark is not None and report.watermark != watermark:
            orders.advance_watermark(channel, fetcher.account, report.watermark)
    return report


class PollingChannel(IntakeChannel, Protocol):
    """What polling one account asks of a channel (the composition root's ChannelKit)."""

    def poller(self, account: str = "") -> FetchesOrders: ...


def poll_shop(
    channel: PollingChannel,
    shop: Account,
    ports: IntakePorts,
    on_cancellation: Callable[[Order, str], None] = lambda order, result: None,
) -> PollReport:
    """One account's poll through the same intake as webhooks (the poll schedule, and
    reconciliation before it compares stock)."""

    def take(order: Order) -> Outcome:
        order = replace(order, listing_account=shop.key)
        taken = take_in(order, channel, ports, shop.currency, cause="poll")
        if taken.cancellation:
            on_cancellation(order, taken.cancellation)
        return taken.outcome

    overlap = timedelta(minutes=channel.spec.poll.overlap_minutes)
    return poll_orders(channel.poller(shop.key), ports.stores.orders, take, overlap, ports.now())
