"""Functions: exactly the wiring's, on the newest Python runtime, arm64, least privilege."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterable
from typing import Any

import pytest

from infra.compute import check_table_grants
from shared.channels.registry import CHANNELS
from shared.names import (
    env_name_for_bucket,
    env_name_for_dlq,
    env_name_for_queue,
    env_name_for_secret,
    env_name_for_state_machine,
    env_name_for_table,
    notification_queue,
    sync_queue,
)
from shared.wiring import (
    DELIVERY_ADDRESSES_ENV,
    OVERSELL_POLICY_ENV,
    RAW_BODY_RETENTION_ENV,
    WIRING,
    Function,
    HttpRoute,
    QueueTrigger,
    StreamTrigger,
    Table,
    Wiring,
)
from tests.infra.template import Synthesized, Template

pytestmark = pytest.mark.infra

DATA_WRITE_ACTIONS = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                      "dynamodb:BatchWriteItem"}  # fmt: skip


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_functions_are_exactly_those_in_the_wiring(template: Template) -> None:
    assert set(template.functions()) == {f.name for f in WIRING.functions}


def test_every_function_is_arm64_on_the_newest_python_runtime(synthesized: Synthesized) -> None:
    newest = synthesized.facts["newest_python_runtime"]
    for template in synthesized.templates.values():
        for name, logical_id in template.functions().items():
            props = template.props(logical_id)
            assert props["Runtime"] == newest, name
            assert props["Architectures"] == ["arm64"], name


def test_function_settings_come_from_the_wiring(template: Template) -> None:
    (layer,) = template.of_type("AWS::Lambda::LayerVersion")
    for name, logical_id in template.functions().items():
        spec, props = WIRING.function(name), template.props(logical_id)
        assert props["Timeout"] == spec.timeout_s
        assert props["MemorySize"] == spec.memory_mb
        assert props["Layers"] == [{"Ref": layer}]
        assert props["TracingConfig"] == {"Mode": "Active"}


def test_handlers_exist_as_importable_modules_in_the_code_asset(template: Template) -> None:
    for name, logical_id in template.functions().items():
        props = template.props(logical_id)
        module_name, function_name = WIRING.function(name).handler.split(":")
        assert props["Handler"] == f"{module_name}.{function_name}"
        assert callable(getattr(importlib.import_module(module_name), function_name))
        asset = template.asset_dir(props["Code"])
        assert (asset / f"{module_name.replace('.', '/')}.py").is_file(), asset


def test_environment_is_exactly_what_the_wiring_declares(template: Template) -> None:
    tables, queues, secrets = template.tables(), template.queues(), template.secrets()
    buckets = template.buckets()
    config = template.config
    for name, logical_id in template.functions().items():
        spec = WIRING.function(name)
        expected: dict[str, Any] = {
            "POWERTOOLS_SERVICE_NAME": f"keel-{name}",
            "POWERTOOLS_LOG_LEVEL": config.log_level,
            "POWERTOOLS_METRICS_NAMESPACE": "Keel",
            **spec.env,
        }
        for table in (*spec.reads, *spec.writes):
            expected[env_name_for_table(table)] = {"Ref": tables[table]}
        for queue in spec.sends_to:
            expected[env_name_for_queue(queue)] = {"Ref": queues[queue]}
        if isinstance(spec.trigger, QueueTrigger):  # its own queue, for ChangeMessageVisibility
            expected[env_name_for_queue(spec.trigger.queue)] = {"Ref": queues[spec.trigger.queue]}
        for queue in spec.dead_letters_to:
            expected[env_name_for_dlq(queue)] = {"Ref": queues[f"{queue}-dlq"]}
        for secret in (*spec.secrets, *spec.carriers):
            secret_name = config.channel_secret_names[secret]
            assert secret_name in secrets
            expected[env_name_for_secret(secret)] = secret_name
        for bucket in (*spec.reads_objects, *spec.writes_objects):
            expected[env_name_for_bucket(bucket)] = {"Ref": buckets[bucket]}
        for machine in spec.starts:  # by name (not a reference: see infra.naming)
            arn = [
                f"arn:aws:states:{config.region}:",
                template.account_token(),
                f":stateMachine:{config.resource_prefix}-{machine}",
            ]
            expected[env_name_for_state_machine(machine)] = (
                "".join(arn) if config.account else {"Fn::Join": ["", arn]}
            )
        if spec.keeps_raw_bodies:  # held deliveries expire after the environment's days
            expected[RAW_BODY_RETENTION_ENV] = str(config.raw_body_retention_days)
        if spec.follows_oversell_policy:  # the environment's policy per channel, as JSON
            expected[OVERSELL_POLICY_ENV] = json.dumps(dict(config.oversell_policy), sort_keys=True)
        found = template.props(logical_id)["Environment"]["Variables"]
        if spec.knows_delivery_addresses:  # tokens of the API and queues: checked below
            expected[DELIVERY_ADDRESSES_ENV] = found.get(DELIVERY_ADDRESSES_ENV)
        assert found == expected, name


def test_reconciliation_knows_where_each_channel_must_deliver(template: Template) -> None:
    """The webhook URL of each webhook channel (the API's), the notification queue's ARN of
    each channel that delivers to a queue: what subscriptions are checked against."""
    functions, queues = template.functions(), template.queues()
    for channel in (c for c in CHANNELS if c.read_listings):
        env = template.props(functions[f"reconcile-{channel.name}"])["Environment"]["Variables"]
        joined = env[DELIVERY_ADDRESSES_ENV]["Fn::Join"][1]
        text = json.dumps(joined)
        for other in CHANNELS:
            if other.queue_receiver is not None:
                arn = {"Fn::GetAtt": [queues[notification_queue(other.name)], "Arn"]}
                assert arn in joined, other.name
            elif other.receiver is not None:
                assert f"/webhooks/{other.name}" in text, other.name


def test_sync_knows_its_own_queue_and_the_webhook_its_bucket(template: Template) -> None:
    """Spelled out: each channel's sync changes its messages' visibility for Retry-After and
    learns its channel from KEEL_CHANNEL; the webhook puts bodies too large to travel inline."""
    functions, queues = template.functions(), template.queues()
    for channel in (c.name for c in CHANNELS if c.publishes_stock):
        name = sync_queue(channel)
        sync = template.props(functions[name])["Environment"]["Variables"]
        assert sync[env_name_for_queue(name)] == {"Ref": queues[name]}
        assert sync[env_name_for_dlq(name)] == {"Ref": queues[f"{name}-dlq"]}
        assert sync["KEEL_CHANNEL"] == channel
    webhook = template.props(functions["webhook"])["Environment"]["Variables"]
    assert webhook["RAW_BODIES_BUCKET"] == {"Ref": template.buckets()["raw-bodies"]}


def _statements(template: Template, function_logical_id: str) -> Iterable[dict[str, Any]]:
    role = template.target(template.props(function_logical_id)["Role"])
    for policy in template.of_type("AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            yield from policy["Properties"]["PolicyDocument"]["Statement"]


def test_each_role_reaches_only_the_resources_its_wiring_entry_names(template: Template) -> None:
    tables, queues, secrets = template.tables(), template.queues(), template.secrets()
    buckets = template.buckets()
    by_id = {v: k for k, v in {**tables, **queues, **secrets, **buckets}.items()}
    for name, logical_id in template.functions().items():
        spec = WIRING.function(name)
        readable = {tables[t] for t in (*spec.reads, *spec.writes)}
        writable = {tables[t] for t in spec.writes}
        sendable = {queues[q] for q in spec.sends_to} | {
            queues[f"{q}-dlq"] for q in spec.dead_letters_to
        }
        consumable: set[str] = set()
        if isinstance(spec.trigger, QueueTrigger):
            consumable.add(queues[spec.trigger.queue])
        if isinstance(spec.trigger, StreamTrigger):
            sendable.add(queues[f"{name}-stream-failures"])
            readable.add(tables[spec.trigger.table])  # its stream
        secret_ids = {
            secrets[template.config.channel_secret_names[s]]
            for s in (*spec.secrets, *spec.carriers)
        }

        expected_objects = {("s3:GetObject", buckets[b]) for b in spec.reads_objects} | {
            ("s3:PutObject", buckets[b]) for b in spec.writes_objects
        }
        granted_objects: set[tuple[str, str]] = set()
        answers = {"states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"}

        for statement in _statements(template, logical_id):
            actions = set(_as_list(statement["Action"]))
            targets = template.referenced(statement["Resource"]) & set(by_id)
            services = {a.split(":")[0] for a in actions}
            if "dynamodb" in services:
                assert targets <= readable, (name, [by_id[t] for t in targets - readable])
                if actions & DATA_WRITE_ACTIONS:
                    assert targets <= writable, (name, [by_id[t] for t in targets - writable])
            if "sqs:SendMessage" in actions:
                assert targets <= sendable, (name, [by_id[t] for t in targets - sendable])
            if "sqs:ReceiveMessage" in actions:
                assert targets <= consumable, (name, [by_id[t] for t in targets])
            if "secretsmanager" in services:
                assert targets <= secret_ids, (name, [by_id[t] for t in targets])
                assert actions <= {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
            if "states" in services:
                allowed = ({"states:StartExecution"} if spec.starts else set()) | (
                    answers if spec.answers else set()
                )
                assert actions <= allowed, (name, actions)
                machines = {*spec.starts, *spec.answers}
                arns = {template.text(r) for r in _as_list(statement["Resource"])}
                prefix = template.config.resource_prefix
                assert all(
                    any(f":stateMachine:{prefix}-{m}" in arn for m in machines) for arn in arns
                ), arns
            if "s3" in services:
                assert services == {"s3"}, (name, actions)
                for resource in _as_list(statement["Resource"]):
                    bucket = template.objects_of(resource)  # objects only, never the bucket
                    assert bucket is not None, (name, resource)
                    granted_objects |= {(action, bucket) for action in actions}
        assert granted_objects == expected_objects, name


def test_the_webhook_may_only_put_objects(template: Template) -> None:
    """Spelled out: it puts bodies too large to travel inline, and never reads one back."""
    granted = {
        (action, template.objects_of(resource))
        for statement in _statements(template, template.functions()["webhook"])
        for action in _as_list(statement["Action"])
        if action.startswith("s3:")
        for resource in _as_list(statement["Resource"])
    }
    assert granted == {("s3:PutObject", template.buckets()["raw-bodies"])}


def _table_actions(template: Template, function: str, table: str) -> set[str]:
    table_id = template.tables()[table]
    return {
        action
        for statement in _statements(template, template.functions()[function])
        if table_id in template.referenced(statement["Resource"])
        for action in _as_list(statement["Action"])
    }


def test_webhook_may_only_get_and_put_deliveries(template: Template) -> None:
    assert WIRING.function("webhook").table_actions == {
        "deliveries": ("dynamodb:GetItem", "dynamodb:PutItem")
    }
    assert _table_actions(template, "webhook", "deliveries") == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
    }


def test_narrowed_table_grants_are_exactly_the_named_actions(template: Template) -> None:
    narrowed = [(f.name, t, a) for f in WIRING.functions for t, a in f.table_actions.items()]
    assert narrowed
    for function, table, actions in narrowed:
        assert _table_actions(template, function, table) == set(actions), (function, table)


def _webhook_with(
    table_actions: dict[str, tuple[str, ...]], writes: tuple[str, ...] = ()
) -> Wiring:
    webhook = WIRING.function("webhook")
    function = Function(
        "webhook",
        webhook.handler,
        HttpRoute("POST", "/x"),
        timeout_s=5,
        writes=writes,
        table_actions=table_actions,
    )
    return Wiring(tables=(Table("deliveries"),), queues=(), functions=(function,), secrets=())


def test_narrowed_table_grants_must_name_a_declared_table() -> None:
    with pytest.raises(ValueError, match="does not declare"):
        check_table_grants(_webhook_with({"deliveries": ("dynamodb:GetItem",)}))


@pytest.mark.parametrize("actions", [(), ("dynamodb:*",), ("s3:GetObject",)])
def test_narrowed_table_grants_must_name_dynamodb_actions(actions: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="named dynamodb: actions"):
        check_table_grants(_webhook_with({"deliveries": actions}, writes=("deliveries",)))


def test_queue_consumers_may_change_visibility_but_not_send_to_their_own_queue(
    template: Template,
) -> None:
    queues = template.queues()
    for spec in WIRING.functions:
        if not isinstance(spec.trigger, QueueTrigger):
            continue
        own = queues[spec.trigger.queue]
        actions = {
            action
            for statement in _statements(template, template.functions()[spec.name])
            if own in template.referenced(statement["Resource"])
            for action in _as_list(statement["Action"])
        }
        assert "sqs:ChangeMessageVisibility" in actions, spec.name
        if spec.trigger.queue not in spec.sends_to:
            assert "sqs:SendMessage" not in actions, spec.name


def _mapping(template: Template, function_logical_id: str) -> dict[str, Any] | None:
    found = [
        m["Properties"]
        for m in template.of_type("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": function_logical_id}
    ]
    assert len(found) <= 1
    return found[0] if found else None


def test_event_sources_follow_the_wiring_and_report_partial_batch_failures(
    template: Template,
) -> None:
    queues, functions, tables = template.queues(), template.functions(), template.tables()
    for spec in WIRING.functions:
        mapping, trigger = _mapping(template, functions[spec.name]), spec.trigger
        if isinstance(trigger, QueueTrigger):
            assert mapping is not None
            assert template.target(mapping["EventSourceArn"]) == queues[trigger.queue]
            assert mapping["BatchSize"] == trigger.batch_size
            assert mapping.get("MaximumBatchingWindowInSeconds", 0) == trigger.max_batching_window_s
            assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
            scaling = mapping.get("ScalingConfig", {}).get("MaximumConcurrency")
            assert scaling == trigger.max_concurrency, spec.name
        elif isinstance(trigger, StreamTrigger):
            assert mapping is not None
            assert mapping["EventSourceArn"] == {"Fn::GetAtt": [tables[trigger.table], "StreamArn"]}
            assert mapping["BatchSize"] == trigger.batch_size
            assert mapping["StartingPosition"] == trigger.starting_position
            assert mapping["MaximumRetryAttempts"] == trigger.max_retry_attempts
            assert mapping["BisectBatchOnFunctionError"] is True
            assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
            destination = mapping["DestinationConfig"]["OnFailure"]["Destination"]
            assert template.target(destination) == queues[f"{spec.name}-stream-failures"]
            patterns = [
                json.loads(f["Pattern"])
                for f in mapping.get("FilterCriteria", {}).get("Filters", [])
            ]
            assert patterns == list(trigger.filters), spec.name  # what the local stack applies
        else:
            assert mapping is None, spec.name


def test_channel_syncs_run_at_most_two_batches_at_once(template: Template) -> None:
    """Spelled out: each channel's rate budget is two concurrent batches (SyncPolicy)."""
    functions = template.functions()
    for name in ("sync-shopify", "sync-woocommerce"):
        mapping = _mapping(template, functions[name])
        assert mapping is not None
        assert mapping["ScalingConfig"] == {"MaximumConcurrency": 2}, name
    ingest = _mapping(template, functions["ingest"])
    assert ingest is not None and "ScalingConfig" not in ingest
