"""cdk-nag AwsSolutions: nothing unacknowledged, and every acknowledgement is a deliberate one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.nag import REPORT_FILE, add_checks
from shared.wiring import WIRING
from tests.infra.template import Synthesized, Template

pytestmark = pytest.mark.infra

# Every acknowledgement Keel makes. A new one must be added here on purpose (with its reason in
# the code that makes it); see docs/decisions.md for why each is acceptable.
EXPECTED = {
    "AwsSolutions-IAM5[Resource::*]",  # X-Ray and dynamodb:ListStreams take no resource ARNs
    "AwsSolutions-SQS3",  # the stream on-failure queue is itself a DLQ
    "AwsSolutions-SMG4",  # channel credentials cannot be rotated by AWS
    "AwsSolutions-APIG2",  # body validation would drop signed-but-malformed webhooks
    "AwsSolutions-APIG4",  # webhooks authenticate by HMAC, not IAM/Cognito
    "AwsSolutions-COG4",
    "AwsSolutions-APIG6",  # execution logs need an account-wide singleton role
    "AwsSolutions-S1",  # no server access log bucket for a bucket only Keel's roles reach
}
DEV_ONLY = {"AwsSolutions-APIG3"}  # no WAF in dev


def _object_grant_findings(template: Template) -> set[str]:
    """`IAM5[Resource::<bucket.Arn>/*]`: object grants name all of a bucket's objects (keys are
    per delivery), once per bucket some function reads or writes objects in."""
    buckets = template.buckets()
    used = {b for f in WIRING.functions for b in (*f.reads_objects, *f.writes_objects)}
    return {f"AwsSolutions-IAM5[Resource::<{buckets[b]}.Arn>/*]" for b in used}


def _task_invoke_findings(template: Template) -> set[str]:
    """`IAM5[Resource::<function.Arn>:*]`: a state machine may invoke each of its task functions'
    versions (CDK's grant_invoke), once per task function."""
    functions = template.functions()
    return {
        f"AwsSolutions-IAM5[Resource::<{functions[name]}.Arn>:*]"
        for machine in WIRING.state_machines
        for name in machine.tasks.values()
    }


def _operator_findings(template: Template) -> set[str]:
    """The operator role's two name-prefix wildcards (infra/operator.py): the runs of the
    environment's state machine, and its own alarms."""
    config = template.config
    where = f"arn:aws:{{}}:{config.region}:{config.account or '<AWS::AccountId>'}"
    machines = template.of_type("AWS::StepFunctions::StateMachine")
    return {
        *(f"AwsSolutions-IAM5[Resource::{where.format('states')}:execution:<{m}.Name>:*]"
          for m in machines),
        f"AwsSolutions-IAM5[Resource::{where.format('cloudwatch')}:alarm:"
        f"{config.resource_prefix}-*]",
    }  # fmt: skip


def _is_operator_wildcard(template: Template, actions: list[str], resource: Any) -> bool:
    text = template.text(resource).rstrip('"]}')
    if text.endswith(f":alarm:{template.config.resource_prefix}-*"):
        return set(actions) == {"cloudwatch:DescribeAlarms"}
    if ":execution:" in text and text.endswith(":*"):
        return set(actions) <= {
            "states:DescribeExecution",
            "states:GetExecutionHistory",
            "states:RedriveExecution",
        }
    return False


def test_canary_a_bare_queue_fails_the_synth(tmp_path: Path) -> None:
    """Canary: a bare queue (no DLQ, no TLS policy) through the same `add_checks` the app uses
    must fail the synth. Without it the tests below could pass with the plugin dropped (a synth
    without checks also writes a report, with no findings)."""
    from aws_cdk import App, Stack
    from aws_cdk import aws_sqs as sqs

    app = App(outdir=str(tmp_path))
    add_checks(app)
    sqs.Queue(Stack(app, "Canary"), "Bare")
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / REPORT_FILE).read_text())
    findings = {
        v["ruleName"]
        for plugin in report["pluginReports"]
        if plugin["pluginName"] == "AwsSolutions"
        for v in plugin["violations"]
    }
    assert {"AwsSolutions-SQS3", "AwsSolutions-SQS4"} <= findings


def test_synth_reports_no_finding_at_all(synthesized: Synthesized) -> None:
    """No error and no warning left: each was fixed or acknowledged."""
    violations = [
        (report["pluginName"], v["ruleName"], v["severity"])
        for report in synthesized.validation_report["pluginReports"]
        for v in report.get("violations", [])
    ]
    assert violations == []


def test_acknowledgements_are_the_expected_ones(template: Template) -> None:
    acknowledged = {
        finding
        for logical_id in template.resources
        for finding in template.acknowledged(logical_id)
    }
    expected = EXPECTED | (DEV_ONLY if not template.config.waf else set())
    # Empty if the app's synth ran without the plugin: it writes this Metadata itself.
    assert acknowledged == (
        expected
        | _object_grant_findings(template)
        | _task_invoke_findings(template)
        | _operator_findings(template)
    )


def test_every_acknowledgement_names_a_finding_and_gives_a_specific_reason(
    template: Template,
) -> None:
    for logical_id in template.resources:
        for finding, reason in template.acknowledged(logical_id).items():
            assert finding.startswith("AwsSolutions-"), (logical_id, finding)
            assert len(reason) >= 80, (logical_id, finding, reason)


def test_no_iam_wildcard_without_an_acknowledgement(template: Template) -> None:
    """Wildcards only where IAM offers nothing narrower, and then acknowledged on that policy."""
    allowed_star_actions = {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "dynamodb:ListStreams",
        # Step Functions' vended log delivery (logging level ALL): no resource-level ARNs.
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    }
    for logical_id, policy in template.of_type("AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            resources = (
                statement["Resource"]
                if isinstance(statement["Resource"], list)
                else [statement["Resource"]]
            )
            assert not [a for a in actions if "*" in a], (logical_id, actions)
            if "*" in resources:
                assert set(actions) <= allowed_star_actions, (logical_id, actions)
                assert "AwsSolutions-IAM5[Resource::*]" in template.acknowledged(logical_id)
            for resource in resources:
                if _is_operator_wildcard(template, actions, resource):
                    continue  # acknowledged: see _operator_findings
                assert not (isinstance(resource, str) and "*" in resource and resource != "*")
                bucket = template.objects_of(resource)
                function = template.versions_of(resource)
                if function is not None:  # `<function arn>:*`: a state machine invoking a task
                    assert set(actions) == {"lambda:InvokeFunction"}, (logical_id, actions)
                    finding = f"AwsSolutions-IAM5[Resource::<{function}.Arn>:*]"
                    assert finding in template.acknowledged(logical_id)
                elif bucket is not None:  # `<bucket arn>/*`: object actions only, acknowledged
                    assert set(actions) <= {"s3:GetObject", "s3:PutObject"}, (logical_id, actions)
                    finding = f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/*]"
                    assert finding in template.acknowledged(logical_id)
                elif resource != "*" and "*" in template.text(resource):
                    pytest.fail(f"{logical_id}: unexpected wildcard resource {resource}")
    # No AWS managed policy, except on the role of CDK's own bucket-emptying handler (dev and
    # staging only; it only gets to write its logs through it).
    cdk_provider_roles = set(template.auto_delete_providers().values())
    assert not (cdk_provider_roles and template.config.retain_data)
    for logical_id, role in template.of_type("AWS::IAM::Role").items():
        if logical_id in cdk_provider_roles:
            (managed,) = role["Properties"]["ManagedPolicyArns"]
            assert "service-role/AWSLambdaBasicExecutionRole" in template.text(managed)
            continue
        assert "ManagedPolicyArns" not in role["Properties"], logical_id
