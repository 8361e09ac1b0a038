"""`keel`: run the demo and the local stack, and operate Keel: orders, stock, listings,
polls, workflows, dead letters, status.

Every command works on the local stack (its `.keel/local.json`) or, with `--env dev|staging|prod`,
on a deployed environment found from its CloudFormation stack's outputs; changes on staging and
prod are confirmed (or `--yes`).
"""

from __future__ import annotations

import argparse
import faulthandler
import getpass
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from keel_cli.targets import add_arguments as add_target_arguments
from keel_cli.targets import add_to_every_command

if TYPE_CHECKING:
    from shared.domain.orders import Order

STATE_FILE = Path(".keel/local.json")
console = Console()


def cmd_demo(args: argparse.Namespace) -> int:
    from local_stack.demo import run_demo
    from local_stack.seed import DEMO_MORE_ACCOUNTS
    from local_stack.stack import LocalConfig, LocalStack, quiet_logs

    quiet_logs()
    with (
        console.status("Starting the embedded local stack…") as status,
        LocalStack(LocalConfig(log_level="CRITICAL", more_accounts=DEMO_MORE_ACCOUNTS)) as stack,
    ):

        def progress(step: str) -> None:
            if console.is_terminal:
                status.update(f"Demo: {step}…")
            else:  # piped: one line per step, apart from the report
                print(f"demo: {step}", file=sys.stderr, flush=True)

        report = run_demo(stack, progress=progress)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, default=str))
    else:
        from keel_cli.report import print_demo_report

        print_demo_report(console, report)
    return 0 if report.ok else 1


def cmd_local_up(args: argparse.Namespace) -> int:
    from local_stack.powertools_mends import readable_log_lines
    from local_stack.seed import DEMO_MORE_ACCOUNTS, seed_demo
    from local_stack.stack import LocalConfig, LocalStack, quiet_logs, stores

    quiet_logs()
    readable_log_lines()
    # moto logs a workflow's expected failures (a refused step, a compensation) as errors with
    # tracebacks; Keel's own functions say what happened, one line each.
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` prints every thread's stack
    more_accounts = DEMO_MORE_ACCOUNTS if args.seed in ("demo", "merchant") else {}
    stack = LocalStack(LocalConfig(log_level=args.log_level, more_accounts=more_accounts)).start()
    catalog_file = None
    try:
        if args.seed == "demo":
            catalog, inventory, _ = stores(stack)
            seed_demo(catalog, inventory, stack.sandboxes, targets=stack.listing_targets())
        elif args.seed == "merchant":
            from local_stack.seed_merchant import seed_merchant

            catalog_file = seed_merchant(stack.listing_targets())
        path = stack.write_state(Path(args.state_file))
        endpoints = stack.endpoints()
        table = Table(
            title="Keel local stack",
            show_header=False,
            caption=f"Full values, and the local-only secrets: {path}",
        )
        table.add_row("AWS (moto)", endpoints["aws_endpoint"])
        table.add_row("Gateway", endpoints["gateway"])
        for channel, url in endpoints["webhooks"].items():
            table.add_row(f"Webhook {channel}", f"POST {url}")
        for carrier, url in endpoints["carrier_webhooks"].items():
            table.add_row(f"Webhook {carrier} (carrier)", f"POST {url}")
        for name, arn in endpoints["state_machines"].items():
            table.add_row(f"State machine {name}", arn)
        for channel, url in endpoints["sandboxes"].items():
            table.add_row(f"Sandbox {channel}", url)
        for channel, by_account in endpoints["account_sandboxes"].items():
            for account, url in list(by_account.items())[1:]:  # the first: above
                table.add_row(f"Sandbox {channel} {account}", url)
        for name, url in endpoints["queues"].items():
            table.add_row(f"Queue {name}", url)
        for name, url in endpoints["dead_letter_queues"].items():
            table.add_row(f"DLQ {name}", url)
        for name, physical in endpoints["tables"].items():
            table.add_row(f"Table {name}", physical)
        table.add_row("Secrets (local only)", str(path))
        if catalog_file is not None:
            table.add_row("Catalog file to import", str(catalog_file))
        console.print(table)
        if catalog_file is not None:
            console.print(
                "Keel is empty and the channels hold the merchant's listings. Onboard it:\n"
                f"  keel catalog import {catalog_file}\n"
                "  keel channels discover shopify   (then link --yes, and connect; each channel)"
            )
        console.print("Running. Ctrl-C stops it.")
        stopped = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopped.set())
        # Wake up regularly: a signal the kernel hands to another thread does not interrupt a
        # main thread blocked on a lock, and Python only runs handlers in the main thread.
        while not stopped.wait(0.5):
            pass
    finally:
        stack.stop()
        Path(args.state_file).unlink(missing_ok=True)
    return 0


def _target(args: argparse.Namespace) -> dict[str, Any]:
    """The environment `--env` names (the local stack by default), by wiring name."""
    from keel_cli.targets import target

    return target(args)


def _confirm(args: argparse.Namespace, what: str) -> None:
    from keel_cli.targets import confirm

    confirm(args, what, _runtime(_target(args)).audit)


def _client(state: dict[str, Any], service: str) -> Any:
    from keel_cli.targets import client

    return client(state, service)


def _runtime(state: dict[str, Any]) -> Any:
    """The composition root the functions use, pointed at the environment."""
    from shared.runtime import Runtime
    from shared.stack_outputs import runtime_env

    env = runtime_env(state)
    return Runtime(env=env, aws=lambda service: _client(state, service))


def _stores(state: dict[str, Any]) -> tuple[Any, Any, Any]:
    rt = _runtime(state)
    return rt.catalog, rt.inventory, rt.orders


def cmd_audit_list(args: argparse.Namespace) -> int:
    from datetime import UTC, date, datetime

    try:
        day = date.fromisoformat(args.day) if args.day else datetime.now(UTC).date()
    except ValueError:
        console.print(f"[red]--day {args.day!r} is not YYYY-MM-DD[/red]")
        return 2
    entries = _runtime(_target(args)).audit.entries(day)
    if args.json:
        print(json.dumps([{**vars(e), "at": e.at.isoformat()} for e in entries], indent=2))
        return 0
    table = Table(title=f"Changes on {day.isoformat()} (UTC)")
    for column in ("at", "actor", "env", "what", "why"):
        table.add_column(column, overflow="fold")
    for e in entries:
        table.add_row(e.at.strftime("%H:%M:%S"), e.actor, e.env, e.command, e.reason)
    console.print(table)
    return 0


def cmd_orders_list(args: argparse.Namespace) -> int:
    from shared.stores.orders import order_to_doc

    _, _, orders = _stores(_target(args))
    found = sorted(orders.orders(), key=lambda o: o.created_at)
    held = orders.held_deliveries()
    if args.json:
        print(
            json.dumps(
                {
                    "orders": [order_to_doc(o) for o in found],
                    "held_deliveries": [h.__dict__ for h in held],
                },
                indent=2,
            )
        )
        return 0
    # Readable at 80 columns: an order by the short name `keel orders show` takes (channel#id);
    # its full key, version and history are in `orders show` and --json.
    table = Table(title="Orders (keel orders show CHANNEL#ID for one)")
    table.add_column("order", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("total", justify="right", no_wrap=True)
    table.add_column("lines", overflow="fold", min_width=16)
    table.add_column("held for / last change", overflow="fold", ratio=1)
    for o in found:
        lines = ", ".join(f"{ln.quantity}x {ln.sku or ln.channel_sku}" for ln in o.lines)
        last = o.history[-1][2].split(" (")[0] if o.history else ""
        table.add_row(
            f"{o.channel}#{o.external_id}",
            o.status.value,
            f"{o.total.amount} {o.total.currency}",
            lines,
            o.hold_reason or last,
        )
    console.print(table)
    if held:
        held_table = Table(title="Held deliveries (accepted, not readable)")
        for column in ("channel", "delivery", "topic", "reason"):
            held_table.add_column(column)
        for h in held:
            held_table.add_row(h.channel, h.delivery_id, h.topic, h.reason[:120])
        console.print(held_table)
    return 0


def _resolve_order_key(known: list[Order], wanted: str) -> str | None:
    """The full key, or a shorter way a person names an order (channel#id, the channel's order
    name) when exactly one order answers to it."""
    if any(o.key == wanted for o in known):
        return wanted
    matches = [o.key for o in known if wanted in (f"{o.channel}#{o.external_id}", o.name)]
    return matches[0] if len(matches) == 1 else None


def cmd_orders_show(args: argparse.Namespace) -> int:
    """One order, its lines and the history of its status changes with their causes."""
    from shared.stores.orders import order_to_doc

    _, _, orders = _stores(_target(args))
    key = _resolve_order_key(orders.orders(), args.key)
    found = orders.get_with_reservations(key) if key else None
    if found is None:
        console.print(
            f"[red]No single order {args.key!r}: give its key (channel#account#id, as "
            "`keel orders list` shows), channel#id, or its name[/red]"
        )
        return 1
    order, reserved = found
    if args.json:
        print(json.dumps({**order_to_doc(order), "reserved": reserved}, indent=2))
        return 0
    console.print(
        f"[bold]{order.key}[/bold] {order.name}: {order.status.value}"
        + (f" ({order.hold_reason})" if order.hold_reason else "")
        + f", version {order.channel_updated_at.isoformat()}, total {order.total.amount}"
        f" {order.total.currency}, reserved {reserved or 'nothing'}"
    )
    lines = Table(title="Lines")
    for column in ("line", "qty", "sku", "channel sku", "unit price"):
        lines.add_column(column)
    for ln in order.lines:
        lines.add_row(
            ln.line_id, str(ln.quantity), ln.sku or "-", ln.channel_sku or "-",
            f"{ln.unit_price.amount} {ln.unit_price.currency}",
        )  # fmt: skip
    console.print(lines)
    if order.refunds:
        refunds = Table(title="Refunds")
        for column in ("refund", "at", "amount", "lines (qty, restocked)", "note"):
            refunds.add_column(column)
        for r in order.refunds:
            refunds.add_row(
                r.refund_id, r.created_at.isoformat(), f"{r.amount.amount} {r.amount.currency}",
                ", ".join(f"{x.line_id}: {x.quantity}{' restocked' if x.restock else ''}"
                          for x in r.lines) or "-",
                r.note,
            )  # fmt: skip
        console.print(refunds)
    history = Table(title="History")
    for column in ("at", "status", "cause"):
        history.add_column(column)
    for at, status, cause in order.history:
        history.add_row(at.isoformat(), status, cause)
    console.print(history)
    return 0


def cmd_stock_show(args: argparse.Namespace) -> int:
    from shared.channels.registry import BY_NAME
    from shared.services.stock import derived_quantities

    state = _target(args)
    catalog, inventory, _ = _stores(state)
    first_accounts = state.get("accounts", {})
    levels = {lv.sku: lv for lv in inventory.levels()}
    skus = [args.sku] if args.sku else sorted(set(levels) | set(catalog.products()))
    rows = []
    for sku in skus:
        level = levels.get(sku)
        if level is None and args.sku:
            console.print(f"[red]Unknown SKU {sku!r}[/red]")
            return 1
        available = level.available if level else 0
        listings = sorted(catalog.listings_for(sku), key=lambda x: x.key)
        derived = derived_quantities(listings, available)
        rows.append(
            {
                "sku": sku,
                "on_hand": level.on_hand if level else 0,
                "reserved": level.reserved if level else 0,
                "safety_stock": level.safety_stock if level else 0,
                "available": available,
                "listings": [
                    {
                        "channel": listing.channel,
                        "ids": listing.refs,
                        "derived_quantity": derived[listing.key],
                        # The account it sells in ("" in the key: the channel's first account).
                        "account": listing.account or first_accounts.get(listing.channel, ""),
                        "marketplace": listing.marketplace,
                        "countries": list(listing.countries),
                        "label": _listing_label(BY_NAME, listing),
                    }
                    for listing in listings
                ],
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    _print_stock(rows, detail=bool(args.sku))
    return 0


def _listing_label(by_name: dict[str, Any], listing: Any) -> str:
    spec = by_name.get(listing.channel)
    if spec is None:
        return str(listing.key)
    return str(spec.listing_label(listing.account, listing.marketplace))


def _print_stock(rows: list[dict[str, Any]], detail: bool) -> None:
    """One row per SKU and a column per listing (channel[@shop][/marketplace]) with what it is
    to show (readable at 80 columns); for one SKU, its listings' ids below."""
    labels = sorted({listing["label"] for row in rows for listing in row["listings"]})
    table = Table(title="Stock (listing columns: the quantity each is to show)")
    table.add_column("sku", no_wrap=True)
    for column in ("on hand", "resv", "safety", "avail"):
        table.add_column(column, justify="right")
    for label in labels:
        name, _, qualifier = label.replace("/", "@").partition("@")
        table.add_column(name + (f"\n{qualifier}" if qualifier else ""), justify="right")
    for row in rows:
        shows = {listing["label"]: listing["derived_quantity"] for listing in row["listings"]}
        figures = [row[k] for k in ("on_hand", "reserved", "safety_stock", "available")]
        table.add_row(row["sku"], *map(str, figures), *(str(shows.get(c, "-")) for c in labels))
    console.print(table)
    if not detail:
        return
    ids = Table(title=f"{rows[0]['sku']}: its listings")
    ids.add_column("listing", no_wrap=True)
    ids.add_column("ids", overflow="fold")
    for listing in rows[0]["listings"]:
        where = f" ({', '.join(listing['countries'])})" if listing["countries"] else ""
        ids.add_row(
            listing["label"] + where, " ".join(f"{k}={v}" for k, v in listing["ids"].items())
        )
    console.print(ids)


def cmd_stock_move(args: argparse.Namespace) -> int:
    """`stock receive` and `stock adjust`: one ledger entry, idempotent on the reference."""
    _confirm(args, f"stock {args.stock_command} {args.sku} {args.quantity}")
    import uuid
    from datetime import UTC, datetime

    from shared.domain.inventory import InsufficientStock
    from shared.services import stock

    catalog, inventory, _ = _stores(_target(args))
    if args.sku not in catalog.products():
        console.print(f"[red]Unknown SKU {args.sku!r}[/red]")
        return 1
    now = datetime.now(UTC)
    before = inventory.get(args.sku)
    reference = args.reference or f"adjust:{uuid.uuid4()}"
    try:
        if args.stock_command == "receive":
            if args.quantity <= 0:
                raise ValueError("a receipt brings at least one unit")
            applied = stock.receive(inventory, args.sku, args.quantity, reference, args.actor, now)
        else:
            applied = stock.adjust(
                inventory, args.sku, args.quantity, reference, args.actor, now, args.reason
            )
    except InsufficientStock as exc:
        console.print(
            f"[red]Refused: {args.sku}: removing {-args.quantity}, but only "
            f"{exc.reservable} are not promised to orders[/red]"
        )
        return 2
    except ValueError as exc:
        console.print(f"[red]Refused: {exc}[/red]")
        return 2
    if not applied:
        recorded = next((m for m in inventory.ledger(args.sku) if m.reference == reference), None)
        if recorded is not None and recorded.quantity != args.quantity:
            console.print(
                f"[red]Refused: reference {reference} already records {recorded.quantity:+d} "
                f"({recorded.cause.value}, {recorded.at:%Y-%m-%d %H:%M} UTC, by "
                f"{recorded.actor}); this asks for {args.quantity:+d}. Use a new reference "
                "for new goods.[/red]"
            )
            return 1
    level = inventory.get(args.sku)
    result = {
        "sku": args.sku,
        "applied": applied,
        "on_hand": level.on_hand if level else 0,
        "available": level.available if level else 0,
        "before": {
            "on_hand": before.on_hand if before else 0,
            "available": before.available if before else 0,
        },
    }
    if args.json:
        print(json.dumps(result))
    elif applied:
        console.print(
            f"{args.sku}: on hand {result['before']['on_hand']} → {result['on_hand']}, "
            f"available {result['before']['available']} → {result['available']}"
        )
    else:
        console.print(f"{args.sku}: {reference} is already recorded as this; nothing changed")
    return 0


def cmd_poll(args: argparse.Namespace) -> int:
    """Run a channel's poll backstop now, in the environment (as its schedule would)."""
    from shared.aws import invoke_json

    state = _target(args)
    _confirm(args, f"poll {args.channel or 'every channel'}")
    polls = {
        name.removeprefix("poll-"): arn
        for name, arn in state["functions"].items()
        if name.startswith("poll-")
    }
    wanted = [args.channel] if args.channel else sorted(polls)
    unknown = [c for c in wanted if c not in polls]
    if unknown:
        console.print(f"[red]No poll for {unknown}; channels with one: {sorted(polls)}[/red]")
        return 1
    lam = _client(state, "lambda")
    reports = []
    for channel in wanted:
        payload, error = invoke_json(lam, polls[channel], {"schedule": f"poll-{channel}"})
        if error is not None:
            console.print(f"[red]{channel}: poll failed: {error}[/red]")
            return 1
        reports.append(payload)
    if args.json:
        print(json.dumps(reports[0] if args.channel else reports))
        return 0
    for report in reports:
        missed = report["missed_by_webhooks"]
        console.print(
            f"{report['channel']}: {report['taken']} changed order(s) since {report['since']}"
            f" {report['outcomes']}; found only by the poll: {missed or 'none'}"
        )
    return 0


def cmd_resync(args: argparse.Namespace) -> int:
    """Republish every listing now (one channel's, or all), as the resync schedule would."""
    from shared.aws import invoke_json
    from shared.channels.registry import BY_NAME

    state = _target(args)
    if args.channel and args.channel not in BY_NAME:
        console.print(f"[red]No channel {args.channel!r}[/red]")
        return 2
    _confirm(args, f"resync {args.channel or 'every channel'}")
    event = {"schedule": "resync", **({"channel": args.channel} if args.channel else {})}
    sent, error = invoke_json(_client(state, "lambda"), state["functions"]["resync"], event)
    if error is not None:
        console.print(f"[red]resync failed: {error}[/red]")
        return 1
    if args.json:
        print(json.dumps(sent))
    else:
        said = ", ".join(f"{channel} {n}" for channel, n in sent.items()) or "no listings"
        console.print(f"Sync triggers sent: {said} (each channel's sync publishes Keel's stock)")
    return 0


def cmd_listings_set(args: argparse.Namespace) -> int:
    """New publishing rules for one listing; the catalog's stream carries them to the channel."""
    from datetime import UTC, datetime
    from decimal import Decimal, InvalidOperation

    from shared.domain.listings import ListingRules

    state = _target(args)
    catalog, _, _ = _stores(state)
    listing = _named_listing(state, catalog, args, strict=True)
    if listing is None:
        return 1
    current = listing.rules
    try:
        price_rules = _price_rules(state, args, listing)
    except (ValueError, InvalidOperation) as exc:
        console.print(f"[red]Refused: {exc}[/red]")
        return 2
    _confirm(args, f"listings set {args.sku} {listing.key}")
    try:
        share = Decimal(args.share) if args.share is not None else current.share
        if args.cap == "none":
            cap: int | None = None
        else:
            cap = int(args.cap) if args.cap is not None else current.cap
        rules = ListingRules(
            share=share,
            buffer=args.buffer if args.buffer is not None else current.buffer,
            cap=cap,
        )
    except (ValueError, InvalidOperation) as exc:
        console.print(f"[red]Refused: {exc}[/red]")
        return 2

    def said(r: ListingRules) -> str:
        return f"share {r.share}, buffer {r.buffer}, cap {r.cap}"

    priced = None
    if price_rules is not None:
        from shared.services.pricing import pricing_of, set_rules

        rt = _runtime(state)
        run = set_rules(
            pricing_of(rt.prices, catalog.listings_for), args.sku, listing, price_rules,
            args.actor, args.reason,
        )  # fmt: skip
        priced = [(d.listing, str(d.price), d.status, d.held_because) for d in run.decisions]
    unchanged = rules == current  # nothing to publish, and nothing for the audit trail
    changed = (
        listing
        if unchanged
        else catalog.change_rules(
            args.sku, listing.key, rules, args.actor, args.reason, datetime.now(UTC)
        )
    )
    where = listing.key
    result = {
        "sku": changed.sku,
        "channel": changed.channel,
        "account": changed.account or state.get("accounts", {}).get(changed.channel, ""),
        "marketplace": changed.marketplace,
        "share": str(changed.rules.share),
        "buffer": changed.rules.buffer,
        "cap": changed.rules.cap,
        "actor": args.actor,
        "reason": args.reason,
        "changed": not unchanged,
        "before": {"share": str(current.share), "buffer": current.buffer, "cap": current.cap},
    }
    if price_rules is not None:
        result["price_rule"] = {
            "markup": str(price_rules.markup_pct),
            "fixed": str(price_rules.fixed),
            "rounding": str(price_rules.ending) if price_rules.ending is not None else None,
            "fee_pct": str(price_rules.fee_pct),
            "fee_fixed": str(price_rules.fee_fixed),
            "strategy": price_rules.strategy,
            "step": str(price_rules.step),
        }
        result["price_decisions"] = [
            {"listing": k, "price": p, "status": st, "held_because": why}
            for k, p, st, why in priced or []
        ]
    if args.json:
        print(json.dumps(result))
        return 0
    for key, price, status, why in priced or []:
        console.print(
            f"{changed.sku} on {key}: price {price} ({status}{': ' + why if why else ''})"
        )
    if unchanged and price_rules is None:
        console.print(f"{changed.sku} on {where}: already {said(current)}; no change")
    elif not unchanged:
        console.print(
            f"{changed.sku} on {where}: {said(current)} → {said(changed.rules)} "
            f"(by {args.actor}: {args.reason})"
        )
    return 0


def _price_rules(state: dict[str, Any], args: Any, listing: Any) -> Any:
    """The listing's price rule with what the flags change; None when no price flag is given."""
    from dataclasses import replace
    from decimal import Decimal

    from shared.domain.pricing import PriceRules

    flags = {
        "markup_pct": args.markup,
        "fixed": args.fixed,
        "ending": args.rounding,
        "fee_pct": args.fee_pct,
        "fee_fixed": args.fee_fixed,
        "strategy": args.strategy,
        "step": args.step,
    }
    given = {k: v for k, v in flags.items() if v is not None}
    if not given:
        return None
    current = _runtime(state).prices.rules(listing.sku).get(listing.key, PriceRules())
    changes: dict[str, Any] = {}
    for name, value in given.items():
        if name == "strategy":
            changes[name] = value
        elif name == "ending" and value.lower() == "none":
            changes[name] = None
        else:
            changes[name] = Decimal(value)
    return replace(current, **changes)


def _named_listing(state: dict[str, Any], catalog: Any, args: Any, strict: bool) -> Any:
    """The listing `args` name (sku, channel, --account, --marketplace), or None after saying
    why. The channel alone names its first account's listing when there is one; `strict`:
    otherwise several fitting listings are refused; else the first by key is taken (a buyer
    in the sandbox shops in the first account and marketplace unless told)."""
    from shared.domain.listings import pick_listing

    account: str | None = None
    if args.account is not None:
        first = _normalized(state.get("accounts", {}).get(args.channel, ""))
        account = "" if _normalized(args.account) == first else _normalized(args.account)
    if account is None and args.marketplace is None:
        exact = catalog.listing(args.sku, args.channel)
        if exact is not None:
            return exact
    listings = catalog.listings_for(args.sku)
    if not strict:
        account = "" if account is None else account
        fitting = sorted(
            (
                x
                for x in listings
                if x.channel == args.channel
                and x.account == account
                and args.marketplace in (None, x.marketplace)
            ),
            key=lambda x: x.key,
        )
        listings = fitting[:1] or listings
    try:
        return pick_listing(listings, args.channel, account, args.marketplace)
    except ValueError as exc:
        console.print(f"[red]{args.sku}: {exc}[/red]")
        return None


def _normalized(account: str) -> str:
    from shared.domain.accounts import normalize_account

    return normalize_account(account)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="keel", description=__doc__)
    add_target_arguments(root, str(_find_state_file()))
    root.add_argument("--version", action="version", version=f"keel {_version()}")
    sub = root.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run Keel's main job on the embedded local stack")
    demo.add_argument("--json", action="store_true", help="print the report as JSON")
    demo.set_defaults(func=cmd_demo)

    local = sub.add_parser("local", help="the embedded local stack")
    local_sub = local.add_subparsers(dest="local_command", required=True)
    up = local_sub.add_parser("up", help="run it in the foreground until Ctrl-C")
    up.add_argument(
        "--seed",
        choices=["demo", "merchant"],
        help="demo: Keel with a catalog and stock; merchant: Keel empty, the channels holding a "
        "merchant's listings and a catalog file to import (onboarding)",
    )
    up.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="what the functions say on the console, one line per event (default INFO)",
    )
    up.set_defaults(func=cmd_local_up)

    orders = sub.add_parser("orders", help="orders")
    orders_sub = orders.add_subparsers(dest="orders_command", required=True)
    listing = orders_sub.add_parser("list", help="list orders and held deliveries")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_orders_list)
    show_order = orders_sub.add_parser("show", help="one order: lines, reservations, history")
    show_order.add_argument(
        "key", help="the order key (channel#account#id), channel#id, or the order's name"
    )
    show_order.add_argument("--json", action="store_true")
    show_order.set_defaults(func=cmd_orders_show)

    audit = sub.add_parser("audit", help="who changed what, where and why (the audit trail)")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    audit_list = audit_sub.add_parser("list", help="one UTC day's changes, oldest first")
    audit_list.add_argument("--day", help="YYYY-MM-DD (default: today, UTC)")
    audit_list.add_argument("--json", action="store_true")
    audit_list.set_defaults(func=cmd_audit_list)

    _stock_commands(sub)
    _catalog_and_poll_commands(sub)
    _workflow_commands(sub)
    _sandbox_commands(sub)
    from keel_cli import dlq, onboarding, prices, reconcile, secrets, status

    dlq.register(sub, _target, _runtime)
    prices.register(sub, _target, _runtime)
    onboarding.register(sub, _target, _runtime)
    status.register(sub, _target, _runtime)
    secrets.register(sub, _target, _client, _runtime)
    reconcile.register(sub, _target, _client, _confirm)
    add_to_every_command(root)
    return root


def _sandbox_commands(sub: Any) -> None:
    sandbox = sub.add_parser(
        "sandbox", help="act as a buyer or an outage in a channel's sandbox (local stack)"
    )
    sandbox_sub = sandbox.add_subparsers(dest="sandbox_command", required=True)
    order = sandbox_sub.add_parser(
        "order", help="place a well-formed order in the channel, which then notifies Keel"
    )
    order.add_argument("channel", help="shopify, woocommerce, bol or amazon")
    order.add_argument("lines", nargs="+", metavar="SKU=QTY", help="e.g. KEEL-MUG-BLUE=2")
    order.add_argument(
        "--no-notify", action="store_true", help="the channel's webhook never arrives"
    )
    order.add_argument("--account", help="the shop the buyer orders in (default: the first)")
    order.add_argument(
        "--marketplace", help="e.g. Amazon's A1PA6795UKMFR9 (default: the account's first)"
    )
    order.add_argument("--json", action="store_true")
    order.set_defaults(func=cmd_sandbox_order)
    cancel = sandbox_sub.add_parser("cancel", help="the channel cancels one of its orders")
    cancel.add_argument("channel")
    cancel.add_argument("order_id", help="the channel's own order id (as `sandbox order` said)")
    cancel.add_argument("--json", action="store_true")
    cancel.set_defaults(func=cmd_sandbox_cancel)
    outage = sandbox_sub.add_parser("outage", help="the channel's next API calls fail")
    outage.add_argument("channel")
    outage.add_argument("--status", type=int, default=503, help="HTTP status (default 503)")
    outage.add_argument("--requests", type=int, default=5, help="how many calls; 0 clears it")
    outage.add_argument("--json", action="store_true")
    outage.set_defaults(func=cmd_sandbox_outage)


def _sandbox_url(state: dict[str, Any], channel: str) -> str:
    urls: dict[str, str] = state.get("sandboxes", {})
    if channel not in urls:
        known = ", ".join(sorted(urls))
        console.print(
            f"[red]No sandbox {channel!r} in the running stack (there are: {known})[/red]"
        )
        raise SystemExit(2)
    return urls[channel]


def _sandbox_answer(
    answer: Any, args: argparse.Namespace, said: Callable[[dict[str, Any]], str]
) -> int:
    try:
        body = answer.json()
    except ValueError:
        body = {"message": answer.text}
    if answer.status_code >= 400:
        console.print(f"[red]{args.channel} refused it (HTTP {answer.status_code}): {body}[/red]")
        return 1
    if args.json:
        print(json.dumps(body))
    else:
        console.print(said(body if isinstance(body, dict) else {}))
    return 0


def _order_lines(raw: list[str]) -> dict[str, int]:
    lines: dict[str, int] = {}
    for item in raw:
        sku, sep, qty = item.partition("=")
        if not sep or not sku or not qty.isdigit() or int(qty) <= 0:
            console.print(f"[red]{item!r} is not SKU=QTY with a positive quantity[/red]")
            raise SystemExit(2)
        lines[sku] = lines.get(sku, 0) + int(qty)
    return lines


def cmd_sandbox_order(args: argparse.Namespace) -> int:
    import httpx

    state = _target(args)
    url = _sandbox_url(state, args.channel)
    wanted = _order_lines(args.lines)
    catalog, _, _ = _stores(state)
    lines = []
    accounts = set()
    for sku, qty in wanted.items():
        listing = _named_listing(
            state, catalog, argparse.Namespace(**{**vars(args), "sku": sku}), strict=False
        )
        if listing is None:
            console.print(f"[red]{sku} is not listed on {args.channel} in Keel's catalog[/red]")
            return 1
        accounts.add(listing.account)
        lines.append({"sku": sku, "quantity": qty, "refs": listing.refs})
    if len(accounts) > 1:
        console.print("[red]An order is placed in one shop: name it with --account[/red]")
        return 2
    account = accounts.pop()
    if account:  # a further shop: its own sandbox
        url = state.get("account_sandboxes", {}).get(args.channel, {}).get(account, url)
    answer = httpx.post(
        f"{url}/__sandbox/orders/from-lines",
        params={"notify": "false" if args.no_notify else "true"},
        json={"lines": lines},
        timeout=30,
    )
    what = ", ".join(f"{q} x {s}" for s, q in wanted.items())
    tail = " (no webhook: the poll will find it)" if args.no_notify else "; Keel was notified"
    shop = f" ({account})" if account else ""
    return _sandbox_answer(
        answer,
        args,
        lambda body: (
            f"{args.channel}{shop} order {body.get('id')} placed: {what}{tail}. Watch it "
            "with `keel orders list` and `keel stock show`."
        ),
    )


def cmd_sandbox_cancel(args: argparse.Namespace) -> int:
    import httpx

    url = _sandbox_url(_target(args), args.channel)
    answer = httpx.post(f"{url}/__sandbox/orders/{args.order_id}/cancel", timeout=30)
    done = f"{args.channel} cancelled order {args.order_id}; Keel was notified."
    return _sandbox_answer(answer, args, lambda _: done)


def cmd_sandbox_outage(args: argparse.Namespace) -> int:
    import httpx

    if args.requests < 0 or not 100 <= args.status <= 599:
        console.print("[red]--requests must be >= 0 and --status an HTTP status[/red]")
        return 2
    url = _sandbox_url(_target(args), args.channel)
    answer = httpx.post(
        f"{url}/__sandbox/outage",
        json={"requests": args.requests, "status": args.status},
        timeout=30,
    )
    said = (
        f"{args.channel}: outage cleared"
        if args.requests == 0
        else f"{args.channel}: the next {args.requests} API calls answer {args.status}"
    )
    return _sandbox_answer(answer, args, lambda _: said)


def _workflow_commands(sub: Any) -> None:
    workflows = sub.add_parser("workflows", help="order workflows")
    wf_sub = workflows.add_subparsers(dest="workflows_command", required=True)
    failed = wf_sub.add_parser("failed", help="executions that failed, and why")
    failed.add_argument("--json", action="store_true")
    failed.set_defaults(func=cmd_workflows_failed)
    show = wf_sub.add_parser("show", help="one order's executions, states and parcel")
    show.add_argument("key", help="the order key, channel#id, or the order's name")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_workflows_show)
    redrive = wf_sub.add_parser("redrive", help="go on with a failed one, its cause fixed")
    redrive.add_argument("key", nargs="?", help="the order key, channel#id, or the order's name")
    redrive.add_argument(
        "--all-failed", action="store_true", help="every order whose latest workflow failed"
    )
    redrive.add_argument("--json", action="store_true")
    redrive.set_defaults(func=cmd_workflows_redrive)


def _workflow_context(state: dict[str, Any]) -> tuple[Any, str, Any]:
    from shared.workflow import STATE_MACHINE

    rt = _runtime(state)
    return rt.aws("stepfunctions"), state["state_machines"][STATE_MACHINE], rt.shipments


def _shipment_view(record: Any) -> dict[str, Any] | None:
    if record is None:
        return None
    s = record.shipment
    return {
        "parcel_id": s.parcel_id if s else None,
        "tracking_number": s.tracking_number if s else None,
        "carrier": (s.carrier_service or s.carrier) if s else None,
        "state": s.state.value if s else None,
        "label_url": s.label_url if s else None,
        "failed_step": record.failed_step,
        "failure": record.failure,
    }


def _one_order_key(state: dict[str, Any], wanted: str) -> str | None:
    """The key of the one order `wanted` names, or None (said on the console)."""
    _, _, orders = _stores(state)
    key = _resolve_order_key(orders.orders(), wanted)
    if key is None:
        console.print(f"[red]No single order {wanted!r}[/red]")
    return key


def cmd_workflows_failed(args: argparse.Namespace) -> int:
    from shared.services.workflow_ops import failed_now

    state = _target(args)
    sfn, machine, shipments = _workflow_context(state)
    found = [
        {
            "execution": r.name,
            "order": r.order_key,
            **(_shipment_view(shipments.get(r.order_key)) or {}),
        }
        for r in failed_now(sfn, machine)
    ]
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    table = Table(title=f"Failed order workflows ({len(found)})")
    for column in ("order", "failed at", "why"):
        table.add_column(column)
    for f in found:
        table.add_row(f["order"], str(f.get("failed_step") or "-"), str(f.get("failure") or "-"))
    console.print(table)
    return 0


def cmd_workflows_show(args: argparse.Namespace) -> int:
    from shared.services.workflow_ops import runs_of, transitions

    state = _target(args)
    key = _one_order_key(state, args.key)
    if key is None:
        return 1
    sfn, machine, shipments = _workflow_context(state)
    _confirm(args, f"workflows redrive {key}")
    found = runs_of(sfn, machine, key)
    view: dict[str, Any] = {
        "order": key,
        "executions": [
            {"name": r.name, "status": r.status, "states": r.states,
             "transitions": transitions(r), "error": r.error}
            for r in found
        ],
        "shipment": _shipment_view(shipments.get(key)),
    }  # fmt: skip
    if args.json:
        print(json.dumps(view, indent=2))
        return 0
    console.print(f"[bold]{key}[/bold]: parcel {view['shipment']}")
    for r in found:
        console.print(
            f"  {r.name}: {r.status} ({transitions(r)} transitions) {' -> '.join(r.states)}"
            + (f" [red]{r.error}[/red]" if r.error else "")
        )
    return 0 if found else 1


def cmd_workflows_redrive(args: argparse.Namespace) -> int:
    from shared.services.workflow_ops import failed_now, redrive_locally

    if bool(args.key) == bool(args.all_failed):
        console.print("[red]Name one order, or --all-failed[/red]")
        return 2
    state = _target(args)
    sfn, machine, shipments = _workflow_context(state)
    if args.all_failed:
        keys = sorted({run.order_key for run in failed_now(sfn, machine)})
    else:
        key = _one_order_key(state, args.key)
        if key is None:
            return 1
        keys = [key]
    if keys:
        _confirm(args, f"workflows redrive {', '.join(keys)}")
    done, failed = [], 0
    for key in keys:
        try:
            run, step = redrive_locally(sfn, machine, key, shipments.get(key))
        except (LookupError, ValueError) as exc:
            console.print(f"[red]{exc}[/red]")
            failed += 1
            continue
        done.append({"order": key, "execution": run.name, "resume_at": step})
    note = (
        "each a new execution of the same input, resuming at the step that failed (the steps "
        "before it find their work done; the same on every environment: a RedriveExecution "
        "would re-enter the failed run's Fail state, see docs/decisions.md)"
    )
    if args.json:
        body: Any = done if args.all_failed else (done[0] if done else {})
        if isinstance(body, dict) and body:
            body = {"execution": body["execution"], "resume_at": body["resume_at"], "note": note}
        print(json.dumps(body))
    else:
        for item in done:
            console.print(f"{item['order']}: started {item['execution']}, resuming at "
                          f"{item['resume_at']}")  # fmt: skip
        console.print(f"{len(done)} redriven; {note}" if done else "Nothing to redrive.")
    return 1 if failed else 0


def _stock_commands(sub: Any) -> None:
    stock = sub.add_parser("stock", help="stock")
    stock_sub = stock.add_subparsers(dest="stock_command", required=True)
    show = stock_sub.add_parser("show", help="per SKU: levels and each channel's derived quantity")
    show.add_argument("sku", nargs="?")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_stock_show)
    receive = stock_sub.add_parser("receive", help="goods in: one ledger entry per reference")
    receive.add_argument("sku")
    receive.add_argument("quantity", type=int)
    receive.add_argument("--reference", required=True, help="e.g. PO-123; a repeat adds nothing")
    adjust = stock_sub.add_parser("adjust", help="a count or damage: a signed change")
    adjust.add_argument("sku")
    adjust.add_argument("quantity", type=int, help="e.g. -2 or 3")
    adjust.add_argument("--reason", required=True)
    adjust.add_argument("--reference", help="makes a repeat of this adjustment add nothing")
    for move in (receive, adjust):
        move.add_argument("--actor", default=getpass.getuser(), help="who (default: you)")
        move.add_argument("--json", action="store_true")
        move.set_defaults(func=cmd_stock_move, reason=None)


def _catalog_and_poll_commands(sub: Any) -> None:
    poll = sub.add_parser("poll", help="run the poll backstop now, for one channel or all")
    poll.add_argument("channel", nargs="?")
    poll.add_argument("--json", action="store_true")
    poll.set_defaults(func=cmd_poll)
    resync = sub.add_parser("resync", help="republish every listing now (one channel, or all)")
    resync.add_argument("channel", nargs="?", help="only this channel's listings")
    resync.add_argument("--json", action="store_true", help="triggers sent per channel, as JSON")
    resync.set_defaults(func=cmd_resync)

    listings = sub.add_parser("listings", help="channel listings")
    listings_sub = listings.add_subparsers(dest="listings_command", required=True)
    set_rules = listings_sub.add_parser(
        "set", help="change a listing's share, buffer or cap (recorded with actor and reason)"
    )
    set_rules.add_argument("sku")
    set_rules.add_argument("channel")
    set_rules.add_argument(
        "--account", help="the shop or seller (default: the channel's only or first account)"
    )
    set_rules.add_argument(
        "--marketplace", help="e.g. Amazon's A1PA6795UKMFR9 (needed when there are several)"
    )
    set_rules.add_argument("--share", help="part of available stock offered, 0..1")
    set_rules.add_argument("--buffer", type=int, help="units held back, >= 0")
    set_rules.add_argument("--cap", help="most units shown, >= 0, or 'none'")
    set_rules.add_argument("--markup", help="price rule: percent on the SKU's base price")
    set_rules.add_argument("--fixed", help="price rule: an amount added after the markup")
    set_rules.add_argument("--rounding", help="price rule: the cents a price ends in, e.g. .95")
    set_rules.add_argument("--fee-pct", help="the channel's commission, percent (for the floor)")
    set_rules.add_argument("--fee-fixed", help="the channel's fee per item (for the floor)")
    set_rules.add_argument(
        "--strategy", choices=["off", "match-lowest", "beat-lowest", "buy-box"], help="repricing"
    )
    set_rules.add_argument("--step", help="beat-lowest's undercut; the least repricing move")
    set_rules.add_argument("--reason", required=True, help="why, kept with the change")
    set_rules.add_argument("--actor", default=getpass.getuser(), help="who (default: you)")
    set_rules.add_argument("--json", action="store_true")
    set_rules.set_defaults(func=cmd_listings_set)


def main(argv: list[str] | None = None) -> int:
    """One error line, never a traceback (KEEL_DEBUG=1 shows it); a closed pipe (`| head`)
    ends quietly."""
    from keel_cli.targets import TargetError

    args = parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except TargetError as exc:
        Console(stderr=True).print(f"[red]keel: {exc}[/red]")
        return 2
    except BrokenPipeError:
        sys.stderr.close()  # nothing more can be said; no "Exception ignored" noise either
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("KEEL_DEBUG"):
            raise
        Console(stderr=True).print(f"[red]keel: {type(exc).__name__}: {exc}[/red]")
        return 1
    return result


def _find_state_file() -> Path:
    """The running local stack's state: `.keel/local.json` here or in a parent directory, so
    `keel` works from anywhere inside the repository."""
    here = Path.cwd()
    for directory in (here, *here.parents):
        if (directory / STATE_FILE).exists():
            return directory / STATE_FILE
    return STATE_FILE


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("keel")
    except PackageNotFoundError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
