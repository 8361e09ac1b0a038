"""What a channel declares about itself: the records a channel package fills in.

Stdlib only: the webhook ack path imports this. Parsers, adapters, schemas and sandboxes are
named by import path ("module:attribute") and loaded only where they are used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.domain.accounts import normalize_account

Verifier = Callable[[str, bytes, Mapping[str, str]], bool]
"""(signing secret, raw body, lower-cased headers) -> True when the channel signed this body."""


@dataclass(frozen=True)
class FromHeader:
    """A value the channel sends in a header (lower-case name)."""

    header: str


@dataclass(frozen=True)
class BodyDigest:
    """For channels without a delivery id: the SHA-256 of the raw body names the delivery."""


@dataclass(frozen=True)
class FromBody:
    """A value inside the JSON body, by a path of keys (read with the stdlib json module)."""

    path: tuple[str, ...]


@dataclass(frozen=True)
class ChannelKeys:
    """For channels that sign with their own key pair and publish the public keys (bol.com's
    `GET /retailer/subscriptions/signature-keys`): the webhook verifies a delivery with the key
    it names, not with a shared secret. Keys are cached per container; a key id not in the cache
    makes one refetch (at most one per `refetch_interval_s`, so forged ids cannot hammer the
    channel); a key id still unknown is a bad signature (401)."""

    # "module:function" (the channel's secret as a dict) -> {key id: key}; stdlib only (urllib):
    # it runs on the webhook path. Raises on failure (the delivery gets a 5xx and comes back).
    fetch: str
    key_id: Callable[[Mapping[str, str]], str | None]  # the key id a delivery names
    max_age_s: int = 3600
    refetch_interval_s: int = 60


@dataclass(frozen=True)
class WebhookReceiver:
    # (signing secret, or with `keys` the channel's key the delivery names, raw body, headers)
    verify: Verifier
    # Field of the channel's secret that signs deliveries; with `keys`, the credential the key
    # fetch needs (checked filled, so an unfilled secret is a 5xx, not a 401).
    secret_field: str
    delivery_id: FromHeader | BodyDigest
    topic: FromHeader | FromBody
    kept_headers: tuple[str, ...] = ()  # passed on to ingest with the raw body (lower-case)
    # A delivery from another account (shop) than the configured one (the channel's
    # `account_field`) is refused: the header that names the account.
    account_header: str | None = None
    # A channel's "is this endpoint alive?" call (unsigned): answered 200, nothing stored.
    is_ping: Callable[[Mapping[str, str], bytes], bool] | None = None
    # Keys published by the channel instead of a shared secret (see ChannelKeys).
    keys: ChannelKeys | None = None


@dataclass(frozen=True)
class QueueReceiver:
    """For channels that deliver to an SQS queue in the merchant's account instead of calling a
    webhook (Amazon SP-API notifications): nothing is signed, the queue's resource policy is the
    trust. The wiring derives the queue (+DLQ, alarm) and its consumer, which dedupes on
    `delivery_id` and hands each message to ingest as a delivery."""

    # Principals outside the stack allowed to send (a 12-digit account id or a service
    # principal), and what they may do: exactly what the channel documents, nothing more.
    senders: tuple[str, ...]
    delivery_id: FromBody  # a business key in the message body (stable across redeliveries)
    topic: FromBody
    sender_actions: tuple[str, ...] = ("sqs:SendMessage",)


@dataclass(frozen=True)
class SyncPolicy:
    """How the channel's `sync-<channel>` queue and function run: its rate budget lives here."""

    batch_size: int = 50
    max_batching_window_s: int = 2
    # The most listings one stock-write call carries (Shopify's inventorySetQuantities rows,
    # WooCommerce's batch items; 1 where every listing is its own call): the adapter's chunk,
    # and the fewest calls a burst over N SKUs can take (ceil(N / rows_per_call)).
    rows_per_call: int = 1
    # The most a listing can show on the channel (bol.com: 999), None: no limit. The sync
    # derives what it sends within it, so a SKU with more stock is not sent again and again.
    max_quantity: int | None = None
    timeout_s: int = 60
    max_receive_count: int = 8
    max_concurrency: int | None = None  # concurrent batches; None: Lambda's default
    # Writes the channel accepts before it applies them (port.PendingStock): the delay before
    # each check of one write (SQS delays are <= 900 s); once they are spent the write counts
    # as timed out. A failed or timed-out write is published again, `publish_attempts` in all,
    # then dead-lettered with its reason.
    confirm_delays_s: tuple[int, ...] = (5, 10, 30, 60, 120, 300, 600, 900)
    publish_attempts: int = 3
    # Hold a hot SKU (shared/services/stock_hold.py): a stock trigger for a SKU that changed
    # again within `hold_quiet_s` of its last send waits until it has been quiet that long,
    # at most `max_hold_s`, then goes out with everything else. 0: never hold. Never held: a
    # change that leaves the channel showing more than is available (a fall to zero).
    hold_quiet_s: int = 0
    max_hold_s: int = 0

    @property
    def confirm_window_s(self) -> int:
        """How long an accepted write may stay unconfirmed: its checks' whole schedule."""
        return sum(self.confirm_delays_s)


@dataclass(frozen=True)
class PollPolicy:
    """The backstop for webhooks a channel did not deliver: how often, and how far back."""

    rate_minutes: int = 10
    overlap_minutes: int = 15  # re-read before the watermark: clocks and slow writes


@dataclass(frozen=True)
class Channel:
    name: str
    secret_schema: str  # "module:Model", a pydantic model of the secret's JSON
    sandbox: str  # "module:Class" under local_stack/sandboxes/
    # The secret's field naming the account (shop, store) the secret serves: part of every
    # order's key, so two accounts of one channel never collide.
    account_field: str
    receiver: WebhookReceiver | None = None
    # Deliveries that arrive on a queue instead of a webhook (see QueueReceiver).
    queue_receiver: QueueReceiver | None = None
    inbound: str | None = None  # "module:Class" implementing port.ParsesWebhooks
    # What the channel must deliver to Keel (webhook topics, notification types): registered
    # by the operator (docs/deploy.md, generated from this) and acted on by `inbound`.
    subscriptions: tuple[str, ...] = ()
    # Listing refs an order line is matched by, in order: the channel's item id, then its SKU.
    line_item_ref: str | None = None
    outbound_stock: str | None = None  # "module:factory" (secret model, httpx.Client) -> SetsStock
    sync: SyncPolicy = SyncPolicy()
    # "module:factory" (secret model, httpx.Client) -> port.FetchesOrder: reads one order by
    # its channel id, for deliveries that only name it (the parser returns port.OrderNotice).
    fetch_order: str | None = None
    # "module:factory" (secret model, httpx.Client) -> port.FetchesOrders: the poll backstop.
    poll_orders: str | None = None
    poll: PollPolicy = PollPolicy()
    # "module:factory" (secret model, httpx.Client) -> port.ConfirmsShipments: how the order
    # workflow tells the channel an order shipped (carrier, tracking).
    confirm_shipment: str | None = None
    # "module:factory" (secret model, httpx.Client) -> port.CancelsLines: lets the environment's
    # oversell policy "cancel-short-lines" apply to this channel (else its orders wait, held).
    cancel_lines: str | None = None
    # The secret's fields naming the marketplaces an account sells in (each a list, or one
    # id): listings of one account in several marketplaces share one quantity (Amazon's unified
    # account). Empty: the channel has no marketplaces of its own.
    marketplace_fields: tuple[str, ...] = ()
    # Where a delivery's body names its account, for channels whose deliveries carry no account
    # header (bol's push `retailerId`, Amazon's `SellerId`): ingest takes it in that account.
    account_in_body: FromBody | None = None
    # (marketplace id, short name) pairs people read in tables (Amazon: "A1PA6795UKMFR9" is "de").
    marketplace_names: tuple[tuple[str, str], ...] = ()
    # "module:factory" (secret model, httpx.Client) -> port.AcceptsCancellations: accepts the
    # buyer's cancellation requests an order carries (Order.cancellation_requested).
    accept_cancellation: str | None = None
    # "module:factory" (secret model, httpx.Client) -> port.SetsPrices (and ConfirmsPrices when
    # the channel accepts a price before it applies it): prices out, on the sync queue.
    outbound_prices: str | None = None
    # "module:Class" implementing port.ReadsOfferChanges: competitors' offers arrive through the
    # channel's inbound door (Amazon ANY_OFFER_CHANGED on its queue) and feed the repricer.
    offer_changes: str | None = None
    # "module:factory" (secret model, httpx.Client) -> port.ReadsCompetition: the offers beside
    # a listing read on the competitors schedule (bol), for listings that reprice.
    read_competition: str | None = None
    # "module:factory" (secret model, httpx.Client) -> port.EstimatesFees: the channel's fee at
    # a price, for the listing's floor (`keel prices fees`).
    estimate_fees: str | None = None
    # "module:factory" (secret model, httpx.Client) -> port.ReadsListings: every listing of an
    # account as the channel shows it (onboarding's discovery, reconciliation).
    read_listings: str | None = None
    # "module:factory" (secret model, httpx.Client) -> port.ManagesSubscriptions: registers the
    # deliveries in `subscriptions` (`keel channels connect`) and reports their health.
    manage_subscriptions: str | None = None
    # The listing ref offer news names the product by (Amazon "asin", bol "ean"): indexed like
    # line_item_ref, so the repricer finds the SKU.
    offer_ref: str | None = None
    # More listing refs a channel's news of a changed listing names it by (port.ListingChanged:
    # Shopify's `inventory_levels/update` names only the inventory item): indexed too.
    news_refs: tuple[str, ...] = ()
    # How often reconciliation reads the whole channel (its bulk read: pages, an export, a
    # report) to find drift, re-arm subscriptions and prove nothing was missed.
    reconcile_minutes: int = 30

    @property
    def lookup_refs(self) -> tuple[str, ...]:
        """Listing refs indexed for matching order lines back to Keel's SKU."""
        if self.inbound is None:
            return ()
        refs = [self.line_item_ref, "sku", self.offer_ref, *self.news_refs]
        return tuple(dict.fromkeys(r for r in refs if r))

    @property
    def receives_deliveries(self) -> bool:
        """Deliveries reach ingest, by webhook or by queue."""
        return self.receiver is not None or self.queue_receiver is not None

    @property
    def publishes_stock(self) -> bool:
        return self.outbound_stock is not None

    def account(self, secret: Mapping[str, Any]) -> str:
        """The account a channel secret serves, as order keys spell it."""
        return normalize_account(str(secret[self.account_field]))

    def listing_label(self, account: str = "", marketplace: str = "") -> str:
        """A listing as a table shows it: `shopify`, `shopify@keel-outlet`, `amazon/de`."""
        label = self.name + (f"@{account.split('.', maxsplit=1)[0]}" if account else "")
        return label + (f"/{self.marketplace_name(marketplace)}" if marketplace else "")

    def marketplace_name(self, marketplace: str) -> str:
        """The short name of a marketplace id (the id itself when the channel has none)."""
        return dict(self.marketplace_names).get(marketplace, marketplace)

    def marketplaces(self, secret: Mapping[str, Any]) -> tuple[str, ...]:
        """The marketplaces an account sells in, as its secret names them (first first)."""
        found: list[str] = []
        for field_name in self.marketplace_fields:
            value = secret.get(field_name) or ()
            found.extend(str(m) for m in ([value] if isinstance(value, str) else value))
        return tuple(dict.fromkeys(found))


def load(path: str) -> Any:
    """Import "module:attribute" (where a channel's parts are used, not where declared)."""
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)
