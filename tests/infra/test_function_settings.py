"""Each function starts with exactly the environment the stack gives it.

The local stack gives every function every variable (one process), so a variable missing from
a function's AWS environment would only show in AWS. This builds each function's environment
the way infra does and runs the function's own settings loading with nothing else set. Loaders
are per handler: one generic handler (sync, relay) serves several functions, each with its own
environment.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from infra.compute import function_environment
from infra.config import CONFIGS
from shared.channels.registry import CHANNELS
from shared.names import sync_queue
from shared.runtime import Runtime
from shared.settings import (
    CompetitorSettings,
    IngestSettings,
    OversellSettings,
    QueueUrls,
    ReconcileSettings,
    RelaySettings,
    SecretName,
    WorkflowSettings,
    env_prefix,
)
from shared.wiring import OVERSELL_POLICY_ENV, RAW_BODY_RETENTION_ENV, WIRING, Function

PUBLISHING = {c.name for c in CHANNELS if c.publishes_stock}


def _secret_names(spec: Function) -> dict[str, str]:
    """What the handlers read per channel: `<CHANNEL>_SECRET_NAME` through `SecretName`."""
    return {
        channel: Runtime().settings(SecretName, env_prefix(channel)).secret_name
        for channel in spec.secrets
    }


def _webhook(spec: Function) -> None:
    from functions.webhook import handler

    handler._door.cache_clear()
    try:
        assert handler._door().deliveries_table == "t-deliveries"
    finally:
        handler._door.cache_clear()
    assert _secret_names(spec) == {c: f"keel/prod/{c}" for c in spec.secrets}


def _queue_delivery(spec: Function) -> None:
    """A queue-delivering channel's consumer: the deliveries table, the ingest queue, the
    raw-bodies bucket (its channel is the queue it reads, named in each record)."""
    from functions.queue_delivery import handler

    handler._door.cache_clear()
    try:
        door = handler._door()
        assert door.deliveries_table == "t-deliveries"
        assert door.ingest_queue_url == "https://sqs/ingest"
        assert door.raw_bodies_bucket == "b-raw-bodies"
    finally:
        handler._door.cache_clear()


def _ingest(spec: Function) -> None:
    settings = Runtime().settings(IngestSettings)
    assert settings.orders_table == "t-orders"
    assert settings.raw_body_retention_days == CONFIGS["prod"].raw_body_retention_days
    assert _secret_names(spec) == {c: f"keel/prod/{c}" for c in spec.secrets}


def _relay(spec: Function) -> None:
    """relay, relay-catalog and resync: the catalog, and a sync queue per publishing channel."""
    settings = Runtime().settings(RelaySettings)
    assert settings.catalog_table == "t-catalog"
    assert Runtime().sync_queue_urls() == {c: f"https://sqs/{sync_queue(c)}" for c in PUBLISHING}


def _sync(spec: Function) -> None:
    """The generic sync: its channel from KEEL_CHANNEL, then that channel's prefixed names."""
    settings = Runtime().config
    assert (settings.catalog_table, settings.inventory_table) == ("t-catalog", "t-inventory")
    channel = Runtime().channel_name()
    assert spec.name == sync_queue(channel) and channel in PUBLISHING
    queues = Runtime().settings(QueueUrls, env_prefix(sync_queue(channel)))
    assert queues.queue_url == f"https://sqs/{sync_queue(channel)}"
    assert queues.dlq_url == f"https://sqs/{sync_queue(channel)}-dlq"  # permanent failures
    assert _secret_names(spec) == {channel: f"keel/prod/{channel}"}


def _release_held(spec: Function) -> None:
    settings = Runtime().config
    assert (settings.orders_table, settings.inventory_table) == ("t-orders", "t-inventory")
    assert settings.catalog_table == "t-catalog"


def _inventory_relay(spec: Function) -> None:
    """The inventory relay also wakes orders waiting for stock."""
    _relay(spec)
    settings = Runtime().settings(RelaySettings)
    assert settings.inventory_table == "t-inventory"
    assert settings.held_orders_queue_url == "https://sqs/held-orders"


def _poll(spec: Function) -> None:
    _poll_of(spec, "poll")


def _poll_of(spec: Function, kind: str) -> None:
    _release_held(spec)
    channel = Runtime().channel_name()
    assert spec.name == f"{kind}-{channel}"
    assert _secret_names(spec) == {channel: f"keel/prod/{channel}"}


def _carriers(spec: Function) -> None:
    assert {
        c: Runtime().settings(SecretName, env_prefix(c)).secret_name for c in spec.carriers
    } == {c: f"keel/prod/{c}" for c in spec.carriers}


def _workflow_task(spec: Function) -> None:
    """Task functions: the orders table; commit also the inventory; ship and compensate the
    carrier's secret; confirm the channels'."""
    settings = Runtime().settings(WorkflowSettings)
    assert settings.orders_table == "t-orders"
    assert settings.inventory_table == ("t-inventory" if "inventory" in spec.writes else None)
    _carriers(spec)
    assert _secret_names(spec) == {c: f"keel/prod/{c}" for c in spec.secrets}


def _start_workflow(spec: Function) -> None:
    settings = Runtime().settings(WorkflowSettings)
    assert settings.orders_table == "t-orders"
    assert settings.order_workflow_arn == "arn:states:order-workflow"


def _oversell(spec: Function) -> None:
    settings = Runtime().settings(OversellSettings)
    assert (settings.orders_table, settings.inventory_table) == ("t-orders", "t-inventory")
    assert dict(settings.oversell_policy) == dict(CONFIGS["prod"].oversell_policy)
    assert _secret_names(spec) == {
        c.name: f"keel/prod/{c.name}" for c in CHANNELS if c.cancel_lines
    }


def _carrier_webhook(spec: Function) -> None:
    assert WorkflowSettings().orders_table == "t-orders"  # type: ignore[call-arg]
    _carriers(spec)


def _prices(spec: Function) -> None:
    """The sale schedule: the price book on the catalog table."""
    settings = Runtime().config
    assert settings.catalog_table == "t-catalog"
    assert Runtime().prices is not None


def _competitors(spec: Function) -> None:
    """The competitors schedule: the price book, and the secrets of the channels it reads."""
    _prices(spec)
    assert Runtime().settings(CompetitorSettings).competitor_reads_per_run == 200
    assert _secret_names(spec) == {
        c.name: f"keel/prod/{c.name}" for c in CHANNELS if c.read_competition
    }


def _reconcile(spec: Function) -> None:
    """A poll's stores and secret, its channel's sync queue (repairs), the drift log (the
    catalog table) and where deliveries must arrive (set by the stack, after the API)."""
    _poll_of(spec, "reconcile")
    runtime = Runtime()
    assert runtime.catalog_table_name == "t-catalog"
    channel = runtime.channel_name()
    if channel in PUBLISHING:
        assert runtime.sync_queue_url(channel) == f"https://sqs/{sync_queue(channel)}"
    assert spec.knows_delivery_addresses
    assert runtime.settings(ReconcileSettings).keel_delivery_addresses == {}  # until the API


def _books(spec: Function) -> None:
    settings = Runtime().config
    assert (settings.orders_table, settings.inventory_table) == ("t-orders", "t-inventory")


LOADERS: dict[str, Callable[[Function], None]] = {
    "functions.start_workflow.handler:handler": _start_workflow,
    "functions.carrier_webhook.handler:handler": _carrier_webhook,
    **{
        f.handler: _workflow_task
        for f in WIRING.functions
        if f.handler.startswith("functions.workflow.")
    },
    "functions.webhook.handler:handler": _webhook,
    "functions.queue_delivery.handler:handler": _queue_delivery,
    "functions.ingest.handler:handler": _ingest,
    "functions.relay.handler:handler": _relay,
    "functions.resync.handler:handler": _relay,
    "functions.sync.handler:handler": _sync,
    "functions.release_held.handler:handler": _release_held,
    "functions.poll.handler:handler": _poll,
    "functions.oversell.handler:handler": _oversell,
    "functions.prices.handler:handler": _prices,
    "functions.competitors.handler:handler": _competitors,
    "functions.reconcile.handler:handler": _reconcile,
    "functions.reconcile.books:handler": _books,
}


def test_every_handler_has_a_settings_loader() -> None:
    assert set(LOADERS) == {f.handler for f in WIRING.functions}


def test_a_sync_function_runs_for_every_publishing_channel() -> None:
    syncs = {
        f.env.get("KEEL_CHANNEL")
        for f in WIRING.functions
        if f.handler == "functions.sync.handler:handler"
    }
    assert syncs == PUBLISHING


@pytest.mark.parametrize("name", sorted(f.name for f in WIRING.functions))
def test_settings_load_from_the_stack_environment_alone(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = WIRING.function(name)
    env = function_environment(
        spec,
        CONFIGS["prod"],
        table_names={t.name: f"t-{t.name}" for t in WIRING.tables},
        queue_urls={q.name: f"https://sqs/{q.name}" for q in WIRING.queues},
        dlq_urls={q.name: f"https://sqs/{q.name}-dlq" for q in WIRING.queues},
        secret_names={s: f"keel/prod/{s}" for s in (*WIRING.secrets, *WIRING.carriers)},
        bucket_names={b.name: f"b-{b.name}" for b in WIRING.buckets},
        state_machine_arns={m.name: f"arn:states:{m.name}" for m in WIRING.state_machines},
    )
    for key in list(os.environ):
        if key.endswith(
            ("_TABLE", "_QUEUE_URL", "_DLQ_URL", "_SECRET_NAME", "_BUCKET", "_ARN")
        ) or (key in ("KEEL_CHANNEL", RAW_BODY_RETENTION_ENV, OVERSELL_POLICY_ENV)):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    if spec.name == "relay":
        _inventory_relay(spec)
    LOADERS[spec.handler](spec)


def test_the_configured_carrier_reaches_exactly_the_functions_that_reach_carriers() -> None:
    from dataclasses import replace

    from shared.carriers.registry import CARRIERS
    from shared.wiring import CARRIER_ENV

    configured = replace(CONFIGS["prod"], carrier=CARRIERS[0])
    told = set()
    for spec in WIRING.functions:
        env = function_environment(
            spec,
            configured,
            table_names={t.name: f"t-{t.name}" for t in WIRING.tables},
            queue_urls={q.name: f"https://sqs/{q.name}" for q in WIRING.queues},
            dlq_urls={q.name: f"https://sqs/{q.name}-dlq" for q in WIRING.queues},
            secret_names={s: f"keel/prod/{s}" for s in (*WIRING.secrets, *WIRING.carriers)},
            bucket_names={b.name: f"b-{b.name}" for b in WIRING.buckets},
            state_machine_arns={m.name: f"arn:states:{m.name}" for m in WIRING.state_machines},
        )
        if CARRIER_ENV in env:
            assert env[CARRIER_ENV] == CARRIERS[0]
            told.add(spec.name)
    assert told == {f.name for f in WIRING.functions if f.carriers}
    with pytest.raises(ValueError, match="not a registered carrier"):
        replace(CONFIGS["prod"], carrier="dhl")
