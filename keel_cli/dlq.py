"""`keel dlq list | peek`: the dead-letter queues of the running stack, read without consuming
(shared/services/dead_letter_queues.py). Redrive is `keel dlq redrive` (issue #22, next)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()
errors = Console(stderr=True)  # data on stdout, errors on stderr (with --json too)


def dead_letter_queues(state: dict[str, Any]) -> dict[str, str]:
    """Name -> URL of every DLQ: a queue's as `<queue>-dlq`, as the dashboard and alarms name
    it; a stream's failure queue by its own name."""
    queues = state.get("queues", {})
    return {
        (f"{name}-dlq" if name in queues else name): url
        for name, url in state["dead_letter_queues"].items()
    }


def register(sub: Any, state: Any, runtime: Any) -> None:
    """`state(path)` reads the running stack's state file; `runtime(state)` its composition
    root (both keel_cli.main's)."""
    dlq = sub.add_parser("dlq", help="dead-letter queues: what failed for good, and why")
    dlq_sub = dlq.add_subparsers(dest="dlq_command", required=True)
    listed = dlq_sub.add_parser("list", help="every DLQ and how many messages it holds")
    listed.add_argument("--json", action="store_true", help="data on stdout, for scripts")
    listed.set_defaults(func=lambda args: cmd_list(args, state, runtime))
    peek = dlq_sub.add_parser("peek", help="a DLQ's messages and why each failed (not consumed)")
    peek.add_argument("name", help="the DLQ's name, as `keel dlq list` shows it")
    peek.add_argument("--limit", type=int, default=10, help="most messages shown (default 10)")
    peek.add_argument("--json", action="store_true", help="data on stdout, for scripts")
    peek.set_defaults(func=lambda args: cmd_peek(args, state, runtime))
    export = dlq_sub.add_parser("export", help="copy every message of a DLQ to a JSON file")
    export.add_argument("name", help="the DLQ's name, as `keel dlq list` shows it")
    export.add_argument("file", help="where the copy goes (refused if it exists)")
    export.add_argument("--json", action="store_true", help="the summary as JSON on stdout")
    export.set_defaults(func=lambda args: cmd_export(args, state, runtime))
    redrive = dlq_sub.add_parser(
        "redrive", help="send a DLQ's messages back to the queue they failed on (cause fixed)"
    )
    redrive.add_argument("name", help="the DLQ's name, as `keel dlq list` shows it")
    redrive.add_argument("--limit", type=int, help="at most this many (default: all)")
    redrive.add_argument("--dry-run", action="store_true", help="say what would move; move none")
    redrive.add_argument("--json", action="store_true", help="the result as JSON on stdout")
    redrive.set_defaults(func=lambda args: cmd_redrive(args, state, runtime))


def cmd_list(args: argparse.Namespace, state: Any, runtime: Any) -> int:
    from shared.services.dead_letter_queues import counts

    found = state(args)
    rows = counts(runtime(found).aws("sqs"), dead_letter_queues(found))
    if args.json:
        print(json.dumps([vars(r) for r in rows], indent=2))
        return 0
    table = Table(title="Dead-letter queues")
    for column in ("name", "messages", "in flight"):
        table.add_column(column, justify="left" if column == "name" else "right")
    for row in rows:
        style = "red" if row.messages or row.in_flight else None
        table.add_row(row.name, str(row.messages), str(row.in_flight), style=style)
    console.print(table)
    return 0


def cmd_peek(args: argparse.Namespace, state: Any, runtime: Any) -> int:
    from shared.services.dead_letter_queues import peek

    found = state(args)
    queues = dead_letter_queues(found)
    if args.name not in queues:
        errors.print(f"[red]No DLQ {args.name!r}; there are: {', '.join(sorted(queues))}[/red]")
        return 2
    if args.limit < 1:
        errors.print("[red]--limit must be at least 1[/red]")
        return 2
    letters = peek(runtime(found).aws("sqs"), queues[args.name], args.limit)
    if args.json:
        print(json.dumps([_row(d) for d in letters], indent=2))
        return 0
    table = Table(title=f"{args.name}: {len(letters)} shown, none consumed")
    for column in ("reached the DLQ", "error", "receives (looks too)", "body"):
        table.add_column(column, overflow="fold")
    for d in letters:
        when = d.sent_at.strftime("%Y-%m-%d %H:%M:%S") if d.sent_at else "-"
        error = f"{d.error_class}: {d.error_message}"
        table.add_row(when, error, str(d.receive_count), d.body[:200])
    console.print(table)
    return 0


EXPORT_LIMIT = 100_000  # more than a DLQ of Keel's holds in its 14 days


def cmd_export(args: argparse.Namespace, state: Any, runtime: Any) -> int:
    """A copy of every dead letter (not consumed) before anything moves them."""
    from pathlib import Path

    from shared.services.dead_letter_queues import peek

    found = state(args)
    queues = dead_letter_queues(found)
    target = Path(args.file)
    if args.name not in queues:
        errors.print(f"[red]No DLQ {args.name!r}; there are: {', '.join(sorted(queues))}[/red]")
        return 2
    if target.exists():
        errors.print(f"[red]{target} exists: not overwritten[/red]")
        return 2
    letters = peek(runtime(found).aws("sqs"), queues[args.name], EXPORT_LIMIT)
    target.write_text(json.dumps([_row(d) for d in letters], indent=2) + "\n")
    summary = {"dlq": args.name, "file": str(target), "messages": len(letters)}
    if args.json:
        print(json.dumps(summary))
    else:
        console.print(f"{len(letters)} message(s) of {args.name} copied to {target}")
    return 0


def cmd_redrive(args: argparse.Namespace, state: Any, runtime: Any) -> int:
    """A queue's DLQ goes back to that queue. A stream's failure queue cannot: its messages
    name stream records, not work to resend (`keel resync` republishes every listing)."""
    from shared.services.dead_letter_queues import counts, redrive

    found = state(args)
    queues = dead_letter_queues(found)
    if args.name not in queues:
        errors.print(f"[red]No DLQ {args.name!r}; there are: {', '.join(sorted(queues))}[/red]")
        return 2
    source = args.name.removesuffix("-dlq")
    if not args.name.endswith("-dlq") or source not in found.get("queues", {}):
        errors.print(
            f"[red]{args.name} records stream batches that failed, not messages to resend: "
            "fix the cause, then republish (docs/deploy.md: stream failures).[/red]"
        )
        return 2
    if args.limit is not None and args.limit < 1:
        errors.print("[red]--limit must be at least 1[/red]")
        return 2
    sqs = runtime(found).aws("sqs")
    waiting = counts(sqs, {args.name: queues[args.name]})[0].messages
    if args.dry_run:
        would = waiting if args.limit is None else min(waiting, args.limit)
        result = {"dlq": args.name, "destination": source, "would_move": would, "moved": 0}
        if args.json:
            print(json.dumps(result))
        else:
            console.print(f"{would} message(s) of {args.name} would go back to {source} (dry run)")
        return 0
    from keel_cli.targets import confirm

    amount = waiting if args.limit is None else args.limit
    confirm(args, f"redrive {amount} of {args.name}", runtime(found).audit)
    done = redrive(sqs, queues[args.name], found["queues"][source], args.limit)
    result = {"dlq": args.name, "destination": source, "moved": done.moved, "status": done.status}
    if done.reason:
        result["reason"] = done.reason
    if args.json:
        print(json.dumps(result))
    else:
        console.print(
            f"{done.moved} message(s) of {args.name} sent back to {source}: {done.status}"
        )
        if done.reason:
            errors.print(f"[red]{done.reason}[/red]")
    return 0 if done.status in ("COMPLETED", "MOVED") else 1


def _row(letter: Any) -> dict[str, Any]:
    row = vars(letter).copy()
    row["sent_at"] = letter.sent_at.isoformat() if letter.sent_at else None
    return dict(row)
