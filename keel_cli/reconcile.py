"""`keel reconcile [CHANNEL] [--dry-run] [--json]`: run reconciliation now, in the environment,
as its schedules do (each channel's `reconcile-<channel>` function, then `reconcile-books`), and
show what it found: drift per listing and field, repairs, subscriptions re-armed, orders found
only now, and Keel's books. `--dry-run` reads and compares only.

Exit 0 when the books hold (drift found and repaired is reconciliation doing its job), 1 when
a run failed, 3 when the books do not hold or drift survived two runs (a person is needed)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()
NEEDS_A_PERSON = 3


def register(sub: Any, state: Any, client: Any, confirm: Any) -> None:
    reconcile = sub.add_parser(
        "reconcile", help="find and repair drift on the channels now; check Keel's books"
    )
    reconcile.add_argument("channel", nargs="?", help="only this channel (default: every one)")
    reconcile.add_argument("--dry-run", action="store_true", help="read and compare only")
    reconcile.add_argument("--json", action="store_true", help="the report as JSON")
    reconcile.set_defaults(func=lambda args: cmd_reconcile(args, state, client, confirm))


def cmd_reconcile(args: argparse.Namespace, state: Any, client: Any, confirm: Any) -> int:
    from shared.wiring import BOOKS_CHECK

    found = state(args)
    runs = {
        name.removeprefix("reconcile-"): arn
        for name, arn in found["functions"].items()
        if name.startswith("reconcile-") and name != BOOKS_CHECK
    }
    if args.channel and args.channel not in runs:
        console.print(f"[red]No reconciliation for {args.channel!r}; channels: {sorted(runs)}")
        return 2
    if not args.dry_run:
        confirm(args, f"reconcile {args.channel or 'every channel'} (repairs drift)")
    lam = client(found, "lambda")
    report: dict[str, Any] = {"dry_run": bool(args.dry_run), "channels": {}}
    failed = False
    for channel in [args.channel] if args.channel else sorted(runs):
        said, error = _invoke(lam, runs[channel], {"dry_run": bool(args.dry_run)})
        report["channels"][channel] = said if error is None else {"error": error}
        failed = failed or error is not None
    books, error = _invoke(lam, found["functions"][BOOKS_CHECK], {})
    report["books"] = books if error is None else {"error": error}
    failed = failed or error is not None
    if args.json:
        print(json.dumps(report))
    else:
        _print(report)
    if failed:
        return 1
    persisting = any(c.get("persisting") for c in report["channels"].values())
    return NEEDS_A_PERSON if persisting or not report["books"].get("ok", False) else 0


def _invoke(lam: Any, arn: str, event: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    from shared.aws import invoke_json

    payload, error = invoke_json(lam, arn, event)
    return (payload if isinstance(payload, dict) else {}), error


def _print(report: dict[str, Any]) -> None:
    title = "Reconciliation" + (" (dry run: nothing changed)" if report["dry_run"] else "")
    table = Table(title=title)
    for column in ("channel", "checked", "drift", "repaired", "re-armed", "orders found", "note"):
        table.add_column(column)
    for channel, said in report["channels"].items():
        if "error" in said:
            table.add_row(channel, "-", "-", "-", "-", "-", f"[red]failed: {said['error']}")
            continue
        notes = [*said["errors"]]
        if said["persisting"]:
            notes.append(f"{said['persisting']} drift(s) survived two runs")
        if said["missing_on_channel"]:
            notes.append(f"{len(said['missing_on_channel'])} listing(s) not on the channel")
        if said["in_flight"]:
            notes.append(f"{said['in_flight']} write(s) in flight, not compared")
        table.add_row(
            channel,
            str(said["checked"]),
            str(len(said["drift"])),
            str(said["repaired"]),
            str(said["subscriptions_rearmed"]),
            str(said["orders_found"]),
            "; ".join(notes) or "ok",
        )
    console.print(table)
    drift = [(c, d) for c, said in report["channels"].items() for d in said.get("drift", [])]
    if drift:
        rows = Table(title="Drift (Keel's value is what the channel is repaired to)")
        for column in ("channel", "listing", "sku", "field", "keel", "channel shows"):
            rows.add_column(column)
        for channel, d in drift:
            rows.add_row(channel, d["listing_id"], d["sku"], d["field"], d["keel"], d["channel"])
        console.print(rows)
    books = report["books"]
    if "error" in books:
        console.print(f"[red]Books check failed: {books['error']}")
    elif books["ok"]:
        console.print(
            f"Books hold: {books['skus_checked']} SKU(s), {books['orders_checked']} order(s)"
        )
    else:
        console.print(f"[red]Books do not hold ({len(books['mismatches'])} mismatch(es)):")
        for problem in books["mismatches"]:
            who = problem["sku"] or problem["order"]
            console.print(f"  [red]{problem['kind']}[/red] {who}: {problem['detail']}")
