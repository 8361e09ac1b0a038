"""Where `keel` works: the embedded local stack or a deployed environment (`--env`).

Both are read through one path: a stack's outputs (shared/stack_outputs.py). A deployed
environment's come from its CloudFormation stack (named by infra/config.py), with the usual AWS
credentials and `--profile`; the local stack writes the same outputs into `.keel/local.json`.
Mutations on staging and prod ask first (or take `--yes`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

LOCAL = "local"
GUARDED = ("staging", "prod")  # environments whose mutations are confirmed
ENV_VARIABLE = "KEEL_ENV"

_resolved: dict[tuple[str, str | None, str], dict[str, Any]] = {}


class TargetError(Exception):
    """The environment cannot be found or read, or a change on it was not confirmed: one line
    for the operator, exit 2."""


def default_env() -> str:
    return os.environ.get(ENV_VARIABLE) or LOCAL


def add_arguments(root: argparse.ArgumentParser, state_file: str) -> None:
    root.add_argument("--state-file", default=state_file, help=argparse.SUPPRESS)
    root.add_argument(
        "--env",
        default=default_env(),
        help="local (the embedded stack, the default) or a deployed environment: dev, "
        f"staging, prod (also ${ENV_VARIABLE})",
    )
    root.add_argument("--profile", help="the AWS profile for a deployed environment")
    root.add_argument(
        "--yes", action="store_true", help="do not ask before a change on staging or prod"
    )
    root.add_argument("--reason", help="why (kept in the audit trail; needed on staging, prod)")
    root.add_argument("--actor", default=_user(), help="who (default: you)")


def add_to_every_command(root: argparse.ArgumentParser) -> None:
    """`--env`, `--profile` and `--yes` after the command too (`keel dlq redrive X --env prod
    --yes`); given there, they override what was given before the command."""
    for parser in _leaves(root):
        parser.add_argument("--env", default=argparse.SUPPRESS, help="as `keel --env`")
        parser.add_argument("--profile", default=argparse.SUPPRESS, help="as `keel --profile`")
        parser.add_argument(
            "--yes", action="store_true", default=argparse.SUPPRESS, help="as `keel --yes`"
        )
        for option, said in (("--reason", "as `keel --reason`"), ("--actor", "as `keel --actor`")):
            if option not in parser._option_string_actions:  # its own, e.g. listings set's
                parser.add_argument(option, default=argparse.SUPPRESS, help=said)


def _leaves(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        return [parser]
    found: list[argparse.ArgumentParser] = []
    for group in groups:
        for child in dict.fromkeys(group.choices.values()):
            found.extend(_leaves(child))
    return found


def target(args: argparse.Namespace) -> dict[str, Any]:
    """The resources of the environment `args` name, by wiring name (the shape of
    `.keel/local.json`), with `env` and, for a deployed one, `profile`."""
    env = getattr(args, "env", LOCAL) or LOCAL
    profile = getattr(args, "profile", None)
    key = (env, profile, str(getattr(args, "state_file", "")))
    if key not in _resolved:
        _resolved[key] = _local(args.state_file) if env == LOCAL else _deployed(env, profile)
    return _resolved[key]


def _local(state_file: str) -> dict[str, Any]:
    from shared.stack_outputs import target_from_outputs

    path = Path(state_file)
    if not path.exists():
        raise TargetError(
            f"no local stack running: {path} not found. Start one with `keel local up`, or "
            "name a deployed environment with --env"
        )
    state: dict[str, Any] = json.loads(path.read_text())
    if "outputs" in state:  # one path for every environment: the outputs
        state.update(target_from_outputs(state["outputs"]))
    return {**state, "env": LOCAL}


def _deployed(env: str, profile: str | None) -> dict[str, Any]:
    import boto3
    import botocore.exceptions

    from infra.config import CONFIGS
    from shared.stack_outputs import target_from_outputs

    if env not in CONFIGS:
        choices = ", ".join([LOCAL, *CONFIGS])
        raise TargetError(f"unknown environment {env!r}: choose one of {choices}")
    config = CONFIGS[env]
    try:
        session = boto3.session.Session(profile_name=profile, region_name=config.region)
        outputs = stack_outputs(session.client("cloudformation"), config.stack_name)
    except botocore.exceptions.ProfileNotFound as exc:
        raise TargetError(str(exc)) from None
    except botocore.exceptions.NoCredentialsError:
        raise TargetError(f"no AWS credentials for {env} (use --profile or AWS_PROFILE)") from None
    except botocore.exceptions.ClientError as exc:
        raise TargetError(
            f"cannot read stack {config.stack_name} in {config.region}: "
            f"{exc.response.get('Error', {}).get('Message', exc)}"
        ) from None
    try:
        found = target_from_outputs(outputs)
    except KeyError as exc:
        raise TargetError(f"{config.stack_name}: {exc.args[0]}") from None
    return {**found, "env": env, "profile": profile, "stack": config.stack_name}


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    """A deployed stack's outputs, by key."""
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def client(state: dict[str, Any], service: str) -> Any:
    """A boto3 client for the environment: the local stack's moto (local-only credentials), or
    AWS with the operator's credentials."""
    import boto3

    if "aws_endpoint" in state:
        return boto3.session.Session().client(
            service,
            endpoint_url=state["aws_endpoint"],
            region_name=state["region"],
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
    session = boto3.session.Session(profile_name=state.get("profile"), region_name=state["region"])
    return session.client(service)


def confirm(
    args: argparse.Namespace, what: str, trail: Any, detail: dict[str, Any] | None = None
) -> None:
    """Before a change: on staging or prod it goes ahead with `--yes`, or when the operator
    types the environment's name, and only with a `--reason`; anything else refuses (exit 2),
    so a script without `--yes` never changes prod. Every change, on every environment, is
    then written to `trail` (the environment's AuditTrail: who, where, what, why) before it is
    made."""
    env = getattr(args, "env", LOCAL) or LOCAL
    reason = getattr(args, "reason", None) or ""
    if env in GUARDED:
        if not reason:
            raise TargetError(f"refused: {what} on {env} needs --reason (the audit trail's why)")
        if not getattr(args, "yes", False):
            if not sys.stdin.isatty():
                raise TargetError(f"refused: {what} on {env} needs --yes (no terminal to ask)")
            answer = input(f"{what} on {env}? Type {env!r} to go ahead: ")
            if answer.strip() != env:
                raise TargetError(f"nothing changed: {what} on {env} was not confirmed")
    from datetime import UTC, datetime

    from shared.stores.audit import AuditEntry

    actor = getattr(args, "actor", None) or _user()
    trail.record(AuditEntry(datetime.now(UTC), actor, env, what, reason, detail or {}))


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        return f"uid-{os.getuid()}"
