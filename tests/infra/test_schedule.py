"""The resync schedule: EventBridge Scheduler at the wiring's rate, invoking only its function,
with retries and an alarmed DLQ (a lost or hand-edited listing heals within the period)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.compute import rate_expression
from infra.queues import schedule_dlq
from shared.wiring import WIRING, ScheduleTrigger
from tests.infra.template import Template

pytestmark = pytest.mark.infra


def _schedules(template: Template) -> dict[str, dict[str, Any]]:
    """Schedule name suffix (the wiring's `ScheduleTrigger.name`) -> its properties."""
    prefix = f"{template.config.resource_prefix}-"
    return {
        r["Properties"]["Name"].removeprefix(prefix): r["Properties"]
        for r in template.of_type("AWS::Scheduler::Schedule").values()
    }


def test_schedules_are_exactly_the_wirings(template: Template) -> None:
    expected = {
        f.trigger.name: f for f in WIRING.functions if isinstance(f.trigger, ScheduleTrigger)
    }
    schedules, functions = _schedules(template), template.functions()
    assert set(schedules) == set(expected)
    for name, spec in expected.items():
        assert isinstance(spec.trigger, ScheduleTrigger)
        props = schedules[name]
        assert props["ScheduleExpression"] == rate_expression(spec.trigger.rate_minutes)
        assert props["FlexibleTimeWindow"] == {"Mode": "OFF"}
        assert props["State"] == "ENABLED"
        target = props["Target"]
        assert target["Arn"] == {"Fn::GetAtt": [functions[spec.name], "Arn"]}
        assert json.loads(target["Input"]) == {"schedule": name}
        assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
        dlq = template.queues()[schedule_dlq(name)]
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq, "Arn"]}}


def test_resync_runs_every_six_hours(template: Template) -> None:
    resync = _schedules(template)["resync-all-listings"]
    assert resync["ScheduleExpression"] == "rate(360 minutes)"
    assert resync["Target"]["Arn"] == {"Fn::GetAtt": [template.functions()["resync"], "Arn"]}


def test_the_schedule_dlq_is_alarmed_to_the_topic(template: Template) -> None:
    dlq = template.queues()[schedule_dlq("resync-all-listings")]
    (alarm,) = [
        a["Properties"]
        for a in template.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and {"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}}
        in a["Properties"].get("Dimensions", [])
    ]
    assert alarm["AlarmActions"] == [{"Ref": template.topic()}]


def test_the_schedule_role_may_invoke_only_its_function(template: Template) -> None:
    """Assumable by Scheduler for this account's default group only; invoke on the one
    function's unqualified ARN (no `:*`), send to the one DLQ."""
    resync = _schedules(template)["resync-all-listings"]
    role = template.target(resync["Target"]["RoleArn"])
    assert role is not None
    (trust,) = template.props(role)["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": template.account_token()}
    assert "schedule-group/default" in template.text(trust["Condition"]["ArnEquals"])
    statements = [
        s
        for p in template.of_type("AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    dlq = template.queues()[schedule_dlq("resync-all-listings")]
    assert sorted((s["Action"], template.text(s["Resource"])) for s in statements) == sorted(
        [
            ("lambda:InvokeFunction", template.text(resync["Target"]["Arn"])),
            ("sqs:SendMessage", template.text({"Fn::GetAtt": [dlq, "Arn"]})),
        ]
    )


def test_rate_expressions() -> None:
    assert rate_expression(1) == "rate(1 minute)"
    assert rate_expression(360) == "rate(360 minutes)"
    with pytest.raises(ValueError):
        rate_expression(0)
