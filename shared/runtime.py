"""The composition root: everything a function builds once per container, from its settings.

AWS clients, stores, the one HTTP client and its timeouts, the clock, the queue sender, channel
adapters by capability and the carrier are built here and nowhere else. Handlers, the local
stack, `keel` and tests build from a `Runtime`; nothing below `shared/runtime.py` reads the
environment or caches a client of its own.

Lean on purpose: stores, httpx and adapters are imported on first use, so a function pays only
for what it touches. The webhook ack path does not use this module (it reads four variables and
must answer within Shopify's 5 s, cold start included).

One runtime per function environment: Lambda gives each function its own process, so that is one
per container; the local stack runs every function in one process and sets each function's
variables per invocation (`settings.FUNCTION_ENV`), so it gets one per function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from shared.aws import client
from shared.channels.errors import PermanentError, UnknownAccount
from shared.channels.registry import BY_NAME
from shared.channels.spec import Channel, load
from shared.domain.accounts import normalize_account
from shared.secret_cache import get_json
from shared.settings import FUNCTION_ENV, QueueUrls, SecretName, _Settings, env_prefix

if TYPE_CHECKING:
    import httpx
    from pydantic import BaseModel

    from shared.channels.port import (
        AcceptsCancellations,
        CancelsLines,
        ConfirmsShipments,
        EstimatesFees,
        FetchesOrder,
        FetchesOrders,
        ListingChanged,
        ManagesSubscriptions,
        ParsesWebhooks,
        ReadsCompetition,
        ReadsListings,
        ReadsOfferChanges,
        SetsPrices,
        SetsStock,
    )
    from shared.messages import ConfirmStock, InboundDelivery, SyncListing
    from shared.services.onboarding import ChannelAccess
    from shared.services.order_intake import IntakePorts, ListingSink, OfferSink
    from shared.services.reconcile import Reconciler
    from shared.services.stock_outbound import StockAccount
    from shared.services.workflow import Carrier
    from shared.services.workflow import Stores as WorkflowStores
    from shared.stores.audit import AuditTrail
    from shared.stores.catalog import CatalogStore
    from shared.stores.intake import OrderStores
    from shared.stores.inventory import InventoryStore
    from shared.stores.orders import OrderStore
    from shared.stores.prices import PriceBook
    from shared.stores.shipments import ShipmentStore

S = TypeVar("S", bound=_Settings)

HTTP_TIMEOUT_S = 15.0  # read, write and pool: one policy for every channel and carrier call
HTTP_CONNECT_TIMEOUT_S = 3.0


class RuntimeSettings(_Settings):
    """What the root itself reads. Each table is optional here: a function is given only the
    tables its wiring names, and a store asked for without its table is a clear error."""

    catalog_table: str | None = None
    inventory_table: str | None = None
    orders_table: str | None = None
    secret_cache_seconds: int = 300
    keel_carrier: str | None = None  # who parcels are booked with (None: the only carrier)
    keel_channel: str | None = None  # the channel of a per-channel function (sync, poll)


class MissingSetting(RuntimeError):
    """A function asked for something its configuration does not give it."""


def utc_now() -> datetime:
    """Every runtime's clock unless it was given its own (tests pin this one)."""
    return datetime.now(UTC)


class Runtime:
    """Built once per container (`runtime()`). Tools and tests build their own: `env` adds
    variables over the process's (`keel`: the local stack's tables from its state file, later a
    deployed stack's outputs); `aws` makes the AWS clients (`keel`: pointed at that stack)."""

    def __init__(
        self,
        clock: Callable[[], datetime] | None = None,
        env: Mapping[str, str] | None = None,
        aws: Callable[[str], Any] | None = None,
    ) -> None:
        self._clock = clock
        self._env = dict(env or {})
        self._aws = aws or client
        self._settings: dict[tuple[type[_Settings], str], _Settings] = {}
        self._channels: dict[str, ChannelKit] = {}

    def clock(self) -> datetime:
        return (self._clock or utc_now)()

    # --- settings ---------------------------------------------------------------------
    def settings(self, model: type[S], prefix: str = "") -> S:
        """`model` read from this function's environment once; a missing value names itself."""
        key = (model, prefix)
        if key not in self._settings:
            from pydantic import ValidationError

            token = FUNCTION_ENV.set({**(FUNCTION_ENV.get() or {}), **self._env})
            try:
                self._settings[key] = model(_env_prefix=prefix)
            except ValidationError as exc:
                missing = ", ".join(f"{prefix}{e['loc'][0]}".upper() for e in exc.errors())
                raise MissingSetting(f"{model.__name__}: check {missing}") from exc
            finally:
                FUNCTION_ENV.reset(token)
        value: S = self._settings[key]  # type: ignore[assignment]  # stored under its model
        return value

    @property
    def config(self) -> RuntimeSettings:
        return self.settings(RuntimeSettings)

    def _table(self, field: str) -> str:
        name = getattr(self.config, field)
        if not name:
            raise MissingSetting(f"this function has no {field.upper()}")
        return str(name)

    def queue(self, name: str) -> QueueUrls:
        """A queue's URLs (`<QUEUE>_QUEUE_URL`, `<QUEUE>_DLQ_URL`), by the wiring's name."""
        return self.settings(QueueUrls, env_prefix(name))

    def channel_name(self) -> str:
        """The channel a per-channel function serves (KEEL_CHANNEL, set by the wiring)."""
        name = self.config.keel_channel
        if not name:
            raise MissingSetting("this function has no KEEL_CHANNEL")
        return name

    # --- clients ------------------------------------------------------------------------
    def aws(self, service: str) -> Any:
        return self._aws(service)

    @cached_property
    def http(self) -> httpx.Client:
        """One connection pool and one timeout policy for every outbound call."""
        import httpx

        from shared.tracing import trace_http

        trace_http()
        return httpx.Client(timeout=httpx.Timeout(HTTP_TIMEOUT_S, connect=HTTP_CONNECT_TIMEOUT_S))

    def send(self, queue_url: str, body: str, delay_s: int = 0) -> None:
        """One message on a queue, delayed up to SQS's 900 s."""
        self.aws("sqs").send_message(
            QueueUrl=queue_url, MessageBody=body, DelaySeconds=max(0, min(900, delay_s))
        )

    def sync_queue_url(self, channel: str) -> str:
        from shared.names import sync_queue

        return self.queue(sync_queue(channel)).queue_url

    def sync_queue_urls(self) -> dict[str, str]:
        """Channel -> its sync queue URL, for every channel the registry says publishes stock
        (a function that triggers syncs is given them all)."""
        from shared.channels.registry import CHANNELS

        return {c.name: self.sync_queue_url(c.name) for c in CHANNELS if c.publishes_stock}

    def send_sync(self, trigger: SyncListing | ConfirmStock, delay_s: int = 0) -> None:
        """A sync trigger (or check) on its channel's own sync queue."""
        self.send(self.sync_queue_url(trigger.channel), trigger.model_dump_json(), delay_s)

    def raw_body(self, delivery: InboundDelivery) -> bytes:
        """A delivery's exact bytes: inline, or from the raw-bodies bucket (RAW_BODIES_BUCKET)."""
        if delivery.body_ref is None:
            return delivery.inline_body()
        from shared.settings import IngestSettings

        bucket = self.settings(IngestSettings).raw_bodies_bucket
        answer = self.aws("s3").get_object(Bucket=bucket, Key=delivery.body_ref)
        body: bytes = answer["Body"].read()
        return body

    def secret(self, owner: str, fresh: bool = False, name: str | None = None) -> Any:
        """A channel's or carrier's secret (`<OWNER>_SECRET_NAME`, or one of its accounts'
        by `name`), cached for SECRET_CACHE_SECONDS; `fresh` reads it now (the channel refused
        the cached one)."""
        name = name or self.settings(SecretName, env_prefix(owner)).secret_name
        return get_json(name, self.config.secret_cache_seconds, fresh=fresh, aws=self._aws)

    def secret_names(self, owner: str) -> tuple[str, ...]:
        """Every account's secret of a channel, its first account's first."""
        names = self.settings(SecretName, env_prefix(owner))
        return (names.secret_name, *names.account_secret_names)

    # --- stores -------------------------------------------------------------------------
    @cached_property
    def catalog(self) -> CatalogStore:
        from shared.stores.catalog import CatalogStore

        return CatalogStore(self._table("catalog_table"), self.aws("dynamodb"))

    @property
    def catalog_table_name(self) -> str:
        return self._table("catalog_table")

    @cached_property
    def prices(self) -> PriceBook:
        """The price book, on the catalog table (shared/stores/prices.py)."""
        from shared.stores.prices import PriceBook

        return PriceBook(self._table("catalog_table"), self.aws("dynamodb"))

    @cached_property
    def inventory(self) -> InventoryStore:
        from shared.stores.inventory import InventoryStore

        return InventoryStore(self._table("inventory_table"), self.aws("dynamodb"))

    @cached_property
    def orders(self) -> OrderStore:
        from shared.stores.orders import OrderStore

        return OrderStore(self._table("orders_table"), self.aws("dynamodb"))

    @cached_property
    def audit(self) -> AuditTrail:
        from shared.stores.audit import AuditTrail

        return AuditTrail(self._table("orders_table"), self.aws("dynamodb"))

    @cached_property
    def shipments(self) -> ShipmentStore:
        from shared.stores.shipments import ShipmentStore

        return ShipmentStore(self._table("orders_table"), self.aws("dynamodb"))

    @cached_property
    def order_stores(self) -> OrderStores:
        """What taking an order in writes: catalog, orders, inventory, one transaction."""
        from shared.stores.intake import OrderIntakeStore, OrderStores

        return OrderStores(
            self.catalog,
            self.orders,
            self.inventory,
            OrderIntakeStore(self.orders, self.inventory, self.aws("dynamodb")),
        )

    @cached_property
    def intake(self) -> IntakePorts:
        """What order intake writes to and sends (ingest, polls)."""
        from shared.services.order_intake import IntakePorts

        return IntakePorts(self.order_stores, self.send_sync, self.clock)

    @cached_property
    def workflow_stores(self) -> WorkflowStores:
        """The order workflow's: only its commit step writes stock (inventory optional)."""
        from shared.services.workflow import Stores
        from shared.stores.intake import OrderIntakeStore
        from shared.stores.inventory import InventoryStore

        db = self.aws("dynamodb")
        inventory = self.inventory if self.config.inventory_table else InventoryStore("-", db)
        return Stores(self.orders, OrderIntakeStore(self.orders, inventory, db), self.shipments)

    # --- adapters -----------------------------------------------------------------------
    def channel(self, name: str) -> ChannelKit:
        if name not in self._channels:
            spec = BY_NAME.get(name)
            if spec is None:
                raise PermanentError(f"no channel {name!r} registered", channel=name)
            self._channels[name] = ChannelKit(self, spec)
        return self._channels[name]

    def carrier(self) -> Carrier:
        """The environment's carrier (KEEL_CARRIER, else the only one registered)."""
        from shared.carriers.registry import workflow_carrier

        spec = workflow_carrier(self.config.keel_carrier)
        secret = load(spec.secret_schema).model_validate(self.secret(spec.name))
        carrier: Carrier = load(spec.client)(secret, self.http)
        return carrier


class ChannelKit:
    """One channel's adapters by capability, each built from its registry path and the current
    secret of one of its accounts (so a rotated secret is picked up within the cache's age). A
    new capability is one port, one spec field and one method here.

    Accounts are named as listings name them (shared/domain/listings.py): "" is the first
    account (`<CHANNEL>_SECRET_NAME`); any other by what its secret's `account_field` says,
    normalized. A new account is a new secret in the configuration, not code."""

    def __init__(self, runtime: Runtime, spec: Channel) -> None:
        self.runtime = runtime
        self.spec = spec
        self.name = spec.name

    def accounts(self) -> dict[str, str]:
        """Account key -> its secret's name, the first account ("") first. Reads each secret
        (cached) to learn the account it serves."""
        names = self.runtime.secret_names(self.name)
        found = {"": names[0]}
        first = self._account_of(names[0])
        for name in names[1:]:
            account = self._account_of(name)
            if account != first:
                found.setdefault(account, name)
        return found

    def account_key(self, account: str) -> str:
        """The key listings use for an account as a delivery or an operator names it: "" for
        the first account; UnknownAccount when no secret serves it."""
        wanted = normalize_account(account) if account else ""
        if wanted == "":
            return ""
        names = self.runtime.secret_names(self.name)
        if self._account_of(names[0]) == wanted:
            return ""
        if wanted in self.accounts():
            return wanted
        raise UnknownAccount(f"no {self.name} account {account!r} configured", channel=self.name)

    def accounts_to_poll(self, event: dict[str, Any]) -> list[str]:
        """The account keys a poll event names — by secret (`{"account_secret": name}`, a
        per-account schedule) or by key (`{"account": key}`, an operator) — else every one."""
        if "account_secret" in event:
            return [self.account_key_of_secret(str(event["account_secret"]))]
        if "account" in event:
            return [self.account_key(str(event["account"]))]
        return list(self.accounts())

    def account_key_of_secret(self, secret_name: str) -> str:
        """The key of the account a secret of this channel serves (a per-account schedule
        names its account by its secret: the account itself is only in the secret)."""
        names = self.runtime.secret_names(self.name)
        if secret_name not in names:
            raise UnknownAccount(
                f"{secret_name!r} is not one of {self.name}'s secrets", channel=self.name
            )
        return self.account_key(self._account_of(secret_name))

    def account_name(self, key: str = "") -> str:
        """What the account of `key` is called (the first account's own name for "")."""
        return self._account_of(self._secret_name(key)) if key == "" else key

    def marketplaces(self, key: str = "") -> tuple[str, ...]:
        """The marketplaces an account sells in, when the channel names them
        (Channel.marketplace_fields)."""
        if not self.spec.marketplace_fields:
            return ()
        return self.spec.marketplaces(self.raw_secret(account=key))

    def _account_of(self, secret_name: str) -> str:
        secret = self.runtime.secret(self.name, name=secret_name)
        if not isinstance(secret, dict) or not secret.get(self.spec.account_field):
            raise MissingSetting(f"secret {secret_name} has no {self.spec.account_field}")
        return self.spec.account(secret)

    def _secret_name(self, account: str) -> str:
        names = self.runtime.secret_names(self.name)
        if account == "":
            return names[0]
        found = self.accounts().get(account)
        if found is None:
            raise UnknownAccount(
                f"no {self.name} account {account!r} configured", channel=self.name
            )
        return found

    def raw_secret(self, fresh: bool = False, account: str = "") -> dict[str, Any]:
        name = self._secret_name(account)
        secret = self.runtime.secret(self.name, fresh, name=name)
        if not isinstance(secret, dict):
            raise MissingSetting(f"secret for {self.name} is not a JSON object")
        return secret

    def secret(self, fresh: bool = False, account: str = "") -> BaseModel:
        raw = self.raw_secret(fresh, account)
        model: BaseModel = load(self.spec.secret_schema).model_validate(raw)
        return model

    def _adapter(
        self, path: str | None, capability: str, fresh: bool = False, account: str = ""
    ) -> Any:
        if path is None:
            raise PermanentError(f"{self.name} cannot {capability}", channel=self.name)
        return load(path)(self.secret(fresh, account), self.runtime.http)

    def can(self, capability: str) -> bool:
        """Whether the registry gives this channel the adapter named by a spec field."""
        return getattr(self.spec, capability) is not None

    def parser(self) -> ParsesWebhooks | None:
        if self.spec.inbound is None:
            return None
        parser: ParsesWebhooks = load(self.spec.inbound)()
        return parser

    def competition_reader(self, account: str = "") -> ReadsCompetition:
        reader: ReadsCompetition = self._adapter(
            self.spec.read_competition, "read competing offers", account=account
        )
        return reader

    def fee_estimator(self, account: str = "") -> EstimatesFees:
        estimator: EstimatesFees = self._adapter(
            self.spec.estimate_fees, "estimate fees", account=account
        )
        return estimator

    def offer_reader(self) -> ReadsOfferChanges | None:
        if self.spec.offer_changes is None:
            return None
        reader: ReadsOfferChanges = load(self.spec.offer_changes)()
        return reader

    def offer_sink(self) -> OfferSink | None:
        """Where competing offers this channel delivers go: the repricer, with the price book
        (and its guard, read only when an offer notification arrives) and the catalog."""
        if self.spec.offer_changes is None:
            return None
        from shared.services.pricing import pricing_of
        from shared.services.repricer import reprice_on

        rt, spec = self.runtime, self.spec
        return lambda key, seller, change: reprice_on(
            pricing_of(rt.prices, rt.catalog.listings_for, now=rt.clock),
            rt.catalog.find_sku,
            spec,
            key,
            seller,
            change,
        )

    def listing_sink(self) -> ListingSink | None:
        """Where news of a listing changed on the channel goes: that listing read again and
        compared with Keel's values, repaired on the channel's sync queue (no subscription
        check, no poll, no drift log: those are the scheduled run's)."""
        if self.spec.read_listings is None or not self.spec.publishes_stock:
            return None
        from shared.services.order_intake import Checked
        from shared.services.reconcile import Reconciler, check_listing
        from shared.stores.drift import DriftStore
        from shared.trigger_outbox import RepairTriggers

        rt = self.runtime
        reconciler = Reconciler(
            self.access(),
            rt.catalog,
            rt.catalog,
            rt.inventory,
            rt.prices,
            DriftStore(rt.catalog_table_name, rt.aws("dynamodb")),
            RepairTriggers(rt.sync_queue_url(self.name)),
            rt.clock,
        )

        def check(key: str, change: ListingChanged) -> Checked:
            found = check_listing(reconciler, rt.catalog, key, change)
            return Checked(found.said, len(found.drift), found.repaired)

        return check

    def stock_publisher(self, fresh: bool = False, account: str = "") -> SetsStock:
        publisher: SetsStock = self._adapter(
            self.spec.outbound_stock, "publish stock", fresh, account
        )
        return publisher

    def listing_reader(self, account: str = "") -> ReadsListings:
        reader: ReadsListings = self._adapter(
            self.spec.read_listings, "read its listings", account=account
        )
        return reader

    def subscription_manager(self, account: str = "") -> ManagesSubscriptions:
        manager: ManagesSubscriptions = self._adapter(
            self.spec.manage_subscriptions, "register subscriptions", account=account
        )
        return manager

    def access(self) -> ChannelAccess:
        """What onboarding and reconciliation need of this channel: every (account,
        marketplace) Keel lists in, and each account's reader and subscription manager."""
        from shared.services.onboarding import ChannelAccess

        places = tuple(
            (key, marketplace)
            for key in self.accounts()
            for marketplace in (self.marketplaces(key) or ("",))
        )
        return ChannelAccess(self.spec, places, self.listing_reader, self.subscription_manager)

    def reconciler(self) -> Reconciler:
        """Reconciliation of this channel (shared/services/reconcile.py): its readers and
        subscription managers, the stores, repairs on its sync queue, its poll per account."""
        from shared.services.order_intake import account
        from shared.services.poll import poll_shop
        from shared.services.reconcile import Reconciler
        from shared.settings import ReconcileSettings
        from shared.stores.drift import DriftStore
        from shared.trigger_outbox import RepairTriggers

        rt = self.runtime
        queue = rt.sync_queue_url(self.name) if self.spec.publishes_stock else ""

        def poll(key: str) -> list[str]:
            return poll_shop(self, account(self, key), rt.intake).missed_by_webhooks

        addresses = rt.settings(ReconcileSettings).keel_delivery_addresses
        return Reconciler(
            self.access(),
            rt.catalog,
            rt.catalog,
            rt.inventory,
            rt.prices,
            DriftStore(rt.catalog_table_name, rt.aws("dynamodb")),
            RepairTriggers(queue),
            rt.clock,
            address=addresses.get(self.name),
            poll=poll if self.can("poll_orders") else None,
        )

    def price_publisher(self, account: str = "") -> SetsPrices:
        publisher: SetsPrices = self._adapter(
            self.spec.outbound_prices, "publish prices", account=account
        )
        return publisher

    def stock_accounts(self) -> tuple[StockAccount, ...]:
        """Every account stock is published to, with the marketplaces whose listings share its
        quantity (one account and no secret read when the channel has one account only and
        names no marketplaces)."""
        from shared.services.stock_outbound import StockAccount

        if len(self.runtime.secret_names(self.name)) == 1 and not self.spec.marketplace_fields:
            return (StockAccount(),)
        return tuple(StockAccount(key, self.marketplaces(key)) for key in self.accounts())

    def order_fetcher(self, account: str = "") -> FetchesOrder:
        fetcher: FetchesOrder = self._adapter(
            self.spec.fetch_order, "fetch an order", account=account
        )
        return fetcher

    def poller(self, account: str = "") -> FetchesOrders:
        poller: FetchesOrders = self._adapter(
            self.spec.poll_orders, "list changed orders", account=account
        )
        return poller

    def shipment_confirmer(self, account: str = "") -> ConfirmsShipments:
        confirmer: ConfirmsShipments = self._adapter(
            self.spec.confirm_shipment, "be told of shipments", account=account
        )
        return confirmer

    def line_canceller(self, account: str = "") -> CancelsLines:
        canceller: CancelsLines = self._adapter(
            self.spec.cancel_lines, "cancel lines", account=account
        )
        return canceller

    def cancellation_acceptor(self, account: str = "") -> AcceptsCancellations:
        acceptor: AcceptsCancellations = self._adapter(
            self.spec.accept_cancellation, "accept cancellation requests", account=account
        )
        return acceptor


_RUNTIMES: dict[tuple[tuple[str, str], ...], Runtime] = {}


def runtime() -> Runtime:
    """This function's runtime, built on first use and kept while the container is warm."""
    key = tuple(sorted((FUNCTION_ENV.get() or {}).items()))
    found = _RUNTIMES.get(key)
    if found is None:
        found = _RUNTIMES[key] = Runtime()
    return found


def reset() -> None:
    """Forget all warm state (runtimes, AWS clients, cached secrets), as a new container would:
    tests start and stop moto, and a new local stack has new endpoints."""
    from shared import secret_cache
    from shared.aws import reset_clients

    for built in _RUNTIMES.values():
        if "http" in vars(built):
            built.http.close()
    _RUNTIMES.clear()
    reset_clients()
    secret_cache.clear()
