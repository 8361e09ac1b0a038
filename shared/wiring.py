"""Keel's wiring, declared once: which function runs on which trigger, with which resources.

Plain data read by both the CDK stack (`infra/`) and the embedded local stack (`local_stack/`), so
what runs on a laptop is what runs in AWS. Nothing here imports AWS libraries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

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


@dataclass(frozen=True)
class Queue:
    name: str
    visibility_timeout_s: int
    max_receive_count: int
    dlq_retention_days: int = 14


@dataclass(frozen=True)
class HttpRoute:
    method: str
    path: str  # API Gateway resource path, e.g. /webhooks/{channel}


@dataclass(frozen=True)
class QueueTrigger:
    queue: str
    batch_size: int
    max_batching_window_s: int = 0


@dataclass(frozen=True)
class StreamTrigger:
    table: str
    batch_size: int
    starting_position: Literal["TRIM_HORIZON", "LATEST"] = "TRIM_HORIZON"
    max_retry_attempts: int = 5


Trigger = HttpRoute | QueueTrigger | StreamTrigger


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


@dataclass(frozen=True)
class Wiring:
    tables: tuple[Table, ...]
    queues: tuple[Queue, ...]
    functions: tuple[Function, ...]
    secrets: tuple[str, ...]
    buckets: tuple[Bucket, ...] = ()

    def table(self, name: str) -> Table:
        return next(t for t in self.tables if t.name == name)

    def queue(self, name: str) -> Queue:
        return next(q for q in self.queues if q.name == name)

    def function(self, name: str) -> Function:
        return next(f for f in self.functions if f.name == name)

    def bucket(self, name: str) -> Bucket:
        return next(b for b in self.buckets if b.name == name)


SYNC_CHANNELS = ("woocommerce",)
"""Channels Keel publishes stock to; each has a `sync-<channel>` queue and function."""

WIRING = Wiring(
    tables=(
        Table("catalog"),
        Table("inventory", stream="NEW_AND_OLD_IMAGES"),
        Table("orders"),
        Table("deliveries", partition_key="pk", sort_key=None, ttl_attribute="expires_at"),
    ),
    queues=(
        # Visibility timeout is >= 6x the consumer's timeout (AWS guidance for Lambda consumers).
        Queue("ingest", visibility_timeout_s=180, max_receive_count=5),
        Queue("sync-woocommerce", visibility_timeout_s=360, max_receive_count=8),
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
            secrets=("shopify",),
            writes_objects=("raw-bodies",),  # bodies too large to travel inline
        ),
        Function(
            name="ingest",
            handler="functions.ingest.handler:handler",
            trigger=QueueTrigger("ingest", batch_size=10),
            timeout_s=30,
            memory_mb=512,
            reads=("catalog",),
            writes=("inventory", "orders"),
            reads_objects=("raw-bodies",),  # a held delivery keeps the same object
        ),
        Function(
            name="relay",
            handler="functions.relay.handler:handler",
            trigger=StreamTrigger("inventory", batch_size=100),
            timeout_s=30,
            reads=("catalog",),
            sends_to=tuple(f"sync-{channel}" for channel in SYNC_CHANNELS),
        ),
        Function(
            name="sync-woocommerce",
            handler="functions.sync_woocommerce.handler:handler",
            trigger=QueueTrigger("sync-woocommerce", batch_size=50, max_batching_window_s=2),
            timeout_s=60,
            reads=("catalog", "inventory"),
            dead_letters_to=("sync-woocommerce",),  # permanent failures skip the retries
            secrets=("woocommerce",),
        ),
    ),
    secrets=("shopify", "woocommerce"),
    buckets=(Bucket("raw-bodies"),),
)


def env_name_for_table(name: str) -> str:
    return f"{name.upper().replace('-', '_')}_TABLE"


def env_name_for_queue(name: str) -> str:
    return f"{name.upper().replace('-', '_')}_QUEUE_URL"


def env_name_for_dlq(name: str) -> str:
    return f"{name.upper().replace('-', '_')}_DLQ_URL"


def stream_failure_queue(function_name: str) -> str:
    """Where a stream-triggered function's event source parks batches it gave up on."""
    return f"{function_name}-stream-failures"


def env_name_for_bucket(name: str) -> str:
    return f"{name.upper().replace('-', '_')}_BUCKET"


def env_name_for_secret(name: str) -> str:
    return f"{name.upper().replace('-', '_')}_SECRET_NAME"
