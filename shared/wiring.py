"""Keel's wiring, declared once: which function runs on which trigger, with which resources.

Plain data read by both the CDK stack (`infra/`) and the embedded local stack (`local_stack/`), so
what runs on a laptop is what runs in AWS. Nothing here imports AWS libraries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from shared.carriers.registry import CARRIERS
from shared.channels.registry import CHANNELS
from shared.channels.spec import Channel
from shared.names import INGEST_MAX_RECEIVES, notification_queue, sync_queue
from shared.stream_filters import LISTINGS, ORDERS_HELD, ORDERS_STARTING_OR_ENDING, STOCK_LEVELS
from shared.workflow import DEFINITION, STATE_MACHINE, TASKS

ROOT = Path(__file__).resolve().parent.parent

StreamView = Literal["NEW_IMAGE", "NEW_AND_OLD_IMAGES"]


@dataclass(frozen=True)
class Table:
    name: str  # logical name; env var `<NAME>_TABLE` carries the physical name
    partition_key: str = "pk"
    sort_key: str | None = "sk"
    stream: StreamView | None = None
    ttl_attribute: str | None = None


@dataclass(frozen=True)
class Bucket:
    """Object storage for what does not fit a message or an item (SQS 1 MiB, DynamoDB 400 KB)."""

    name: str  # logical name; env var `<NAME>_BUCKET` carries the physical name
    # Objects are raw channel bodies (personal data: names, addresses, e-mails): they expire
    # after the environment's raw-body retention, as the held deliveries that refer to them do.
    holds_raw_bodies: bool = False


# Days a raw channel body (held delivery, raw-bodies object) is kept: per environment in
# infra/config.py, told to the functions that keep them (`Function.keeps_raw_bodies`).
RAW_BODY_RETENTION_ENV = "RAW_BODY_RETENTION_DAYS"
# Each channel's oversell policy (JSON: channel -> "hold" | "cancel-short-lines"): per
# environment in infra/config.py, told to the functions that follow it.
OVERSELL_POLICY_ENV = "OVERSELL_POLICY"
# The carrier the order workflow books with (infra/config.py `carrier`, LocalConfig.carrier),
# told to the functions that reach carriers; absent: the only carrier registered.
CARRIER_ENV = "KEEL_CARRIER"


@dataclass(frozen=True)
class Queue:
    name: str
    visibility_timeout_s: int
    max_receive_count: int
    dlq_retention_days: int = 14
    # AWS principals outside this stack allowed to send to the queue (its resource policy): an
    # account id ("437568002678") or a service principal ("sns.amazonaws.com").
    senders: tuple[str, ...] = ()
    # What the senders may do: SendMessage only, unless the sender documents more (Amazon's
    # notification service also reads the queue's attributes).
    sender_actions: tuple[str, ...] = ("sqs:SendMessage",)


@dataclass(frozen=True)
class HttpRoute:
    method: str
    path: str  # API Gateway resource path, e.g. /webhooks/{channel}


@dataclass(frozen=True)
class QueueTrigger:
    queue: str
    batch_size: int
    max_batching_window_s: int = 0
    max_concurrency: int | None = None  # concurrent batches (a channel's rate budget); >= 2


@dataclass(frozen=True)
class StreamTrigger:
    table: str
    batch_size: int
    starting_position: Literal["TRIM_HORIZON", "LATEST"] = "TRIM_HORIZON"
    max_retry_attempts: int = 5
    # Lambda event filter patterns (shared/stream_filters.py): a record none matches is
    # dropped by the event source mapping, free, without invoking the function. Empty: all.
    filters: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class ScheduleTrigger:
    """A fixed rate: EventBridge Scheduler in AWS, a scheduler thread locally (fired on demand
    by tests). The function receives `{"schedule": name}`."""

    name: str
    rate_minutes: int
    # A channel whose every account gets its own schedule (its own rate budget and watermark):
    # then the function receives `{"schedule": name, "account_secret": <that account's secret>}`.
    per_account: str | None = None


@dataclass(frozen=True)
class StateMachineTask:
    """Invoked by a state machine's Task state (its ASL names the function by placeholder)."""

    state_machine: str


Trigger = HttpRoute | QueueTrigger | StreamTrigger | ScheduleTrigger | StateMachineTask


@dataclass(frozen=True)
class StateMachine:
    """A Standard state machine whose definition is one ASL file; `tasks` maps each of its
    `${Placeholder}`s to the function that runs that task."""

    name: str
    definition: str  # path of the ASL file, relative to the repo root
    tasks: dict[str, str]


@dataclass(frozen=True)
class Function:
    name: str
    handler: str  # module:function, importable from the repo root
    trigger: Trigger
    timeout_s: int
    memory_mb: int = 256
    reads: tuple[str, ...] = ()  # tables read
    writes: tuple[str, ...] = ()  # tables written (implies read)
    sends_to: tuple[str, ...] = ()  # queues it sends to
    dead_letters_to: tuple[str, ...] = ()  # queues whose DLQ it writes permanent failures to
    secrets: tuple[str, ...] = ()  # channel secret names (logical) it reads
    reads_objects: tuple[str, ...] = ()  # buckets it gets objects from
    writes_objects: tuple[str, ...] = ()  # buckets it puts objects into
    env: dict[str, str] = field(default_factory=dict)
    # Keeps raw channel bodies (held deliveries): told RAW_BODY_RETENTION_ENV, so what it
    # keeps expires with the environment's retention.
    keeps_raw_bodies: bool = False
    # Follows the channels' oversell policy: told OVERSELL_POLICY_ENV.
    follows_oversell_policy: bool = False
    # table -> the only DynamoDB actions allowed on it, narrowing what reads/writes imply, where
    # the function's use of the table is that simple.
    table_actions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    starts: tuple[str, ...] = ()  # state machines it starts executions of
    answers: tuple[str, ...] = ()  # state machines whose task tokens it answers (or beats)
    carriers: tuple[str, ...] = ()  # carrier secrets (logical) it reads
    # Told DELIVERY_ADDRESSES_ENV (where each channel's deliveries must arrive), which only the
    # stack knows once its API and queues exist.
    knows_delivery_addresses: bool = False


# JSON, channel -> the URL its webhooks must reach or the ARN of the queue its notifications
# must reach: what reconciliation checks each channel's subscriptions against.
DELIVERY_ADDRESSES_ENV = "KEEL_DELIVERY_ADDRESSES"
BOOKS_CHECK = "reconcile-books"


@dataclass(frozen=True)
class Wiring:
    tables: tuple[Table, ...]
    queues: tuple[Queue, ...]
    functions: tuple[Function, ...]
    secrets: tuple[str, ...]
    buckets: tuple[Bucket, ...] = ()
    state_machines: tuple[StateMachine, ...] = ()
    carriers: tuple[str, ...] = ()  # carrier accounts (one secret each)

    def table(self, name: str) -> Table:
        return next(t for t in self.tables if t.name == name)

    def queue(self, name: str) -> Queue:
        return next(q for q in self.queues if q.name == name)

    def function(self, name: str) -> Function:
        return next(f for f in self.functions if f.name == name)

    def bucket(self, name: str) -> Bucket:
        return next(b for b in self.buckets if b.name == name)

    def state_machine(self, name: str) -> StateMachine:
        return next(m for m in self.state_machines if m.name == name)


QUEUE_DELIVERY_TIMEOUT_S = 30


def build_wiring(channels: tuple[Channel, ...]) -> Wiring:
    """Keel's resources, with the per-channel ones derived from the channel registry."""
    receiving = tuple(c.name for c in channels if c.receiver is not None)
    queue_receiving = tuple(c for c in channels if c.queue_receiver is not None)
    publishing = tuple(c for c in channels if c.publishes_stock)
    sync_queues = tuple(sync_queue(c.name) for c in publishing)
    return Wiring(
        tables=(
            Table("catalog", stream="NEW_AND_OLD_IMAGES"),
            Table("inventory", stream="NEW_AND_OLD_IMAGES"),
            # The stream starts each accepted order's workflow, and stops it when it ends.
            # Orders never expire (the system of record); held deliveries in it carry
            # `expires_at` (epoch seconds), when their raw body's retention ends.
            Table("orders", stream="NEW_AND_OLD_IMAGES", ttl_attribute="expires_at"),
            Table("deliveries", partition_key="pk", sort_key=None, ttl_attribute="expires_at"),
        ),
        queues=(
            # Visibility timeout is >= 6x the consumer's timeout (AWS guidance for Lambda).
            Queue("ingest", visibility_timeout_s=180, max_receive_count=INGEST_MAX_RECEIVES),
            Queue("held-orders", visibility_timeout_s=180, max_receive_count=5),
            *(
                Queue(
                    notification_queue(c.name),
                    visibility_timeout_s=6 * QUEUE_DELIVERY_TIMEOUT_S,
                    max_receive_count=5,
                    senders=c.queue_receiver.senders,
                    sender_actions=c.queue_receiver.sender_actions,
                )
                for c in queue_receiving
                if c.queue_receiver is not None
            ),
            *(
                Queue(
                    sync_queue(c.name),
                    visibility_timeout_s=6 * c.sync.timeout_s,
                    max_receive_count=c.sync.max_receive_count,
                )
                for c in publishing
            ),
        ),
        functions=(
            Function(
                name="webhook",
                handler="functions.webhook.handler:handler",
                trigger=HttpRoute("POST", "/webhooks/{channel}"),
                timeout_s=5,
                memory_mb=256,
                writes=("deliveries",),
                sends_to=("ingest",),
                secrets=receiving,
                writes_objects=("raw-bodies",),  # bodies too large to travel inline
                table_actions={"deliveries": ("dynamodb:GetItem", "dynamodb:PutItem")},
            ),
            Function(
                name="ingest",
                handler="functions.ingest.handler:handler",
                trigger=QueueTrigger("ingest", batch_size=10),
                timeout_s=30,
                memory_mb=512,
                # catalog: an order held for a line no listing matches waits under that id
                # (CatalogStore.wait_for_listing); the repricer records price decisions.
                writes=("catalog", "inventory", "orders"),
                # A held or cancelled order moves what its channel shows, not Keel's stock.
                sends_to=sync_queues,
                # The shop's currency, to check orders against.
                secrets=(*receiving, *(c.name for c in queue_receiving)),
                reads_objects=("raw-bodies",),  # a held delivery keeps the same object
                keeps_raw_bodies=True,  # held deliveries
                # A delivery that fails on its last receive goes there with its error.
                dead_letters_to=("ingest",),
            ),
            *(
                Function(
                    # A channel that delivers to a queue: each message, deduped on its business
                    # key, goes to ingest as a delivery (the webhook's envelope, same path on).
                    name=notification_queue(c.name),
                    handler="functions.queue_delivery.handler:handler",
                    trigger=QueueTrigger(notification_queue(c.name), batch_size=10),
                    timeout_s=QUEUE_DELIVERY_TIMEOUT_S,
                    writes=("deliveries",),
                    sends_to=("ingest",),
                    writes_objects=("raw-bodies",),  # bodies too large to travel inline
                    env={"KEEL_CHANNEL": c.name},
                    table_actions={"deliveries": ("dynamodb:GetItem", "dynamodb:PutItem")},
                )
                for c in queue_receiving
            ),
            Function(
                name="relay",
                handler="functions.relay.handler:handler",
                trigger=StreamTrigger("inventory", batch_size=100, filters=(STOCK_LEVELS,)),
                timeout_s=30,
                reads=("catalog", "inventory"),  # inventory: which orders wait for stock
                sends_to=(*sync_queues, "held-orders"),
            ),
            Function(
                # Stock arrived: orders held waiting for it are tried again, oldest first.
                name="release-held",
                handler="functions.release_held.handler:handler",
                trigger=QueueTrigger("held-orders", batch_size=10, max_concurrency=2),
                timeout_s=30,
                writes=("catalog", "inventory", "orders"),  # catalog: orders waiting for a listing
            ),
            Function(
                # The same relay on the catalog's stream: a new listing, or new rules for one,
                # changes what the channel must show although no stock moved.
                name="relay-catalog",
                handler="functions.relay.handler:handler",
                trigger=StreamTrigger("catalog", batch_size=100, filters=(LISTINGS,)),
                timeout_s=30,
                reads=("catalog",),
                # A listing that appears wakes orders held for a line nobody could match.
                sends_to=(*sync_queues, "held-orders"),
            ),
            Function(
                # Backstop: every listing is re-published on a schedule, so a lost trigger or a
                # change made by hand in a channel's admin heals within the period.
                name="resync",
                handler="functions.resync.handler:handler",
                trigger=ScheduleTrigger("resync-all-listings", rate_minutes=360),
                timeout_s=120,
                reads=("catalog",),
                sends_to=sync_queues,
            ),
            Function(
                # Sales start and end on time: SKUs with a sale are decided again each minute
                # (a decision changes nothing until a boundary passes).
                name="prices",
                handler="functions.prices.handler:handler",
                trigger=ScheduleTrigger("sales", rate_minutes=1),
                timeout_s=60,
                writes=("catalog",),  # price decisions (the stream publishes them)
            ),
            Function(
                # The repricer's backstop where offer news does not reach Keel (bol): the
                # offers beside each listing that reprices, read every 15 minutes.
                name="competitors",
                handler="functions.competitors.handler:handler",
                trigger=ScheduleTrigger("competitor-offers", rate_minutes=15),
                timeout_s=300,
                writes=("catalog",),
                secrets=tuple(c.name for c in channels if c.read_competition),
            ),
            *(
                Function(
                    # The backstop for webhooks that never arrived (lost, or never retried).
                    name=f"poll-{c.name}",
                    handler="functions.poll.handler:handler",
                    trigger=ScheduleTrigger(
                        f"poll-{c.name}", rate_minutes=c.poll.rate_minutes, per_account=c.name
                    ),
                    timeout_s=300,
                    memory_mb=512,
                    writes=("catalog", "inventory", "orders"),  # catalog: as ingest's
                    secrets=(c.name,),
                    # A held, cancelled or refunded order moves what its channel shows.
                    sends_to=(sync_queue(c.name),) if c.publishes_stock else (),
                    env={"KEEL_CHANNEL": c.name},
                )
                for c in channels
                if c.poll_orders is not None
            ),
            *(
                Function(
                    # Reconciliation: what the channel shows against what Keel derives (drift
                    # repaired through its sync queue), its subscriptions re-armed, its poll run.
                    name=f"reconcile-{c.name}",
                    handler="functions.reconcile.handler:handler",
                    trigger=ScheduleTrigger(
                        f"reconcile-{c.name}", rate_minutes=c.reconcile_minutes
                    ),
                    timeout_s=600,
                    memory_mb=512,
                    # catalog: what the channel shows, the drift left open; the rest: the poll.
                    writes=("catalog", "inventory", "orders"),
                    sends_to=(sync_queue(c.name),) if c.publishes_stock else (),
                    secrets=(c.name,),
                    env={"KEEL_CHANNEL": c.name},
                    knows_delivery_addresses=True,
                )
                for c in channels
                if c.read_listings is not None
            ),
            Function(
                # Keel's own books: levels against reservations and the ledger, orders against
                # their reservations. Reported and alarmed, never corrected.
                name=BOOKS_CHECK,
                handler="functions.reconcile.books:handler",
                trigger=ScheduleTrigger(BOOKS_CHECK, rate_minutes=60),
                timeout_s=300,
                reads=("inventory", "orders"),
            ),
            *_workflow_functions(channels),
            *(
                Function(
                    name=sync_queue(c.name),
                    handler="functions.sync.handler:handler",
                    trigger=QueueTrigger(
                        sync_queue(c.name),
                        batch_size=c.sync.batch_size,
                        max_batching_window_s=c.sync.max_batching_window_s,
                        max_concurrency=c.sync.max_concurrency,
                    ),
                    timeout_s=c.sync.timeout_s,
                    reads=("inventory",),
                    writes=("catalog",),  # what the channel was last seen to show
                    # Its own queue too: delayed checks of writes the channel accepted but has
                    # not applied, and republishes of ones it failed (stock_confirm).
                    sends_to=(sync_queue(c.name),),
                    dead_letters_to=(sync_queue(c.name),),  # permanent failures skip retries
                    secrets=(c.name,),
                    env={"KEEL_CHANNEL": c.name},
                    # The listing and what it was last seen to show (get), recording it (put):
                    # never a listing, a channel-id mapping or stock rewritten by a sync.
                    table_actions={
                        "catalog": ("dynamodb:GetItem", "dynamodb:PutItem"),
                        "inventory": ("dynamodb:GetItem",),
                    },
                )
                for c in publishing
            ),
        ),
        secrets=tuple(c.name for c in channels),
        buckets=(Bucket("raw-bodies", holds_raw_bodies=True),),
        state_machines=(StateMachine(STATE_MACHINE, str(DEFINITION.relative_to(ROOT)), TASKS),),
        carriers=CARRIERS,
    )


def _workflow_functions(channels: tuple[Channel, ...]) -> tuple[Function, ...]:
    """The order workflow's task functions, its starter (the orders stream) and the carriers'
    webhook (which resumes it when the carrier takes the parcel)."""
    task = StateMachineTask(STATE_MACHINE)
    confirming = tuple(c.name for c in channels if c.confirm_shipment is not None)
    cutting = tuple(c.name for c in channels if c.cancel_lines is not None)
    return (
        Function(
            # An order held for stock follows its channel's oversell policy: by default it
            # waits; "cancel-short-lines" has the channel cut what Keel cannot supply.
            name="oversell",
            handler="functions.oversell.handler:handler",
            trigger=StreamTrigger("orders", batch_size=10, filters=(ORDERS_HELD,)),
            timeout_s=60,
            reads=("orders", "inventory"),
            secrets=cutting,
            follows_oversell_policy=True,
        ),
        Function(
            name="start-workflow",
            handler="functions.start_workflow.handler:handler",
            trigger=StreamTrigger("orders", batch_size=100, filters=(ORDERS_STARTING_OR_ENDING,)),
            timeout_s=30,
            reads=("orders",),
            starts=(STATE_MACHINE,),
            answers=(STATE_MACHINE,),  # an order cancelled while it waits for the carrier
        ),
        Function(
            name="carrier-webhook",
            handler="functions.carrier_webhook.handler:handler",
            trigger=HttpRoute("POST", "/carriers/{carrier}"),
            timeout_s=10,
            # A parcel taken after its wait was stopped is committed here (inventory).
            writes=("orders", "inventory"),
            answers=(STATE_MACHINE,),
            carriers=CARRIERS,
        ),
        Function(
            # ValidateAndShip: checks the order (orders), then announces its parcel (carrier).
            name=TASKS["ShipFunction"],
            handler="functions.workflow.ship:handler",
            trigger=task,
            timeout_s=30,
            writes=("orders",),  # the parcel, and where a failure stopped (for a redrive)
            carriers=CARRIERS,
        ),
        Function(
            name=TASKS["AwaitCarrierFunction"],
            handler="functions.workflow.await_carrier:handler",
            trigger=task,
            timeout_s=10,
            writes=("orders",),
            answers=(STATE_MACHINE,),  # the carrier was faster than the wait
        ),
        Function(
            # Commit: the goods left: stock off the shelf (inventory), the order shipped, in
            # one transaction.
            name=TASKS["CommitFunction"],
            handler="functions.workflow.commit:handler",
            trigger=task,
            timeout_s=30,
            writes=("orders", "inventory"),
        ),
        Function(
            # Confirm: tells the channel (its secret); remembers it told (orders).
            name=TASKS["ConfirmFunction"],
            handler="functions.workflow.confirm:handler",
            trigger=task,
            timeout_s=60,
            writes=("orders",),
            secrets=confirming,
        ),
        Function(
            # Replan: an order edited after its label: its parcel cancelled at the carrier.
            name=TASKS["ReplanFunction"],
            handler="functions.workflow.replan:handler",
            trigger=task,
            timeout_s=30,
            writes=("orders",),
            carriers=CARRIERS,
        ),
        Function(
            # Compensate: the parcel cancelled; if the carrier has it, the goods are committed.
            name=TASKS["CompensateFunction"],
            handler="functions.workflow.compensate:handler",
            trigger=task,
            timeout_s=30,
            writes=("orders", "inventory"),
            carriers=CARRIERS,
        ),
        Function(
            name=TASKS["RecordFailureFunction"],
            handler="functions.workflow.record_failure:handler",
            trigger=task,
            timeout_s=10,
            writes=("orders",),
        ),
    )


WIRING = build_wiring(CHANNELS)


def stream_failure_queue(function_name: str) -> str:
    """Where a stream-triggered function's event source parks batches it gave up on."""
    return f"{function_name}-stream-failures"


def check_wiring(wiring: Wiring, channels: tuple[Channel, ...]) -> list[str]:
    """What the wiring misses for the registry's channels (a hand-edited or stale wiring):
    the CDK stack and the local stack refuse to build with any (infra/stack.py,
    local_stack/stack.py; the local stack runs check_registry too)."""
    problems: list[str] = []
    names = {f.name for f in wiring.functions}
    queues = {q.name for q in wiring.queues}
    # Every function that triggers syncs must reach every sync queue.
    triggers = [f for f in wiring.functions if f.name in ("relay", "relay-catalog", "resync")]
    webhook_secrets = set(wiring.function("webhook").secrets) if "webhook" in names else set()
    for c in channels:
        if c.name not in wiring.secrets:
            problems.append(f"{c.name}: no secret in the wiring")
        if c.receiver is not None and c.name not in webhook_secrets:
            problems.append(f"{c.name}: the webhook function cannot read its signing secret")
        if c.queue_receiver is not None:
            queue = notification_queue(c.name)
            if queue not in queues or queue not in names:
                problems.append(f"{c.name}: delivers to a queue but has no {queue} queue+function")
        if c.publishes_stock:
            queue = sync_queue(c.name)
            if queue not in queues:
                problems.append(f"{c.name}: publishes stock but has no {queue} queue")
            if queue not in names:
                problems.append(f"{c.name}: publishes stock but has no {queue} function")
            for trigger in triggers:
                if queue not in trigger.sends_to:
                    problems.append(f"{c.name}: {trigger.name} does not send to {queue}")
    for f in wiring.functions:
        if isinstance(f.trigger, QueueTrigger) and f.trigger.queue not in queues:
            problems.append(f"{f.name}: triggered by undeclared queue {f.trigger.queue}")
        mc = f.trigger.max_concurrency if isinstance(f.trigger, QueueTrigger) else None
        if mc is not None and mc < 2:
            problems.append(f"{f.name}: Lambda's SQS maximum concurrency is at least 2")
        for table in f.table_actions:
            if table not in (*f.reads, *f.writes):
                problems.append(f"{f.name}: table_actions names {table}, not in reads/writes")
    return problems
