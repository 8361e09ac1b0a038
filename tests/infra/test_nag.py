"""cdk-nag AwsSolutions: nothing unacknowledged, and every acknowledgement is a deliberate one."""

from __future__ import annotations

import pytest

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
}
DEV_ONLY = {"AwsSolutions-APIG3"}  # no WAF in dev


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
    assert acknowledged == expected


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
        "dynamodb:ListStreams",
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
                assert not (isinstance(resource, str) and "*" in resource and resource != "*")
    for logical_id, role in template.of_type("AWS::IAM::Role").items():
        assert "ManagedPolicyArns" not in role["Properties"], logical_id  # no AWS managed policy
