"""Build the CDK app: the stacks for the chosen environments and the cdk-nag plugin.

Shared by `app.py` (the CDK CLI's entry point) and tests/infra, so the tests synthesize exactly
what `cdk synth` does. `cdk_context()` reads cdk.json's feature flags for apps created outside
the CLI (the CLI passes them itself).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aws_cdk import App

from infra import config as env_config
from infra.nag import add_checks
from infra.stack import KeelStack

CDK_JSON = Path(__file__).resolve().parents[1] / "cdk.json"


def cdk_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]
    return context


def build(
    app: App,
    env_names: Sequence[str],
    *,
    account: str | None = None,
    alarm_email: str | None = None,
) -> list[KeelStack]:
    add_checks(app)
    return [
        KeelStack(app, env_config.load(name, account=account, alarm_email=alarm_email))
        for name in env_names
    ]
