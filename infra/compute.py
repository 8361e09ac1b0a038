"""The wiring's Lambda functions: one dependency layer, one code asset, one role per function.

Each function's role gets exactly the grants its wiring entry declares (reads, writes, sends_to,
dead_letters_to, secrets, reads_objects, writes_objects) plus what its trigger needs, and its
environment names exactly those resources, with the variable names from
`shared.wiring.env_name_for_*`. A queue-triggered function is also told its own trigger queue's
URL (to change a message's visibility for a channel's Retry-After; the event source's grant
covers that), but may not send to it unless `sends_to` says so.

Grants are as narrow as the declared need: objects are Get-only or Put-only on the bucket's
objects, and a function's `table_actions` narrows a table grant to named actions where its use
of the table is that simple. Queue and stream triggers report partial batch failures, so one bad
record does not retry its whole batch; a queue trigger's `max_concurrency` caps the concurrent
batches (a channel's rate budget). A schedule trigger is an EventBridge Scheduler schedule whose
own role may invoke only that function, with a retry policy and a DLQ (alarmed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import bundling
from infra.channel_secrets import ChannelSecrets
from infra.config import EnvConfig
from infra.nag import acknowledge
from infra.naming import construct_id, lambda_handler, state_machine_arn
from infra.queues import Queues
from infra.storage import Storage
from shared.names import (
    env_name_for_account_secrets,
    env_name_for_bucket,
    env_name_for_dlq,
    env_name_for_queue,
    env_name_for_secret,
    env_name_for_state_machine,
    env_name_for_table,
)
from shared.wiring import (
    CARRIER_ENV,
    OVERSELL_POLICY_ENV,
    RAW_BODY_RETENTION_ENV,
    Function,
    HttpRoute,
    QueueTrigger,
    ScheduleTrigger,
    StateMachineTask,
    StreamTrigger,
    Wiring,
)

# The newest Python runtime aws-cdk-lib offers (cdk-nag L1 and tests/infra check it stays so).
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
METRICS_NAMESPACE = "Keel"

if RUNTIME.name != f"python{bundling.LAMBDA_PYTHON_VERSION}" or ARCHITECTURE.name != "arm64":
    raise RuntimeError("infra.compute RUNTIME/ARCHITECTURE disagree with infra.bundling's target")

RETENTION = {days: getattr(logs.RetentionDays, name) for days, name in (
    (1, "ONE_DAY"), (3, "THREE_DAYS"), (5, "FIVE_DAYS"), (7, "ONE_WEEK"), (14, "TWO_WEEKS"),
    (30, "ONE_MONTH"), (60, "TWO_MONTHS"), (90, "THREE_MONTHS"), (120, "FOUR_MONTHS"),
    (150, "FIVE_MONTHS"), (180, "SIX_MONTHS"), (365, "ONE_YEAR"), (400, "THIRTEEN_MONTHS"),
    (545, "EIGHTEEN_MONTHS"), (731, "TWO_YEARS"), (1827, "FIVE_YEARS"),
)}  # fmt: skip

OBJECT_READ_ACTIONS = ("s3:GetObject",)
OBJECT_WRITE_ACTIONS = ("s3:PutObject",)
# A schedule retries an invocation it could not deliver (throttled, Lambda unavailable) for up to
# an hour, then parks it on its DLQ; the next run is at most one period away anyway.
SCHEDULE_RETRY_ATTEMPTS = 5
SCHEDULE_MAX_EVENT_AGE_S = 3600


def check_table_grants(wiring: Wiring) -> None:
    """Every `table_actions` entry narrows a table its function declares in reads/writes (no
    stale entries), to named DynamoDB actions (no wildcards)."""
    for spec in wiring.functions:
        for table, actions in spec.table_actions.items():
            if table not in (*spec.reads, *spec.writes):
                raise ValueError(
                    f"{spec.name}: table_actions[{table!r}] names a table the function does not "
                    "declare in reads/writes"
                )
            if not actions or any(not a.startswith("dynamodb:") or "*" in a for a in actions):
                raise ValueError(
                    f"{spec.name}: table_actions[{table!r}] must list named dynamodb: actions, "
                    f"got {actions!r}"
                )


def rate_expression(minutes: int) -> str:
    """EventBridge Scheduler's rate syntax (the unit is singular for 1)."""
    if minutes < 1:
        raise ValueError(f"a schedule's rate must be at least 1 minute, got {minutes}")
    return f"rate({minutes} {'minute' if minutes == 1 else 'minutes'})"


@dataclass(frozen=True)
class Deployed:
    spec: Function
    function: lambda_.Function
    role: iam.Role
    log_group: logs.LogGroup


def function_environment(
    spec: Function,
    config: EnvConfig,
    table_names: Mapping[str, str],
    queue_urls: Mapping[str, str],
    dlq_urls: Mapping[str, str],
    secret_names: Mapping[str, str],
    bucket_names: Mapping[str, str],
    state_machine_arns: Mapping[str, str],
    account_secret_names: Mapping[str, list[str]] | None = None,
) -> dict[str, str]:
    """What one function is told, and nothing more: the resources its wiring entry names, its
    own trigger queue, and the raw-body retention if it keeps raw bodies."""
    env = {
        "POWERTOOLS_SERVICE_NAME": f"keel-{spec.name}",
        "POWERTOOLS_LOG_LEVEL": config.log_level,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
    }
    for table in dict.fromkeys(spec.reads + spec.writes):
        env[env_name_for_table(table)] = table_names[table]
    own_queue = (spec.trigger.queue,) if isinstance(spec.trigger, QueueTrigger) else ()
    for queue in dict.fromkeys(spec.sends_to + own_queue):
        env[env_name_for_queue(queue)] = queue_urls[queue]
    for queue in spec.dead_letters_to:
        env[env_name_for_dlq(queue)] = dlq_urls[queue]
    for secret in (*spec.secrets, *spec.carriers):
        env[env_name_for_secret(secret)] = secret_names[secret]
    for secret in spec.secrets:  # a channel's further accounts (config.channel_accounts)
        if more := (account_secret_names or {}).get(secret):
            env[env_name_for_account_secrets(secret)] = json.dumps(more)
    if spec.carriers and config.carrier is not None:
        env[CARRIER_ENV] = config.carrier
    for bucket in dict.fromkeys(spec.reads_objects + spec.writes_objects):
        env[env_name_for_bucket(bucket)] = bucket_names[bucket]
    for machine in spec.starts:
        env[env_name_for_state_machine(machine)] = state_machine_arns[machine]
    if spec.keeps_raw_bodies:
        env[RAW_BODY_RETENTION_ENV] = str(config.raw_body_retention_days)
    if spec.follows_oversell_policy:
        env[OVERSELL_POLICY_ENV] = json.dumps(dict(config.oversell_policy), sort_keys=True)
    env.update(spec.env)
    return env


class Compute(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        wiring: Wiring,
        config: EnvConfig,
        storage: Storage,
        queues: Queues,
        secrets: ChannelSecrets,
    ) -> None:
        super().__init__(scope, id)
        self._config = config
        self._secrets = secrets
        self.layer = lambda_.LayerVersion(
            self,
            "Dependencies",
            code=lambda_.Code.from_asset(str(bundling.dependency_layer())),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="Keel runtime dependencies (pyproject [project] dependencies, "
            "pinned by requirements.lock; boto3/botocore from the runtime)",
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.code = lambda_.Code.from_asset(str(bundling.function_code()))

        check_table_grants(wiring)
        tables, buckets = storage.tables, storage.buckets
        pairs = queues.pairs
        self.functions: dict[str, Deployed] = {}
        for spec in wiring.functions:
            env = function_environment(
                spec,
                config,
                table_names={name: t.table_name for name, t in tables.items()},
                queue_urls={name: p.queue.queue_url for name, p in pairs.items()},
                dlq_urls={name: p.dlq.queue_url for name, p in pairs.items()},
                secret_names=secrets.names,
                account_secret_names=secrets.account_names,
                bucket_names={name: b.bucket_name for name, b in buckets.items()},
                state_machine_arns={
                    m.name: state_machine_arn(self, config.resource_prefix, m.name)
                    for m in wiring.state_machines
                },
            )
            deployed = self._function(spec, env)
            role = deployed.role
            for table in dict.fromkeys(spec.reads + spec.writes):
                if table in spec.table_actions:
                    tables[table].grant(role, *spec.table_actions[table])
                elif table in spec.writes:
                    tables[table].grant_read_write_data(role)
                else:
                    tables[table].grant_read_data(role)
            for queue in spec.sends_to:
                pairs[queue].queue.grant_send_messages(role)
            for queue in spec.dead_letters_to:
                pairs[queue].dlq.grant_send_messages(role)
            for secret in (*spec.secrets, *spec.carriers):
                secrets.secrets[secret].grant_read(role)
            for secret in spec.secrets:
                for further in secrets.account_secrets.get(secret, []):
                    further.grant_read(role)
            for bucket in spec.reads_objects:
                self._grant_objects(deployed, buckets[bucket], OBJECT_READ_ACTIONS)
            for bucket in spec.writes_objects:
                self._grant_objects(deployed, buckets[bucket], OBJECT_WRITE_ACTIONS)
            self._trigger(deployed, storage, queues)
            self.functions[spec.name] = deployed

    def _function(self, spec: Function, env: dict[str, str]) -> Deployed:
        cid = construct_id(spec.name)
        config = self._config
        log_group = logs.LogGroup(
            self,
            f"{cid}Logs",
            retention=RETENTION[config.log_retention_days],
            removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
        )
        # Own role, no AWS managed policy: logs go to this function's log group only.
        role = iam.Role(
            self,
            f"{cid}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Keel {config.name} {spec.name}: least privilege from shared/wiring.py",
        )
        log_group.grant_write(role)
        function = lambda_.Function(
            self,
            cid,
            function_name=f"{config.resource_prefix}-{spec.name}",
            description=f"Keel {spec.name} ({spec.handler})",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=lambda_handler(spec.handler),
            code=self.code,
            layers=[self.layer],
            role=role,
            timeout=Duration.seconds(spec.timeout_s),
            memory_size=spec.memory_mb,
            environment=env,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
        )
        reason = (
            "xray:PutTraceSegments/PutTelemetryRecords (added by Tracing.ACTIVE for the "
            "Powertools Tracer) support no resource-level permissions, so IAM only accepts '*'"
        )
        if isinstance(spec.trigger, StreamTrigger):
            reason += "; dynamodb:ListStreams (stream event source) is likewise '*'-only"
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            reason + ". Every data grant (tables, queues, secrets, objects) names its resource.",
        )
        return Deployed(spec=spec, function=function, role=role, log_group=log_group)

    @staticmethod
    def _grant_objects(deployed: Deployed, bucket: s3.IBucket, actions: tuple[str, ...]) -> None:
        """Object-level actions on the bucket's objects only (`<bucket arn>/*`), nothing on the
        bucket itself: no listing, no deleting, no ACLs. SSE-S3 needs no KMS grant."""
        deployed.role.add_to_principal_policy(
            iam.PolicyStatement(actions=list(actions), resources=[bucket.arn_for_objects("*")])
        )
        cfn_bucket = bucket.node.default_child
        if not isinstance(cfn_bucket, s3.CfnBucket):
            raise TypeError(f"{deployed.spec.name}: expected a bucket defined in this stack")
        logical_id = Stack.of(bucket).get_logical_id(cfn_bucket)
        acknowledge(
            deployed.role,
            f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/*]",
            f"{deployed.spec.name} gets {' and '.join(actions)} on objects of this one bucket: "
            "object keys are per delivery and unknown at deploy time, so the grant names the "
            "bucket's objects (arn/*). No List, Delete or bucket-level action is granted.",
        )

    def _trigger(self, deployed: Deployed, storage: Storage, queues: Queues) -> None:
        trigger = deployed.spec.trigger
        if isinstance(trigger, QueueTrigger):
            deployed.function.add_event_source(
                sources.SqsEventSource(
                    queues.pairs[trigger.queue].queue,
                    batch_size=trigger.batch_size,
                    max_batching_window=(
                        Duration.seconds(trigger.max_batching_window_s)
                        if trigger.max_batching_window_s
                        else None
                    ),
                    report_batch_item_failures=True,
                    max_concurrency=trigger.max_concurrency,
                )
            )
        elif isinstance(trigger, StreamTrigger):
            table = storage.tables[trigger.table]
            if table.table_stream_arn is None:
                raise ValueError(f"{deployed.spec.name}: table {trigger.table!r} has no stream")
            deployed.function.add_event_source(
                sources.DynamoEventSource(
                    table,
                    starting_position=lambda_.StartingPosition[trigger.starting_position],
                    batch_size=trigger.batch_size,
                    retry_attempts=trigger.max_retry_attempts,
                    bisect_batch_on_error=True,
                    report_batch_item_failures=True,
                    on_failure=sources.SqsDlq(queues.stream_failures[deployed.spec.name]),
                    # Records no pattern matches are dropped by the mapping, free.
                    filters=[lambda_.FilterCriteria.filter(p) for p in trigger.filters],
                )
            )
        elif isinstance(trigger, ScheduleTrigger):
            self._schedule(
                deployed, trigger, queues.schedule_dlqs[trigger.name], self._accounts(trigger)
            )
        # HTTP routes are wired by infra.ingress, state machine tasks by infra.workflows.
        elif not isinstance(trigger, (HttpRoute, StateMachineTask)):
            raise TypeError(f"{deployed.spec.name}: unsupported trigger {trigger!r}")

    def _accounts(self, trigger: ScheduleTrigger) -> list[tuple[str, str]]:
        """(label, secret name) of each account a per-account schedule runs for, when its
        channel has further accounts ("" labels the first); [] for one schedule, as ever."""
        channel = trigger.per_account
        if channel is None or not self._secrets.account_names.get(channel):
            return []
        first = ("", self._secrets.names[channel])
        more = zip(
            self._secrets.account_labels[channel], self._secrets.account_names[channel], strict=True
        )
        return [first, *more]

    def _schedule(
        self,
        deployed: Deployed,
        trigger: ScheduleTrigger,
        dlq: sqs.IQueue,
        accounts: list[tuple[str, str]],
    ) -> None:
        """EventBridge Scheduler (L1: the L2 target grants invoke on `<function arn>:*` too).

        Its role trusts only Scheduler acting for this account's default schedule group, may
        invoke only this function (unqualified ARN) and send only to the schedule's DLQ. No
        flexible time window: a resync runs on the period, not somewhere inside it. With
        `accounts`, one schedule per account (the first keeps the schedule's own name), each
        naming its account's secret: each account's poll has its own budget and watermark.
        """
        stack = Stack.of(self)
        cid = construct_id(trigger.name)
        role = iam.Role(
            self,
            f"{cid}ScheduleRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnEquals": {
                        "aws:SourceArn": stack.format_arn(
                            service="scheduler",
                            resource="schedule-group",
                            resource_name="default",
                        )
                    },
                },
            ),
            description=f"Keel {self._config.name}: schedule {trigger.name} invokes "
            f"{deployed.spec.name} and nothing else",
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[deployed.function.function_arn]
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[dlq.queue_arn])
        )
        for label, secret_name in accounts or [("", "")]:
            event = {
                "schedule": trigger.name,
                **({"account_secret": secret_name} if accounts else {}),
            }
            suffix = f"-{label}" if label else ""
            schedule = scheduler.CfnSchedule(
                self,
                f"{cid}{construct_id(label) + 'Account' if label else ''}Schedule",
                name=f"{self._config.resource_prefix}-{trigger.name}{suffix}",
                description=f"Keel {self._config.name}: {deployed.spec.name} every "
                f"{trigger.rate_minutes} minutes"
                + (f" for account {label or 'first'}" if accounts else ""),
                schedule_expression=rate_expression(trigger.rate_minutes),
                flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
                state="ENABLED",
                target=scheduler.CfnSchedule.TargetProperty(
                    arn=deployed.function.function_arn,
                    role_arn=role.role_arn,
                    input=json.dumps(event),
                    retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                        maximum_retry_attempts=SCHEDULE_RETRY_ATTEMPTS,
                        maximum_event_age_in_seconds=SCHEDULE_MAX_EVENT_AGE_S,
                    ),
                    dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(
                        arn=dlq.queue_arn
                    ),
                ),
            )
            # The policy must exist before Scheduler first assumes the role to invoke.
            schedule.node.add_dependency(role)
