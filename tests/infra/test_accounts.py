"""A second shop is configuration (#27): one line in the environment's config, and the synth
gives it its own secret (placeholder JSON), tells every function of its channel where that
secret is, lets them read it, and polls it on its own schedule."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import pytest

from infra.config import load
from shared.names import env_name_for_account_secrets
from shared.wiring import WIRING
from tests.infra.template import Template

pytestmark = pytest.mark.infra

MORE = {"shopify": ("outlet", "b2b"), "amazon": ("us",)}


@pytest.fixture(scope="module")
def with_accounts(tmp_path_factory: pytest.TempPathFactory) -> Template:
    from aws_cdk import App

    from infra.application import cdk_context
    from infra.nag import add_checks
    from infra.stack import KeelStack

    config = replace(load("dev"), channel_accounts=MappingProxyType(MORE))
    outdir: Path = tmp_path_factory.mktemp("cdk-accounts.out")
    app = App(outdir=str(outdir), context=cdk_context())
    add_checks(app)
    KeelStack(app, config)
    app.synth()  # cdk-nag runs: the new secrets and schedules pass its checks too
    manifest = json.loads((outdir / "manifest.json").read_text())
    properties = manifest["artifacts"][config.stack_name]["properties"]
    body = json.loads((outdir / properties["templateFile"]).read_text())
    return Template(body, config, False, outdir)


def test_each_further_account_has_its_own_placeholder_secret(with_accounts: Template) -> None:
    secrets = with_accounts.secrets()
    for channel, labels in MORE.items():
        for label in labels:
            name = f"keel/dev/{channel}/{label}"
            assert name in secrets, name
            value = json.loads(with_accounts.props(secrets[name])["SecretString"])
            assert value.keys() >= {"currency"} and all(v in ("", []) for v in value.values())
    assert len(secrets) == len({*WIRING.secrets, *WIRING.carriers}) + 3


def test_every_function_of_the_channel_is_told_and_may_read_every_account(
    with_accounts: Template,
) -> None:
    functions = with_accounts.functions()
    secrets = with_accounts.secrets()
    for spec in WIRING.functions:
        env = with_accounts.props(functions[spec.name])["Environment"]["Variables"]
        for channel, labels in MORE.items():
            variable = env_name_for_account_secrets(channel)
            if channel not in spec.secrets:
                assert variable not in env, (spec.name, channel)
                continue
            names = [f"keel/dev/{channel}/{label}" for label in labels]
            assert json.loads(env[variable]) == names, spec.name
            readable = _readable_secrets(with_accounts, functions[spec.name])
            assert {secrets[n] for n in names} <= readable, spec.name


def test_each_account_is_polled_on_its_own_schedule(with_accounts: Template) -> None:
    schedules = {
        r["Properties"]["Name"]: json.loads(r["Properties"]["Target"]["Input"])
        for r in with_accounts.of_type("AWS::Scheduler::Schedule").values()
    }
    assert schedules["keel-dev-poll-shopify"] == {
        "schedule": "poll-shopify",
        "account_secret": "keel/dev/shopify",
    }
    assert schedules["keel-dev-poll-shopify-outlet"] == {
        "schedule": "poll-shopify",
        "account_secret": "keel/dev/shopify/outlet",
    }
    assert schedules["keel-dev-poll-shopify-b2b"]["account_secret"] == "keel/dev/shopify/b2b"
    assert schedules["keel-dev-poll-amazon-us"]["account_secret"] == "keel/dev/amazon/us"
    # A channel with one account keeps its one schedule, as before.
    assert schedules["keel-dev-poll-woocommerce"] == {"schedule": "poll-woocommerce"}


def test_a_label_that_cannot_name_a_secret_is_refused() -> None:
    with pytest.raises(ValueError, match=r"channel_accounts\['shopify'\]: labels \['Outlet!'\]"):
        replace(load("dev"), channel_accounts=MappingProxyType({"shopify": ("Outlet!",)}))
    with pytest.raises(ValueError, match="'etsy' is not a channel"):
        replace(load("dev"), channel_accounts=MappingProxyType({"etsy": ("one",)}))


def _readable_secrets(template: Template, function_id: str) -> set[str]:
    """Logical ids of the secrets the function's role policies allow it to read."""
    role = template.target(template.props(function_id)["Role"])
    found: set[str] = set()
    for policy in template.of_type("AWS::IAM::Policy").values():
        props = policy["Properties"]
        if role not in {template.target(r) for r in props.get("Roles", [])}:
            continue
        for statement in props["PolicyDocument"]["Statement"]:
            actions = statement["Action"]
            actions = [actions] if isinstance(actions, str) else actions
            if "secretsmanager:GetSecretValue" in actions:
                resources = statement["Resource"]
                for resource in resources if isinstance(resources, list) else [resources]:
                    found |= template.referenced(resource)
    return found
