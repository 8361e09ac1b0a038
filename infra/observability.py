"""Alarms to an SNS topic (e-mail from the config) and one dashboard that follows an order's path.

Alarm on anything that means work stopped or was parked: every DLQ and stream-failure queue
holding a message (schedule DLQs included), a work queue lagging, function errors sustained over
periods (2 of 3, not one retried error), any 5xx at the edge, a burst of refused deliveries (a
rotated secret), held deliveries, orders only the poll found. Each description is a runbook
line naming the `keel --env <env>` command to run. Everything
is enumerated from the wiring-built constructs, so a new channel's queues and functions are
alarmed and graphed without naming them here. Each alarm also reports OK, so the inbox shows
when it cleared. Missing data counts as fine: idle queues emit no datapoints.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.compute import METRICS_NAMESPACE, Deployed
from infra.config import EnvConfig
from infra.naming import construct_id
from infra.queues import Queues, schedule_dlq
from shared.wiring import BOOKS_CHECK, StreamTrigger

DLQ_PERIOD = Duration.minutes(1)
ERROR_PERIOD = Duration.minutes(5)
QUEUE_AGE_S = 900  # a work queue's oldest message: lagging after 15 minutes
API_4XX_BURST = 20  # refused deliveries in 5 minutes: more than a stray forgery
MISSED_ORDERS = 3  # orders an hour only the poll found


def _dlq_runbook(keel: str, name: str, schedule_dlqs: set[str]) -> str:
    """What to do about a DLQ holding a message, by its kind (every description names the
    `keel` command to run)."""
    if name.endswith("-stream-failures"):
        return (
            f"{name}: a batch of stream records failed for good (it names them; it cannot be "
            f"resent). Run: {keel} dlq peek {name}; fix the cause, then {keel} resync --yes."
        )
    if name not in schedule_dlqs:
        return (
            f"{name} holds work that failed for good. Run: {keel} dlq peek {name} (why), fix "
            f"the cause, then {keel} dlq redrive {name} --yes."
        )
    return (
        f"{name}: Scheduler could not invoke its function (throttled, or the function is "
        f"gone); the next run repeats the work. Run: {keel} status."
    )


class Observability(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: EnvConfig,
        queues: Queues,
        functions: Mapping[str, Deployed],
        api: apigw.RestApi,
        state_machines: Mapping[str, sfn.StateMachine],
    ) -> None:
        super().__init__(scope, id)
        prefix = config.resource_prefix
        self.topic = sns.Topic(
            self,
            "AlarmTopic",
            topic_name=f"{prefix}-alarms",
            display_name=f"Keel {config.name} alarms",
            enforce_ssl=True,
        )
        self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        self.alarms: list[cw.Alarm] = []

        keel = f"keel --env {config.name}"
        schedule_dlqs = {schedule_dlq(s) for s in queues.schedule_dlqs}
        self.dlq_alarms: dict[str, cw.Alarm] = {}
        for name, dlq in queues.dead_letter_queues().items():
            self.dlq_alarms[name] = self._alarm(
                f"{construct_id(name)}NotEmpty",
                name=f"{prefix}-{name}-not-empty",
                description=_dlq_runbook(keel, name, schedule_dlqs),
                metric=dlq.metric_approximate_number_of_messages_visible(
                    period=DLQ_PERIOD, statistic="Maximum"
                ),
            )
        for name, pair in queues.pairs.items():
            # Work waiting too long (a channel throttling or down: the sync lags behind stock).
            self._alarm(
                f"{construct_id(name)}Lagging",
                name=f"{prefix}-{name}-lagging",
                description=f"{name}'s oldest message waited over "
                f"{QUEUE_AGE_S // 60} minutes, 3 periods running: its consumer is failing, "
                f"throttled or its channel is down. Run: {keel} status; then {keel} dlq list.",
                metric=pair.queue.metric_approximate_age_of_oldest_message(
                    period=ERROR_PERIOD, statistic="Maximum"
                ),
                threshold=QUEUE_AGE_S,
                periods=(3, 3),
            )
        for name, deployed in functions.items():
            self._alarm(
                f"{construct_id(name)}Throttles",
                name=f"{prefix}-{name}-throttled",
                description=f"Lambda {name} was throttled in 2 of the last 3 five-minute periods "
                "(the account's concurrency, or its own maximum): work waits in its queue. "
                f"Run: {keel} status.",
                metric=deployed.function.metric_throttles(period=ERROR_PERIOD, statistic="Sum"),
                periods=(2, 3),
            )
            if isinstance(deployed.spec.trigger, StreamTrigger):
                self._alarm(
                    f"{construct_id(name)}IteratorAge",
                    name=f"{prefix}-{name}-stream-behind",
                    description=f"{name} reads its table's stream over {QUEUE_AGE_S // 60} "
                    "minutes behind (3 periods running): changes wait, and records older than "
                    f"24 h are lost to it. Run: {keel} status; then {keel} resync --yes once "
                    "it caught up.",
                    metric=deployed.function.metric(
                        "IteratorAge", period=ERROR_PERIOD, statistic="Maximum"
                    ),
                    threshold=QUEUE_AGE_S * 1000,  # milliseconds
                    periods=(3, 3),
                )
            self._alarm(
                f"{construct_id(name)}Errors",
                name=f"{prefix}-{name}-errors",
                description=f"Lambda {name} raised in 2 of the last 3 five-minute periods (one "
                f"retried error does not alarm). Run: {keel} status; its log group "
                f"/aws/lambda/{prefix}-{name} says why.",
                metric=deployed.function.metric_errors(period=ERROR_PERIOD, statistic="Sum"),
                periods=(2, 3),
            )
        self._alarm(
            "Api5xx",
            name=f"{prefix}-api-5xx",
            description="The webhook API answered 5xx: channels will retry, then may disable "
            f"the webhook (an unfilled secret answers 5xx: docs/deploy.md §4). Run: {keel} status.",
            metric=api.metric_server_error(period=ERROR_PERIOD, statistic="Sum"),
        )
        self._alarm(
            "Api4xxBurst",
            name=f"{prefix}-api-4xx-burst",
            description=f"Over {API_4XX_BURST} webhook deliveries refused (4xx) in 5 minutes, "
            "twice running: a rotated channel secret leaves every delivery on 401. Put the new "
            f"one (docs/deploy.md §4), then {keel} poll --yes fetches what was refused.",
            metric=api.metric_client_error(period=ERROR_PERIOD, statistic="Sum"),
            threshold=API_4XX_BURST,
            periods=(2, 2),
        )
        for channel in sorted({c for f in functions.values() for c in f.spec.secrets}):
            if f"poll-{channel}" not in functions:
                continue
            self._alarm(
                f"{construct_id(channel)}MissedByWebhooks",
                name=f"{prefix}-{channel}-orders-missed-by-webhooks",
                description=f"The {channel} poll found {MISSED_ORDERS}+ orders in an hour that "
                "no webhook delivered: the channel's webhook is failing or disabled (check it "
                f"in the shop). Run: {keel} status.",
                metric=cw.Metric(
                    namespace=METRICS_NAMESPACE,
                    metric_name="OrdersMissedByWebhooks",
                    dimensions_map={"service": "keel-poll", "channel": channel},
                    period=Duration.hours(1),
                    statistic="Sum",
                ),
                threshold=MISSED_ORDERS,
            )
        self._reconciliation_alarms(prefix, keel, functions)
        self._alarm(
            "DeliveriesHeld",
            name=f"{prefix}-deliveries-held",
            description="Ingest held a signed delivery it could not take in (unparseable, an "
            f"unknown account): its order waits for a person. Run: {keel} orders list (held "
            f"deliveries); the body is kept {config.raw_body_retention_days} days.",
            metric=cw.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name="DeliveriesHeld",
                dimensions_map={"service": "keel-ingest"},
                period=ERROR_PERIOD,
                statistic="Sum",
            ),
        )
        for name, machine in state_machines.items():
            for what, metric in (
                ("failed", machine.metric_failed(period=ERROR_PERIOD, statistic="Sum")),
                ("timed-out", machine.metric_timed_out(period=ERROR_PERIOD, statistic="Sum")),
                ("aborted", machine.metric_aborted(period=ERROR_PERIOD, statistic="Sum")),
            ):
                self._alarm(
                    f"{construct_id(name)}{construct_id(what)}",
                    name=f"{prefix}-{name}-{what}",
                    description=f"An execution of {name} {what}. Run: {keel} workflows failed, "
                    f"then {keel} workflows show ORDER (the reason); fix it, then "
                    f"{keel} workflows redrive ORDER --yes.",
                    metric=metric,
                )
        self.dashboard = self._dashboard(config, queues, functions, api, state_machines)
        groups = [d.log_group for d in functions.values()]
        logs.QueryDefinition(
            self,
            "FollowOneOrder",
            query_definition_name=f"keel-{config.name}/follow-one-order",
            # Replace ORDER_KEY (channel#account#id, as `keel orders list` shows it).
            query_string=logs.QueryString(
                fields=["@timestamp", "service", "level", "message", "@message"],
                filter_statements=[
                    'correlation_id = "ORDER_KEY" or order = "ORDER_KEY" or order_key = "ORDER_KEY"'
                ],
                sort="@timestamp asc",
            ),
            log_groups=groups,
        )
        logs.QueryDefinition(
            self,
            "WarningsAndErrors",
            query_definition_name=f"keel-{config.name}/warnings-and-errors",
            query_string=logs.QueryString(
                fields=["@timestamp", "service", "level", "message", "correlation_id"],
                filter_statements=['level in ["WARNING", "ERROR", "CRITICAL"]'],
                sort="@timestamp desc",
                limit=200,
            ),
            log_groups=groups,
        )

    def _reconciliation_alarms(
        self, prefix: str, keel: str, functions: Mapping[str, Deployed]
    ) -> None:
        """Drift that survived two reconciliation runs (the repair did not hold: something
        writes the channel behind Keel's back, or the write fails), a subscription the channel
        had disabled or lost (Keel re-armed it: find out why it died), and Keel's own books not
        holding (never corrected by Keel: a person decides which side is wrong)."""
        for name in sorted(functions):
            if not name.startswith("reconcile-") or name == BOOKS_CHECK:
                continue
            channel = name.removeprefix("reconcile-")
            for metric_name, what, description in (
                (
                    "DriftPersisting",
                    "drift-persisting",
                    f"{channel} still shows another quantity or price than Keel derives after "
                    "a repair and a second reconciliation run: something else writes the "
                    f"channel, or Keel's writes fail. Run: {keel} reconcile {channel} --dry-run;"
                    f" then {keel} dlq peek sync-{channel}.",
                ),
                (
                    "SubscriptionsRearmed",
                    "subscriptions-rearmed",
                    f"Reconciliation found a {channel} webhook or notification disabled, "
                    "deleted or pointed elsewhere and re-armed it (its missed orders were "
                    f"polled in). Find out why it died; run: {keel} channels status {channel}.",
                ),
            ):
                self._alarm(
                    f"{construct_id(channel)}{metric_name}",
                    name=f"{prefix}-{channel}-{what}",
                    description=description,
                    metric=cw.Metric(
                        namespace=METRICS_NAMESPACE,
                        metric_name=metric_name,
                        dimensions_map={"service": "keel-reconcile", "channel": channel},
                        period=Duration.hours(1),
                        statistic="Maximum" if metric_name == "DriftPersisting" else "Sum",
                    ),
                )
        if BOOKS_CHECK in functions:
            self._alarm(
                "BooksMismatch",
                name=f"{prefix}-books-mismatch",
                description="Keel's own books do not hold: a level's reserved or on-hand is not "
                "the sum of its reservations or ledger, or an order's reservations do not match "
                f"its lines. Nothing was corrected. Run: {keel} reconcile --dry-run to see which.",
                metric=cw.Metric(
                    namespace=METRICS_NAMESPACE,
                    metric_name="BooksMismatches",
                    dimensions_map={"service": "keel-books"},
                    period=Duration.hours(1),
                    statistic="Maximum",
                ),
            )

    def _alarm(
        self,
        id: str,
        *,
        name: str,
        description: str,
        metric: cw.Metric,
        threshold: float = 1,
        periods: tuple[int, int] = (1, 1),
    ) -> cw.Alarm:
        """`periods`: (M, N), alarm when M of the last N periods breach."""
        alarm = metric.create_alarm(
            self,
            id,
            alarm_name=name,
            alarm_description=description,
            threshold=threshold,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            datapoints_to_alarm=periods[0],
            evaluation_periods=periods[1],
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        action = cw_actions.SnsAction(self.topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        self.alarms.append(alarm)
        return alarm

    def _dashboard(
        self,
        config: EnvConfig,
        queues: Queues,
        functions: Mapping[str, Deployed],
        api: apigw.RestApi,
        state_machines: Mapping[str, sfn.StateMachine],
    ) -> cw.Dashboard:
        """Left to right, top to bottom: edge, queues, parked work, functions, then an order's
        path per channel (orders in, stock out) and the order workflows."""
        minute = Duration.minutes(1)
        fns = {name: d.function for name, d in functions.items()}
        main = {name: pair.queue for name, pair in queues.pairs.items()}
        stream_consumers = {
            name: d.function
            for name, d in functions.items()
            if isinstance(d.spec.trigger, StreamTrigger)
        }

        def graph(title: str, metrics: list[cw.IMetric], width: int = 8) -> cw.GraphWidget:
            return cw.GraphWidget(title=title, left=metrics, width=width, height=6)

        dashboard = cw.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{config.resource_prefix}-flow",
            default_interval=Duration.hours(3),
        )
        dashboard.add_widgets(
            cw.TextWidget(
                markdown=f"# Keel {config.name}\nwebhook API → ingest queue → ingest → "
                "inventory and catalog streams → relays → sync queues → channel syncs; a "
                "schedule's resync also feeds the sync queues. Every alarm names its command: "
                f"`keel --env {config.name} status`, `dlq peek NAME`, `dlq redrive NAME`.",
                width=24,
                height=2,
            )
        )
        dashboard.add_widgets(
            graph(
                "API requests / 4xx / 5xx",
                [
                    api.metric_count(period=minute, statistic="Sum", label="requests"),
                    api.metric_client_error(period=minute, statistic="Sum", label="4xx"),
                    api.metric_server_error(period=minute, statistic="Sum", label="5xx"),
                ],
            ),
            graph("API latency p99 (ms)", [api.metric_latency(period=minute, statistic="p99")]),
            cw.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=8, height=6),
        )
        dashboard.add_widgets(
            graph(
                "Queue depth (visible)",
                [
                    q.metric_approximate_number_of_messages_visible(
                        period=minute, statistic="Maximum", label=name
                    )
                    for name, q in main.items()
                ],
            ),
            graph(
                "Age of oldest message (s)",
                [
                    q.metric_approximate_age_of_oldest_message(
                        period=minute, statistic="Maximum", label=name
                    )
                    for name, q in main.items()
                ],
            ),
            graph(
                "Parked: DLQ depths",
                [
                    q.metric_approximate_number_of_messages_visible(
                        period=minute, statistic="Maximum", label=name
                    )
                    for name, q in queues.dead_letter_queues().items()
                ],
            ),
        )
        dashboard.add_widgets(
            graph(
                "Function errors",
                [f.metric_errors(period=minute, statistic="Sum", label=n) for n, f in fns.items()],
                width=6,
            ),
            graph(
                "Function duration p99 (ms)",
                [
                    f.metric_duration(period=minute, statistic="p99", label=n)
                    for n, f in fns.items()
                ],
                width=6,
            ),
            graph(
                "Function throttles",
                [
                    f.metric_throttles(period=minute, statistic="Sum", label=n)
                    for n, f in fns.items()
                ],
                width=6,
            ),
            graph(
                "Stream iterator age (ms)",
                [
                    cw.Metric(
                        namespace="AWS/Lambda",
                        metric_name="IteratorAge",
                        dimensions_map={"FunctionName": f.function_name},
                        period=minute,
                        statistic="Maximum",
                        label=n,
                    )
                    for n, f in stream_consumers.items()
                ],
                width=6,
            ),
        )
        channels = sorted({c for d in functions.values() for c in d.spec.secrets})

        def keel_metric(name: str, service: str, label: str, **dims: str) -> cw.Metric:
            return cw.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=name,
                dimensions_map={"service": service, **dims},
                period=minute,
                statistic="Sum",
                label=label,
            )

        per_channel: list[cw.IWidget] = []
        for channel in channels:
            sync = main.get(f"sync-{channel}")
            lag = (
                [sync.metric_approximate_age_of_oldest_message(
                    period=minute, statistic="Maximum", label="sync lag (s)")]
                if sync is not None else []
            )  # fmt: skip
            per_channel.append(
                graph(
                    f"{channel}: in and out",
                    [
                        *lag,
                        keel_metric(
                            "StockPublished", "keel-sync", "stock written", channel=channel
                        ),
                        keel_metric(
                            "StockSyncPermanentFailures",
                            "keel-sync",
                            "write failed",
                            channel=channel,
                        ),
                        keel_metric(
                            "StockWritesNotApplied", "keel-sync", "not applied", channel=channel
                        ),
                        keel_metric(
                            "OrdersMissedByWebhooks",
                            "keel-poll",
                            "missed by webhooks",
                            channel=channel,
                        ),
                        keel_metric(
                            "WebhooksFromOtherAccounts",
                            "keel-webhook",
                            "other accounts refused",
                            channel=channel,
                        ),
                    ],
                    width=6,
                )
            )
        dashboard.add_widgets(*per_channel)
        intake: list[cw.IMetric] = [
            keel_metric(name, "keel-ingest", name)
            for name in ("OrdersReserved", "OrdersHeld", "OrdersCancelled", "DeliveriesHeld")
        ]
        outcomes: list[cw.IMetric] = []
        durations: list[cw.IMetric] = []
        for name, machine in state_machines.items():
            outcomes += [
                machine.metric_succeeded(period=minute, statistic="Sum", label=f"{name} ok"),
                machine.metric_failed(period=minute, statistic="Sum", label=f"{name} failed"),
                machine.metric_timed_out(period=minute, statistic="Sum", label=f"{name} timed out"),
            ]
            durations.append(machine.metric_time(period=minute, statistic="p99", label=name))
        dashboard.add_widgets(
            graph("Orders taken in (reserved, held, cancelled; deliveries held)", intake),
            graph("Order workflows: outcomes", outcomes),
            graph("Order workflows: duration p99 (ms)", durations),
        )
        return dashboard
