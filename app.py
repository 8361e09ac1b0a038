#!/usr/bin/env python3
"""CDK entry point: `cdk synth|diff|deploy -c env=dev|staging|prod` (or `make synth ENV=…`).

One stack per invocation, for the environment named in the context. Optional overrides:
`-c account=<12 digits>` and `-c alarm_email=<address>` (see infra/config.py).
"""

from __future__ import annotations

import sys

from aws_cdk import App

from infra.application import build
from infra.config import CONFIGS


def _optional_str(value: object) -> str | None:
    """`-c account=0123…` may arrive as a number; ids are strings (leading zeros matter)."""
    return None if value is None else str(value)


def main() -> None:
    app = App()
    env_name = app.node.try_get_context("env")
    if env_name not in CONFIGS:
        sys.exit(f"choose an environment: -c env={'|'.join(CONFIGS)} (got {env_name!r})")
    build(
        app,
        [env_name],
        account=_optional_str(app.node.try_get_context("account")),
        alarm_email=_optional_str(app.node.try_get_context("alarm_email")),
    )
    app.synth()


if __name__ == "__main__":
    main()
