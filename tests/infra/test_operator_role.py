"""The operator role (#22): what `keel --env` needs, every action named, nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.template import Template

pytestmark = pytest.mark.infra


def _statements(template: Template, role: str) -> list[dict[str, Any]]:
    found = []
    for policy in template.of_type("AWS::IAM::Policy").values():
        props = policy["Properties"]
        if role in {template.target(r) for r in props.get("Roles", [])}:
            found.extend(props["PolicyDocument"]["Statement"])
    return found


def _operator(template: Template) -> str:
    (role,) = [
        k
        for k, r in template.of_type("AWS::IAM::Role").items()
        if "what `keel --env" in r["Properties"].get("Description", "")
    ]
    return role


def test_the_operator_role_names_every_action_and_is_an_output(template: Template) -> None:
    role = _operator(template)
    actions: set[str] = set()
    for statement in _statements(template, role):
        assert statement["Effect"] == "Allow"
        named = statement["Action"]
        actions.update([named] if isinstance(named, str) else named)
    assert not [a for a in actions if "*" in a]
    for needed in (
        "cloudformation:DescribeStacks",
        "sqs:StartMessageMoveTask",
        "states:StartExecution",
        "states:RedriveExecution",
        "secretsmanager:PutSecretValue",
        "cloudwatch:DescribeAlarms",
        "lambda:InvokeFunction",
        "dynamodb:Query",
    ):
        assert needed in actions, needed
    assert template.target(template.body["Outputs"]["OperatorRoleArn"]["Value"]) == role


def test_only_this_account_may_assume_it(template: Template) -> None:
    role = template.props(_operator(template))
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    principal = template.text(statement["Principal"]["AWS"])
    account = template.config.account or "AWS::AccountId"  # its own account only
    assert principal.endswith(':root"]]}') or principal.endswith(':root"')
    assert f"arn:aws:iam::{account}:root" in principal or "AWS::AccountId" in principal
