"""Order intake, one path for every door an order comes in by: a webhook delivery (ingest), a
queue notification (ingest, after the queue door) and a poll.

`take_in` takes one order version and does what follows it: the buyer's cancellation requests it
carries are accepted on the channel, and the selling channel's sync is triggered where Keel's
stock did not move the way the channel's own count did. `take_delivery` turns a verified
delivery into that order version first (parse, or fetch what a notice names), and keeps what it
cannot read as a held delivery with the reason: a retry would get the same answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any, Protocol

from pydantic import ValidationError

from shared.channels.errors import AuthError, PermanentError, UnknownAccount
from shared.channels.port import (
    AcceptsCancellations,
    CompetingOffers,
    FetchesOrder,
    ListingChanged,
    OrderNotice,
    ParsesWebhooks,
    ReadsOfferChanges,
)
from shared.channels.spec import Channel
from shared.domain.lifecycle import deleted_by_channel
from shared.domain.orders import Order, order_key
from shared.messages import InboundDelivery, SyncListing
from shared.services.cancellations import accept_cancellation_requests
from shared.services.intake import sku_lookup, take_order
from shared.services.selling_channel import needs_resync, resync_selling_channel
from shared.stores.intake import OrderStores, Outcome
from shared.stores.orders import HeldDelivery, OrderTooLarge, held_expiry
from shared.validation import describe

OUTCOME_METRICS = {
    Outcome.RESERVED: "OrdersReserved",
    Outcome.HELD: "OrdersHeld",
    Outcome.CANCELLED: "OrdersCancelled",
    Outcome.REFUNDED: "OrdersRefunded",
    Outcome.KEPT: "OrdersUpdatedAfterShipping",
    Outcome.DUPLICATE: "DuplicateOrders",
}


class IntakeChannel(Protocol):
    """What intake asks of a channel (the composition root's ChannelKit)."""

    spec: Channel

    def raw_secret(self, fresh: bool = False, account: str = "") -> dict[str, Any]: ...
    def account_key(self, account: str) -> str: ...
    def parser(self) -> ParsesWebhooks | None: ...
    def offer_reader(self) -> ReadsOfferChanges | None: ...
    def offer_sink(self) -> OfferSink | None: ...
    def listing_sink(self) -> ListingSink | None: ...
    def order_fetcher(self, account: str = "") -> FetchesOrder: ...
    def cancellation_acceptor(self, account: str = "") -> AcceptsCancellations: ...


@dataclass(frozen=True)
class IntakePorts:
    """What intake writes to and sends: the stores, a channel's sync trigger, the clock."""

    stores: OrderStores
    send_sync: Callable[[SyncListing], None]
    now: Callable[[], datetime]


@dataclass(frozen=True)
class Taken:
    outcome: Outcome
    stored: Order
    cancellation: str | None  # what was done about the buyer's cancellation requests

    @property
    def metric(self) -> str:
        return OUTCOME_METRICS[self.outcome]


@dataclass(frozen=True)
class Account:
    """An account of the channel: its name (as order keys spell it), its key (as listings key
    it, "" the channel's first) and its currency."""

    name: str
    currency: str
    key: str = ""


def account(channel: IntakeChannel, key: str = "") -> Account:
    """The webhook refused deliveries from any account Keel has no secret for; a secret without
    a currency is a configuration error (raised: the record retries, then alarms)."""
    secret = channel.raw_secret(account=key)
    if not secret.get("currency"):
        raise RuntimeError(f"secret for {channel.spec.name} has no 'currency'")
    return Account(channel.spec.account(secret), str(secret["currency"]), key)


def delivery_account(
    channel: IntakeChannel, delivery: InboundDelivery, raw: bytes = b""
) -> Account:
    """The account a delivery is for: the one its receiver's account header names (the
    webhook verified it with that account's secret), else the one its body names
    (`Channel.account_in_body`: bol's retailerId, Amazon's SellerId), else the channel's
    first. An account Keel has no secret for raises UnknownAccount (the delivery is held)."""
    receiver = channel.spec.receiver
    header = receiver.account_header if receiver is not None else None
    claimed = delivery.headers.get(header) if header else None
    if not claimed and channel.spec.account_in_body is not None:
        claimed = _in_body(raw, channel.spec.account_in_body.path)
    return account(channel, channel.account_key(claimed) if claimed else "")


def _in_body(raw: bytes, path: tuple[str, ...]) -> str | None:
    """A string or number at `path` in a JSON body; None when there is none (the parser then
    says what is wrong with the body)."""
    try:
        node: Any = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return str(node) if isinstance(node, (str, int)) and not isinstance(node, bool) else None


def take_in(
    order: Order, channel: IntakeChannel, ports: IntakePorts, currency: str, cause: str
) -> Taken:
    """Take one version of an order and do what follows it (its lines matched in its account's
    listings, `Order.slot`). Raises the stores' and the channel's classified errors (the
    caller's record or poll comes back)."""
    stores = ports.stores
    outcome, stored = take_order(
        order,
        sku_lookup(stores.catalog, channel.spec, order.slot),
        stores.intake,
        stores.orders,
        ports.now(),
        shop_currency=currency,
        cause=cause[:300],
        catalog=stores.catalog,
    )
    acceptor = (
        partial(channel.cancellation_acceptor, order.listing_account)
        if channel.spec.accept_cancellation
        else None
    )
    accepted = accept_cancellation_requests(order, stored, acceptor)
    if needs_resync(outcome, stored):
        resync_selling_channel(stored, ports.send_sync)
    return Taken(outcome, stored, accepted)


@dataclass(frozen=True)
class Held:
    """The delivery was kept for a person: `reason` says why (never customer data)."""

    reason: str
    first_time: bool


@dataclass(frozen=True)
class Ignored:
    why: str


@dataclass(frozen=True)
class Repriced:
    """The delivery told of competing offers; the repricer said what it made of them."""

    said: str


@dataclass(frozen=True)
class Checked:
    """The delivery told of a listing changed on the channel: read again, it showed this."""

    said: str
    drift: int  # fields that differed from what Keel derives
    repaired: int  # sync triggers sent


# (account key, account name, the offers) -> what the repricer made of them
OfferSink = Callable[[str, str, CompetingOffers], str]
# (account key, the news) -> what reading the listing again found
ListingSink = Callable[[str, ListingChanged], Checked]
DeliveryResult = Taken | Held | Ignored | Repriced | Checked


def take_delivery(
    delivery: InboundDelivery,
    channel: IntakeChannel | None,
    ports: IntakePorts,
    read_body: Callable[[InboundDelivery], bytes],
    retention_days: int,
) -> DeliveryResult:
    """One verified delivery, from the webhook or a channel's queue. `channel` None: no channel
    of that name is registered. Retryable failures raise (the record comes back). A delivery
    telling of competing offers goes to the channel's offer sink (the repricer), one telling of
    a listing changed on the channel to its listing sink (read again, repaired), never to
    order intake."""

    def hold(reason: str) -> Held:
        return Held(reason[:2000], _keep_held(delivery, reason, ports, retention_days))

    parser = channel.parser() if channel is not None else None
    if channel is None or parser is None:
        return hold(f"no inbound adapter for channel {delivery.channel!r}")
    what = delivery.topic or "delivery"
    raw = read_body(delivery)
    try:
        shop = delivery_account(channel, delivery, raw)
    except UnknownAccount as exc:  # no secret for the account it names (or one removed)
        return hold(str(exc))
    offers = channel.offer_sink()
    reader = channel.offer_reader() if offers is not None else None
    if reader is not None and offers is not None:
        try:
            change = reader.parse_offers(raw, shop.name)
        except ValueError as exc:
            return hold(f"unparseable {what}: {exc}")
        if change is not None:
            return Repriced(offers(shop.key, shop.name, change))
    try:
        parsed = parser.parse_webhook(delivery.headers, raw, shop.name)
    except ValidationError as exc:  # where and why, never the values (customer data)
        return hold(f"unparseable {what}: {describe(exc)}")
    except ValueError as exc:
        return hold(f"unparseable {what}: {exc}")
    except RecursionError:
        return hold(f"unparseable {what}: nested too deep")
    if parsed is None:
        return Ignored(f"topic {delivery.topic!r} not acted on")
    if isinstance(parsed, ListingChanged):
        sink = channel.listing_sink()
        if sink is None:
            return Ignored(f"{delivery.channel} listings are not compared (no reader)")
        return sink(shop.key, parsed)
    if not isinstance(parsed, OrderNotice):
        order = replace(parsed, listing_account=shop.key)
    else:
        notice = parsed
        try:
            found = channel.order_fetcher(shop.key).fetch_order(notice.order_id)
        except AuthError:
            raise  # a rotated credential: the record comes back and the secret cache expires
        except PermanentError as exc:  # a retry gets the same answer: kept for a person
            return hold(f"order {notice.order_id} unreadable: {exc}")
        # RetryableError (and AuthError after its refresh budget) raise: the record comes back
        if found is None and notice.deleted:
            stored = ports.stores.orders.get(
                order_key(delivery.channel, shop.name, notice.order_id)
            )
            found = deleted_by_channel(stored, ports.now()) if stored is not None else None
            if found is None:
                return Ignored(f"deleted order {notice.order_id} Keel never had")
        if found is None:
            return hold(f"{delivery.channel} does not know order {notice.order_id}")
        order = replace(found, listing_account=shop.key)
    try:
        return take_in(order, channel, ports, shop.currency, f"{what} {delivery.delivery_id}")
    except OrderTooLarge as exc:
        return hold(f"order too large to store: {exc}")


def _keep_held(
    delivery: InboundDelivery, reason: str, ports: IntakePorts, retention_days: int
) -> bool:
    return ports.stores.orders.keep_held_delivery(
        HeldDelivery(
            channel=delivery.channel,
            delivery_id=delivery.delivery_id,
            topic=delivery.topic,
            reason=reason[:2000],
            raw_body=delivery.body,
            received_at=delivery.received_at,
            body_encoding=delivery.body_encoding,
            body_ref=delivery.body_ref,
            expires_at=held_expiry(delivery.received_at, retention_days),
        )
    )
