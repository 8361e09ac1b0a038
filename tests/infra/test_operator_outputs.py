"""`keel --env <env>` finds every resource it works on from the stack's outputs (#22): each
key `shared.stack_outputs` reads is in every environment's template, and resolves."""

from __future__ import annotations

import pytest

from shared.stack_outputs import target_from_outputs
from shared.wiring import WIRING
from tests.infra.template import Template

pytestmark = pytest.mark.infra


def test_the_outputs_name_everything_the_cli_resolves(template: Template) -> None:
    outputs = {key: "x" for key in template.body["Outputs"]}
    target = target_from_outputs(outputs)  # raises KeyError naming a missing output
    assert set(target["tables"]) == {t.name for t in WIRING.tables}
    assert set(target["functions"]) == {f.name for f in WIRING.functions}
    assert set(target["state_machines"]) == {m.name for m in WIRING.state_machines}
    assert len(template.body["Outputs"]) <= 200  # CloudFormation's limit per template


def test_the_outputs_point_at_the_resources(template: Template) -> None:
    body = template.body["Outputs"]
    for name, logical_id in template.tables().items():
        assert template.target(body[f"Table{_cid(name)}Name"]["Value"]) == logical_id
    for name, logical_id in template.functions().items():
        assert template.target(body[f"Function{_cid(name)}Name"]["Value"]) == logical_id


def _cid(name: str) -> str:
    from shared.stack_outputs import construct_id

    return construct_id(name)
