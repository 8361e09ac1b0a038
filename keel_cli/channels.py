"""`keel channels discover | link | connect | status CHANNEL`: find a merchant's existing
listings on a channel, link the ones that match Keel's SKUs, and register (or check) the
webhooks and notifications Keel needs (shared/services/onboarding.py). The channel is read with
the environment's own secrets, from the operator's machine, within its rate limits."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()
errors = Console(stderr=True)


def register(sub: Any, state: Any, runtime: Any) -> None:
    channels = sub.add_parser("channels", help="onboard channels: discover, link, connect, status")
    ch_sub = channels.add_subparsers(dest="channels_command", required=True)

    discover = ch_sub.add_parser("discover", help="match the channel's listings to Keel's SKUs")
    discover.add_argument("channel")
    discover.add_argument("--json", action="store_true")
    discover.set_defaults(func=lambda args: cmd_discover(args, state, runtime))

    link = ch_sub.add_parser("link", help="store the matched listings; publish stock and prices")
    link.add_argument("channel")
    link.add_argument("--reason", default="onboarding", help="why (the audit trail's)")
    link.add_argument("--actor", default=getpass.getuser(), help="who (default: you)")
    link.add_argument("--json", action="store_true")
    link.set_defaults(func=lambda args: cmd_link(args, state, runtime))

    connect = ch_sub.add_parser("connect", help="register the webhooks/notifications Keel needs")
    connect.add_argument("channel")
    connect.add_argument("--dry-run", action="store_true", help="say what it would do")
    connect.add_argument("--reason", default="onboarding", help="why (the audit trail's)")
    connect.add_argument("--actor", default=getpass.getuser(), help="who (default: you)")
    connect.add_argument("--json", action="store_true")
    connect.set_defaults(func=lambda args: cmd_connect(args, state, runtime))

    status = ch_sub.add_parser("status", help="each subscription Keel needs, and its health")
    status.add_argument("channel", nargs="?", help="default: every channel")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=lambda args: cmd_status(args, state, runtime))


def _access(args: argparse.Namespace, state: Any, runtime: Any) -> tuple[Any, Any, Any]:
    from shared.channels.registry import BY_NAME

    if args.channel not in BY_NAME:
        raise SystemExit(_refuse(f"no channel {args.channel!r}; channels: {sorted(BY_NAME)}"))
    found = state(args)
    rt = runtime(found)
    return found, rt, rt.channel(args.channel).access()


def _refuse(message: str) -> int:
    errors.print(f"[red]{message}[/red]")
    return 2


def cmd_discover(args: argparse.Namespace, state: Any, runtime: Any) -> int:
    from shared.services.onboarding import discover_channel

    _, rt, access = _access(args, state, runtime)
    report = discover_channel(access, rt.catalog, rt.catalog).as_dict()
    if args.json:
        print(json.dumps(report))
        return 0
    _print_discovery(report)
    return 0


def cmd_link(args: argparse.Namespace, state: Any, runtime: Any) -> int:
    from keel_cli.targets import confirm
    from shared.services.onboarding import discover_channel, link_matches
    from shared.services.pricing import pricing_of

    _, rt, access = _access(args, state, runtime)
    found = discover_channel(access, rt.catalog, rt.catalog)
    matches = found.found.matched
    if not args.json:
        _print_discovery(found.as_dict())
    if not matches:
        if args.json:
            print(json.dumps({"channel": args.channel, "linked": [], "skipped": [],
                              "listings_priced": 0}))  # fmt: skip
        else:
            console.print("Nothing to link.")
        return 0
    if not getattr(args, "yes", False):
        if not sys.stdin.isatty():
            return _refuse(f"link {len(matches)} listing(s): add --yes (no terminal to ask)")
        answer = input(f"Link {len(matches)} listing(s) on {args.channel}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            console.print("Nothing linked.")
            return 1
    confirm(args, f"channels link {args.channel} ({len(matches)} listings)", rt.audit)
    pricing = pricing_of(rt.prices, rt.catalog.listings_for)
    report = link_matches(access, matches, rt.catalog, pricing, args.actor).as_dict()
    if args.json:
        print(json.dumps(report))
        return 0
    console.print(
        f"{args.channel}: linked {len(report['linked'])} listing(s); Keel now publishes their "
        f"stock and prices ({report['listings_priced']} priced)."
    )
    for skipped in report["skipped"]:
        console.print(f"[yellow]skipped {skipped['sku']} ({skipped['listing_id']}): "
                      f"{skipped['why']}[/yellow]")  # fmt: skip
    return 0


def cmd_connect(args: argparse.Namespace, state: Any, runtime: Any) -> int:
    from keel_cli.targets import confirm
    from shared.channels.registry import BY_NAME
    from shared.services.onboarding import by_account, connect_channel, delivery_address

    found, rt, access = _access(args, state, runtime)
    address = delivery_address(found, BY_NAME[args.channel])
    if not args.dry_run:
        confirm(args, f"channels connect {args.channel} -> {address}", rt.audit)
    done = connect_channel(access, address, dry_run=args.dry_run)
    if args.json:
        print(json.dumps({"channel": args.channel, "address": address,
                          "accounts": by_account(done)}))  # fmt: skip
        return 0
    _print_subscriptions(args.channel, [s.as_dict() for s in done])
    return 0


def cmd_status(args: argparse.Namespace, state: Any, runtime: Any) -> int:
    from shared.channels.registry import BY_NAME
    from shared.services.onboarding import by_account, delivery_address, subscription_status

    found = state(args)
    rt = runtime(found)
    names = (
        [args.channel] if args.channel else sorted(found.get("secrets", {}).keys() & BY_NAME.keys())
    )
    if args.channel and args.channel not in BY_NAME:
        return _refuse(f"no channel {args.channel!r}; channels: {sorted(BY_NAME)}")
    report = []
    for name in names:
        address = delivery_address(found, BY_NAME[name])
        states = subscription_status(rt.channel(name).access(), address)
        healthy = all(s.healthy for s in states)
        report.append({"channel": name, "address": address, "healthy": healthy,
                       "accounts": by_account(states)})  # fmt: skip
    healthy = all(e["healthy"] for e in report)
    if args.json:
        print(json.dumps(report[0] if args.channel else report))
        return 0 if healthy else 1
    for entry in report:
        rows = [row for rows in entry["accounts"].values() for row in rows]
        _print_subscriptions(entry["channel"], rows)
    return 0 if healthy else 1


def _print_discovery(report: dict[str, Any]) -> None:
    table = Table(title=f"{report['channel']}: {report['read']} listing(s) read")
    for column in ("listing", "sku", "where", "result"):
        table.add_column(column, overflow="fold")
    for m in report["matched"]:
        table.add_row(m["listing_id"], m["sku"], _where(m), f"[green]match by {m['by']}[/green]")
    for m in report["already_linked"]:
        table.add_row(m["listing_id"], m["sku"], _where(m), "linked already")
    for c in report["conflicts"]:
        table.add_row(", ".join(c["listing_ids"]), ", ".join(c["skus"]), _where(c),
                      f"[red]conflict {c['kind']}[/red]: {c['detail']}")  # fmt: skip
    for x in report["unmatched_on_channel"]:
        table.add_row(x["listing_id"], x["sku"] or "", _where(x), "[yellow]not in Keel[/yellow]")
    for x in report["unmatched_in_keel"]:
        table.add_row("", x["sku"], _where(x), "[yellow]not on the channel[/yellow]")
    console.print(table)


def _print_subscriptions(channel: str, rows: list[dict[str, Any]]) -> None:
    table = Table(title=f"{channel}: subscriptions")
    for column in ("account", "topic", "healthy", "state", "action"):
        table.add_column(column, overflow="fold")
    for row in rows:
        healthy = "[green]yes[/green]" if row["healthy"] else "[red]no[/red]"
        table.add_row(row["account"] or "(first)", row["topic"], healthy, row["detail"],
                      row.get("action", ""))  # fmt: skip
    console.print(table)


def _where(row: dict[str, Any]) -> str:
    return "/".join(part for part in (row.get("account"), row.get("marketplace")) if part)
