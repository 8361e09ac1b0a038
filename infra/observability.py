"""Alarms to an SNS topic (e-mail from the config) and one dashboard that follows an order's path.

Alarm on anything that means work stopped or was parked: every DLQ and stream-failure queue
holding a message (schedule DLQs included), any function error, any 5xx at the edge. Everything
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
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.compute import Deployed
from infra.config import EnvConfig
from infra.naming import construct_id
from infra.queues import Queues
from shared.wiring import StreamTrigger

DLQ_PERIOD = Duration.minutes(1)
ERROR_PERIOD = Duration.minutes(5)


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

        self.dlq_alarms: dict[str, cw.Alarm] = {}
        for name, dlq in queues.dead_letter_queues().items():
            self.dlq_alarms[name] = self._alarm(
                f"{construct_id(name)}NotEmpty",
                name=f"{prefix}-{name}-not-empty",
                description=f"{name} holds parked work: inspect and fix; docs/deploy.md "
                "(Operating) says whether to redrive it or re-trigger the work.",
                metric=dlq.metric_approximate_number_of_messages_visible(
                    period=DLQ_PERIOD, statistic="Maximum"
                ),
            )
        for name, deployed in functions.items():
            self._alarm(
                f"{construct_id(name)}Errors",
                name=f"{prefix}-{name}-errors",
                description=f"Lambda {name} raised (whole invocation failed).",
                metric=deployed.function.metric_errors(period=ERROR_PERIOD, statistic="Sum"),
            )
        self._alarm(
            "Api5xx",
            name=f"{prefix}-api-5xx",
            description="The webhook API answered 5xx: channels will retry, then may disable "
            "the webhook.",
            metric=api.metric_server_error(period=ERROR_PERIOD, statistic="Sum"),
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
                    description=f"An execution of {name} {what}: the reason is on the order "
                    "(keel workflows show ORDER); fix it, then redrive (docs/deploy.md).",
                    metric=metric,
                )
        self.dashboard = self._dashboard(config, queues, functions, api)

    def _alarm(self, id: str, *, name: str, description: str, metric: cw.Metric) -> cw.Alarm:
        alarm = metric.create_alarm(
            self,
            id,
            alarm_name=name,
            alarm_description=description,
            threshold=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
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
    ) -> cw.Dashboard:
        """Left to right, top to bottom: edge, queues, parked work, functions."""
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
                "schedule's resync also feeds the sync queues. DLQ alarms: redrive with "
                "`aws sqs start-message-move-task --destination-arn <source queue>` "
                "(docs/deploy.md).",
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
        return dashboard
