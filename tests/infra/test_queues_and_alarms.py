"""Queues: the wiring's, each with a DLQ; every DLQ alarmed to the topic; outside senders only
where the wiring names them; dashboard per env."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from infra.queues import check_visibility_timeouts, schedule_dlq, sender_principal
from shared.channels.registry import CHANNELS
from shared.names import notification_queue
from shared.wiring import (
    WIRING,
    Function,
    Queue,
    QueueTrigger,
    ScheduleTrigger,
    StreamTrigger,
    Wiring,
)
from tests.infra.template import Template

pytestmark = pytest.mark.infra


def _dead_letter_queues(template: Template) -> set[str]:
    """Queues that receive failed work: redrive targets, stream on-failure destinations and
    schedule DLQs."""
    targets = {
        template.target(q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
        for q in template.of_type("AWS::SQS::Queue").values()
        if "RedrivePolicy" in q["Properties"]
    }
    for mapping in template.of_type("AWS::Lambda::EventSourceMapping").values():
        destination = mapping["Properties"].get("DestinationConfig", {}).get("OnFailure", {})
        if destination:
            targets.add(template.target(destination["Destination"]))
    for schedule in template.of_type("AWS::Scheduler::Schedule").values():
        dead_letter = schedule["Properties"]["Target"].get("DeadLetterConfig")
        if dead_letter:
            targets.add(template.target(dead_letter["Arn"]))
    return {t for t in targets if t is not None}


def test_source_queues_are_exactly_those_in_the_wiring(template: Template) -> None:
    queues = template.queues()
    sources = {name for name, lid in queues.items() if "RedrivePolicy" in template.props(lid)}
    assert sources == {q.name for q in WIRING.queues}
    for spec in WIRING.queues:
        props = template.props(queues[spec.name])
        assert props["VisibilityTimeout"] == spec.visibility_timeout_s
        assert props["RedrivePolicy"] == {
            "deadLetterTargetArn": {"Fn::GetAtt": [queues[f"{spec.name}-dlq"], "Arn"]},
            "maxReceiveCount": spec.max_receive_count,
        }
        dlq = template.props(queues[f"{spec.name}-dlq"])
        assert dlq["MessageRetentionPeriod"] == spec.dlq_retention_days * 86400


def test_every_queue_has_a_dlq_or_is_one(template: Template) -> None:
    dead_letter = _dead_letter_queues(template)
    for name, logical_id in template.queues().items():
        assert "RedrivePolicy" in template.props(logical_id) or logical_id in dead_letter, name
    expected_extra = {f"{f.name}-stream-failures" for f in WIRING.functions
                      if isinstance(f.trigger, StreamTrigger)}  # fmt: skip
    expected_extra |= {schedule_dlq(f.trigger.name) for f in WIRING.functions
                       if isinstance(f.trigger, ScheduleTrigger)}  # fmt: skip
    assert set(template.queues()) == (
        {q.name for q in WIRING.queues} | {f"{q.name}-dlq" for q in WIRING.queues} | expected_extra
    )


def test_every_queue_is_encrypted_and_refuses_plain_http(template: Template) -> None:
    ssl_only = set()
    for policy in template.of_type("AWS::SQS::QueuePolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement.get("Condition") == {
                "Bool": {"aws:SecureTransport": "false"}
            }:
                ssl_only |= {template.target(q) for q in policy["Properties"]["Queues"]}
    for name, logical_id in template.queues().items():
        assert template.props(logical_id)["SqsManagedSseEnabled"] is True, name
        assert logical_id in ssl_only, name


def test_visibility_timeout_is_six_times_the_consumer_timeout(template: Template) -> None:
    functions, queues = template.functions(), template.queues()
    for spec in WIRING.functions:
        if isinstance(spec.trigger, QueueTrigger):
            timeout = template.props(functions[spec.name])["Timeout"]
            visibility = template.props(queues[spec.trigger.queue])["VisibilityTimeout"]
            assert visibility >= 6 * timeout, spec.name


def test_the_stack_refuses_a_visibility_timeout_below_six_times() -> None:
    short = Wiring(
        tables=(),
        queues=(Queue("q", visibility_timeout_s=59, max_receive_count=3),),
        functions=(Function("f", "m:h", QueueTrigger("q", batch_size=1), timeout_s=10),),
        secrets=(),
    )
    with pytest.raises(ValueError, match="6x"):
        check_visibility_timeouts(short)


def _alarms_on(
    template: Template, metric: str, dimension: str, logical_id: str
) -> list[dict[str, Any]]:
    return [
        a["Properties"]
        for a in template.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == metric
        and any(
            d["Name"] == dimension and template.target(d["Value"]) == logical_id
            for d in a["Properties"].get("Dimensions", [])
        )
    ]


def test_every_dlq_has_an_alarm_wired_to_the_topic(template: Template) -> None:
    topic = template.topic()
    dead_letter = _dead_letter_queues(template)
    assert dead_letter
    for logical_id in dead_letter:
        (alarm,) = _alarms_on(
            template, "ApproximateNumberOfMessagesVisible", "QueueName", logical_id
        )
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["AlarmActions"] == [{"Ref": topic}]


def test_one_dlq_alarm_per_dead_letter_queue(template: Template) -> None:
    """A DLQ per work queue, an on-failure queue per stream trigger, a DLQ per schedule: each
    has exactly one alarm, and there are no others on queue depth."""
    streams = [f for f in WIRING.functions if isinstance(f.trigger, StreamTrigger)]
    schedules = [f for f in WIRING.functions if isinstance(f.trigger, ScheduleTrigger)]
    polls = [c for c in CHANNELS if c.poll_orders is not None]
    reconciled = [c for c in CHANNELS if c.read_listings is not None]
    # relay, relay-catalog, start-workflow, oversell; resync, prices (sales), competitors, the
    # books check, a poll-<channel> and a reconcile-<channel> per channel
    assert len(streams) == 4 and len(schedules) == 4 + len(polls) + len(reconciled)
    assert {"shopify", "woocommerce"} <= {c.name for c in polls}
    expected = len(WIRING.queues) + len(streams) + len(schedules)
    assert len(_dead_letter_queues(template)) == expected
    depth_alarms = [
        a
        for a in template.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
    ]
    assert len(depth_alarms) == expected


def test_every_function_has_an_error_alarm_wired_to_the_topic(template: Template) -> None:
    topic = template.topic()
    for name, logical_id in template.functions().items():
        (alarm,) = _alarms_on(template, "Errors", "FunctionName", logical_id)
        assert alarm["AlarmActions"] == [{"Ref": topic}], name


def test_the_topic_mails_the_configured_address(template: Template) -> None:
    (subscription,) = template.of_type("AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == template.config.alarm_email
    assert subscription["Properties"]["TopicArn"] == {"Ref": template.topic()}


def test_one_dashboard_shows_the_flow(template: Template) -> None:
    (dashboard,) = template.of_type("AWS::CloudWatch::Dashboard").values()
    body = template.text(dashboard["Properties"]["DashboardBody"])
    assert dashboard["Properties"]["DashboardName"] == f"keel-{template.config.name}-flow"
    for metric in ("4XXError", "5XXError", "ApproximateNumberOfMessagesVisible",
                   "ApproximateAgeOfOldestMessage", "Errors", "Duration", "Throttles",
                   "IteratorAge"):  # fmt: skip
        assert metric in body, metric
    for logical_id in template.queues().values():
        assert logical_id in body
    # An order's path per channel: stock written / failed / not applied, orders the webhooks
    # missed, deliveries from other accounts; then what intake and the workflows made of them.
    for channel in WIRING.secrets:
        assert f"{channel}: in and out" in body, channel
    path = ("StockPublished", "StockSyncPermanentFailures", "OrdersMissedByWebhooks",
            "OrdersReserved", "OrdersHeld", "ExecutionsSucceeded", "ExecutionTime")  # fmt: skip
    for metric in path:
        assert metric in body, metric


# --- outside senders (Queue.senders) ----------------------------------------------------------
SENDERS = ("437568002678", "sns.amazonaws.com")


def _allowed_senders(template: Template, wiring: Wiring = WIRING) -> dict[str, set[str]]:
    """Queue logical id -> the principals its resource policy allows, as the wiring spells them
    (account id or service principal); each allowance must be the queue's `sender_actions` (by
    default SendMessage) on that queue only."""
    actions_of = {template.queues()[q.name]: q.sender_actions for q in wiring.queues}
    allowed: dict[str, set[str]] = {}
    for policy in template.of_type("AWS::SQS::QueuePolicy").values():
        (queue,) = (template.target(q) for q in policy["Properties"]["Queues"])
        assert queue is not None
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] != "Allow":
                continue
            action = statement["Action"]
            assert sorted([action] if isinstance(action, str) else action) == sorted(
                actions_of[queue]
            ), statement
            assert statement["Resource"] == {"Fn::GetAtt": [queue, "Arn"]}, statement
            principal = statement["Principal"]
            if "Service" in principal:
                assert statement["Condition"] == {
                    "StringEquals": {"aws:SourceAccount": template.account_token()}
                }
                allowed.setdefault(queue, set()).add(principal["Service"])
            else:
                (account,) = re.findall(r":iam::(\d{12}):root", template.text(principal["AWS"]))
                assert "Condition" not in statement
                allowed.setdefault(queue, set()).add(account)
    return allowed


def test_no_queue_admits_outside_senders_unless_the_wiring_says_so(template: Template) -> None:
    queues = template.queues()
    expected = {queues[q.name]: set(q.senders) for q in WIRING.queues if q.senders}
    assert _allowed_senders(template) == expected


def test_a_channel_that_delivers_to_a_queue_gets_that_queue_open_to_its_documented_sender(
    template: Template,
) -> None:
    """The notification queue of each queue-delivering channel (Amazon SP-API: account
    437568002678, SendMessage and GetQueueAttributes), with its DLQ and alarm like every queue."""
    queues = template.queues()
    allowed = _allowed_senders(template)
    receiving = [c for c in CHANNELS if c.queue_receiver is not None]
    assert receiving  # Amazon
    for channel in receiving:
        assert channel.queue_receiver is not None
        name = notification_queue(channel.name)
        assert allowed[queues[name]] == set(channel.queue_receiver.senders)
        assert f"{name}-dlq" in queues
        (function,) = [f for f in WIRING.functions if f.name == name]
        assert isinstance(function.trigger, QueueTrigger) and function.trigger.queue == name
        assert function.sends_to == ("ingest",)


@pytest.fixture(scope="module")
def with_senders(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The dev stack from a wiring whose ingest queue admits outside senders, synthesized with
    the cdk-nag checks like the real app."""
    from aws_cdk import App

    from infra.application import cdk_context
    from infra.config import load
    from infra.nag import add_checks
    from infra.stack import KeelStack

    queues = tuple(replace(q, senders=SENDERS) if q.name == "ingest" else q for q in WIRING.queues)
    outdir = tmp_path_factory.mktemp("senders.out")
    app = App(outdir=str(outdir), context=cdk_context())
    add_checks(app)
    config = load("dev")
    stack = KeelStack(app, config, replace(WIRING, queues=queues))
    app.synth()  # raises on any unacknowledged cdk-nag finding
    body = json.loads((Path(outdir) / f"{stack.stack_name}.template.json").read_text())
    return Template(body=body, config=config, termination_protection=False, outdir=outdir)


def test_a_queue_with_senders_admits_exactly_them(with_senders: Template) -> None:
    queues = with_senders.queues()
    own = {queues[q.name]: set(q.senders) for q in WIRING.queues if q.senders}
    assert _allowed_senders(with_senders) == {queues["ingest"]: set(SENDERS), **own}


@pytest.mark.parametrize("sender", ["*", "43756800267", "arn:aws:iam::437568002678:root", "sns"])
def test_a_sender_must_be_an_account_id_or_a_service_principal(sender: str) -> None:
    with pytest.raises(ValueError, match="queue sender"):
        sender_principal(sender)


def test_every_alarm_is_a_runbook_line_naming_the_keel_command(template: Template) -> None:
    keel = f"keel --env {template.config.name} "
    alarms = template.of_type("AWS::CloudWatch::Alarm").values()
    for alarm in alarms:
        props = alarm["Properties"]
        assert keel in props["AlarmDescription"], props["AlarmName"]
        assert props["AlarmActions"] == props["OKActions"] == [{"Ref": template.topic()}]
    names = {a["Properties"]["AlarmName"].removeprefix(template.config.resource_prefix + "-")
             for a in alarms}  # fmt: skip
    for queue in WIRING.queues:
        assert f"{queue.name}-lagging" in names
    assert {"api-4xx-burst", "deliveries-held", "shopify-orders-missed-by-webhooks"} <= names


def test_function_errors_alarm_when_sustained_not_on_one_retried_error(
    template: Template,
) -> None:
    for name, logical_id in template.functions().items():
        (alarm,) = _alarms_on(template, "Errors", "FunctionName", logical_id)
        assert (alarm["DatapointsToAlarm"], alarm["EvaluationPeriods"]) == (2, 3), name


def test_logs_insights_follows_one_order_through_every_function(template: Template) -> None:
    queries = {
        q["Properties"]["Name"]: q["Properties"]
        for q in template.of_type("AWS::Logs::QueryDefinition").values()
    }
    follow = queries[f"keel-{template.config.name}/follow-one-order"]
    assert 'correlation_id = "ORDER_KEY"' in follow["QueryString"]
    groups = {template.target(g) for g in follow["LogGroupNames"]}
    functions = template.functions()
    assert len(groups) == len(functions)  # every function's log group
    assert f"keel-{template.config.name}/warnings-and-errors" in queries


def test_streams_alarm_when_behind_and_functions_when_throttled(template: Template) -> None:
    alarms = [a["Properties"] for a in template.of_type("AWS::CloudWatch::Alarm").values()]
    behind = [a for a in alarms if a.get("MetricName") == "IteratorAge"]
    streams = [f for f in WIRING.functions if isinstance(f.trigger, StreamTrigger)]
    assert len(behind) == len(streams)
    throttled = [a for a in alarms if a.get("MetricName") == "Throttles"]
    assert len(throttled) == len(WIRING.functions)


def test_reconciliation_alarms_on_persisting_drift_re_armed_subscriptions_and_books(
    template: Template,
) -> None:
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in template.of_type("AWS::CloudWatch::Alarm").values()
    }
    prefix = template.config.resource_prefix
    for channel in (c.name for c in CHANNELS if c.read_listings):
        for what, metric in (
            ("drift-persisting", "DriftPersisting"),
            ("subscriptions-rearmed", "SubscriptionsRearmed"),
        ):
            alarm = alarms[f"{prefix}-{channel}-{what}"]
            assert alarm["MetricName"] == metric and alarm["Threshold"] == 1
            dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
            assert dimensions == {"service": "keel-reconcile", "channel": channel}
    books = alarms[f"{prefix}-books-mismatch"]
    assert books["MetricName"] == "BooksMismatches" and books["Threshold"] == 1
