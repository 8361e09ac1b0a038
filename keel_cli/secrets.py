"""`keel secrets check [OWNER]` and `keel secrets set OWNER`: the credentials of every channel
(each account) and of the carrier, on any environment. Nothing secret is printed or logged."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from keel_cli.targets import confirm

console = Console()
errors = Console(stderr=True)
PROBLEMS_FOUND = 3  # as `keel status`: scripts tell "found problems" from "failed"


def register(sub: Any, target: Any, client: Any, runtime: Any) -> None:
    """`target(args)` the environment, `client(state, service)` its AWS clients, `runtime(state)`
    its composition root (keel_cli.main's; passed in, so this module does not import main)."""
    secrets = sub.add_parser("secrets", help="channel and carrier credentials: check, set")
    secrets_sub = secrets.add_subparsers(dest="secrets_command", required=True)
    check = secrets_sub.add_parser(
        "check", help="each secret exists, is filled, and (a channel) one authenticated read works"
    )
    check.add_argument("owner", nargs="?", help="one channel or carrier (default: all)")
    check.add_argument("--json", action="store_true", help="data on stdout, for scripts")
    check.set_defaults(func=lambda args: cmd_check(args, target, client))
    put = secrets_sub.add_parser(
        "set", help="write a secret from stdin (a JSON object) or prompts, checked first"
    )
    put.add_argument("owner", help="the channel or carrier")
    put.add_argument(
        "--secret", help="a further account's secret name (default: the owner's first)"
    )
    put.add_argument("--json", action="store_true", help="the result as JSON on stdout")
    put.set_defaults(func=lambda args: cmd_set(args, target, client, runtime))


def _owners() -> dict[str, Any]:
    from shared.carriers.registry import CARRIER_SPECS
    from shared.channels.registry import BY_NAME

    return {**BY_NAME, **CARRIER_SPECS}


def secret_names(found: dict[str, Any], owner: str) -> list[str]:
    """Every secret of an owner in the environment: its first, then its further accounts'."""
    return [found["secrets"][owner], *found.get("account_secrets", {}).get(owner, [])]


def cmd_check(args: argparse.Namespace, target: Any, client: Any) -> int:
    import httpx

    from shared.services.secret_check import SecretMissing, check_secret

    found = target(args)
    owners = _owners()
    wanted = [args.owner] if args.owner else [o for o in found["secrets"] if o in owners]
    if args.owner and args.owner not in found["secrets"]:
        errors.print(f"[red]No secret for {args.owner!r}; there are: {', '.join(found['secrets'])}")
        return 2
    sm = client(found, "secretsmanager")

    def read(name: str) -> str:
        try:
            return str(sm.get_secret_value(SecretId=name)["SecretString"])
        except sm.exceptions.ResourceNotFoundException:
            raise SecretMissing(name) from None

    now = datetime.now(UTC)
    with httpx.Client(timeout=15.0) as http:
        checks = [
            check_secret(owners[owner], name, read, http, now)
            for owner in wanted
            for name in secret_names(found, owner)
        ]
    if args.json:
        print(json.dumps([{**vars(c), "ok": c.ok} for c in checks], indent=2))
    else:
        table = Table(title="Secrets")
        for column in ("owner", "secret", "filled", "reads", "problems"):
            table.add_column(column, overflow="fold")
        for c in checks:
            reads = "-" if c.reads is None else ("yes" if c.reads else "[red]no[/red]")
            table.add_row(
                c.owner,
                c.secret,
                "yes" if c.filled else "[red]no[/red]",
                reads,
                "; ".join(c.problems) or "[green]ok[/green]",
            )
        console.print(table)
    return 0 if all(c.ok for c in checks) else PROBLEMS_FOUND


def cmd_set(args: argparse.Namespace, target: Any, client: Any, runtime: Any) -> int:
    """Values from stdin (a JSON object; scripts) or, at a terminal, a prompt per field that
    echoes nothing (empty keeps what is there). The schema checks them before anything is
    written; only field names are printed."""
    from pydantic import ValidationError

    from shared.channels.spec import load
    from shared.validation import describe

    found = target(args)
    owners = _owners()
    if args.owner not in owners or args.owner not in found["secrets"]:
        errors.print(f"[red]No secret for {args.owner!r}; there are: {', '.join(found['secrets'])}")
        return 2
    names = secret_names(found, args.owner)
    name = args.secret or names[0]
    if name not in names:
        errors.print(f"[red]{name!r} is not a secret of {args.owner}: {', '.join(names)}[/red]")
        return 2
    schema = load(owners[args.owner].secret_schema)
    sm = client(found, "secretsmanager")
    if sys.stdin.isatty():
        current = json.loads(sm.get_secret_value(SecretId=name)["SecretString"] or "{}")
        given = dict(current)
        for field_name in schema.model_fields:
            typed = getpass.getpass(f"{field_name} (empty: keep): ")
            if typed:
                given[field_name] = typed
    else:
        try:
            given = json.loads(sys.stdin.read())
        except ValueError:
            errors.print("[red]stdin is not JSON: give the secret as one JSON object[/red]")
            return 2
        if not isinstance(given, dict):
            errors.print("[red]stdin is not a JSON object[/red]")
            return 2
    try:
        schema.model_validate(given)
    except ValidationError as exc:
        errors.print(f"[red]Refused, nothing written: {describe(exc)}[/red]")
        return 2
    confirm(args, f"secrets set {name}", runtime(found).audit, {"fields": sorted(given)})
    sm.put_secret_value(SecretId=name, SecretString=json.dumps(given))
    result = {"secret": name, "fields": sorted(given)}
    if args.json:
        print(json.dumps(result))
    else:
        console.print(f"{name} written ({len(given)} fields); `keel secrets check` tries it")
    return 0
