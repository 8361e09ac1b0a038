"""`keel status`: one screen of a running stack (shared/services/operations_status.py). Exit 0
when nothing needs a person, 3 when something does (each problem names its command)."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.table import Table

from keel_cli.dlq import dead_letter_queues

console = Console()
PROBLEMS_FOUND = 3


def register(sub: Any, state: Any, runtime: Any) -> None:
    status = sub.add_parser("status", help="queues, DLQs, workflows, held orders, polls: one look")
    status.add_argument("--json", action="store_true", help="data on stdout, for scripts")
    status.add_argument(
        "--watch", type=float, nargs="?", const=2.0, metavar="SECONDS",
        help="look again every SECONDS (default 2) until Ctrl-C",
    )  # fmt: skip
    status.set_defaults(func=lambda args: cmd_status(args, state, runtime))


def cmd_status(args: argparse.Namespace, state: Any, runtime: Any, sleep: Any = time.sleep) -> int:
    """With --watch, the screen is redrawn every interval; Ctrl-C ends it with the last exit
    code."""
    if not args.watch:
        return _once(args, state, runtime)
    code = 0
    try:
        while True:
            console.clear()
            code = _once(args, state, runtime)
            console.print(f"[dim]every {args.watch:g} s; Ctrl-C stops[/dim]")
            sleep(args.watch)
    except KeyboardInterrupt:
        return code


def _once(args: argparse.Namespace, state: Any, runtime: Any) -> int:
    from shared.channels.registry import BY_NAME
    from shared.services.operations_status import gather
    from shared.workflow import STATE_MACHINE

    found = state(args)
    rt = runtime(found)
    polled = {
        channel: account
        for channel, account in _first_accounts(found, rt).items()
        if channel in BY_NAME and BY_NAME[channel].poll_orders
    }
    status = gather(
        rt.aws("sqs"),
        rt.aws("stepfunctions"),
        found["state_machines"][STATE_MACHINE],
        rt.orders,
        found["queues"],
        dead_letter_queues(found),
        polled,
        cloudwatch=rt.aws("cloudwatch"),
        alarm_prefix=found.get("alarm_prefix"),
    )
    if args.json:
        print(json.dumps(asdict(status), indent=2))
        return PROBLEMS_FOUND if status.problems else 0
    queues = Table(title="Queues (messages waiting / in flight)")
    queues.add_column("queue")
    queues.add_column("waiting", justify="right")
    queues.add_column("in flight", justify="right")
    for q in status.queues:
        queues.add_row(q.name, str(q.messages), str(q.in_flight))
    console.print(queues)
    busy = [q for q in status.dead_letters if q.messages or q.in_flight]
    console.print(
        f"Dead-letter queues: {len(status.dead_letters)}, "
        + (", ".join(f"{q.name} {q.messages + q.in_flight}" for q in busy) or "all empty")
    )
    console.print(
        f"Order workflows: {status.workflows_running} running, "
        f"{len(status.workflows_failed)} failed"
    )
    held = ", ".join(f"{reason} {n}" for reason, n in status.held_orders.items()) or "none"
    console.print(f"Held orders: {held}; held deliveries: {status.held_deliveries}")
    polls = ", ".join(f"{c} up to {t or 'never'}" for c, t in status.last_polls.items())
    console.print(f"Polls: {polls or 'none'}")
    console.print(f"Alarms in ALARM: {', '.join(status.alarms) or 'none'}")
    if status.problems:
        console.print("[red]Needs a person:[/red]")
        for problem in status.problems:
            console.print(f"  [red]- {problem}[/red]")
        return PROBLEMS_FOUND
    console.print("[green]Nothing needs a person.[/green]")
    return 0


def _first_accounts(found: dict[str, Any], rt: Any) -> dict[str, str]:
    """Channel -> its first account, as polls' watermarks name it: the local stack writes them;
    a deployed environment's are in its secrets (an unfilled one has none yet)."""
    import botocore.exceptions

    from shared.channels.registry import BY_NAME

    if "accounts" in found:
        return dict(found["accounts"])
    sm = rt.aws("secretsmanager")
    accounts = {}
    for channel, name in found.get("secrets", {}).items():
        spec = BY_NAME.get(channel)
        if spec is None or spec.poll_orders is None:
            continue
        try:
            secret = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
            account = spec.account(secret)
        except (KeyError, ValueError, TypeError, botocore.exceptions.ClientError):
            continue
        if account:
            accounts[channel] = account
    return accounts
