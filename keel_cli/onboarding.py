"""Onboarding a merchant: `keel catalog import FILE` brings in the catalog; `keel channels
discover | link | connect | status` find the merchant's existing listings on each channel, link
them to Keel's SKUs, and register the webhooks and notifications Keel needs
(shared/services/catalog_import.py, shared/services/onboarding.py)."""

from __future__ import annotations

import argparse
import getpass
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()
errors = Console(stderr=True)


def register(sub: Any, state: Any, runtime: Any) -> None:
    """`state(args)` finds the environment; `runtime(state)` its composition root."""
    catalog = sub.add_parser("catalog", help="the merchant's catalog: import it from a file")
    catalog_sub = catalog.add_subparsers(dest="catalog_command", required=True)
    imp = catalog_sub.add_parser(
        "import", help="SKUs, prices and opening stock from a CSV or JSON file (all or nothing)"
    )
    imp.add_argument("file", help="CSV with a header row, or JSON: sku, name, gtin, cost, price, "
                     "currency, on_hand, safety_stock")  # fmt: skip
    imp.add_argument("--dry-run", action="store_true", help="check and show the diff; change none")
    imp.add_argument("--reason", default="catalog import", help="why (the audit trail's)")
    imp.add_argument("--actor", default=getpass.getuser(), help="who (default: you)")
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(func=lambda args: cmd_import(args, state, runtime))

    from keel_cli.channels import register as register_channels

    register_channels(sub, state, runtime)


def cmd_import(args: argparse.Namespace, state: Any, runtime: Any) -> int:
    from datetime import UTC, datetime

    from keel_cli.targets import confirm
    from shared.domain.catalog_file import read_catalog
    from shared.services.catalog_import import import_catalog
    from shared.services.pricing import pricing_of

    path = Path(args.file)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        errors.print(f"[red]Cannot read {path}: {exc.strerror}[/red]")
        return 2
    read = read_catalog(raw, path.name)
    found = state(args)
    rt = runtime(found)
    if read.ok and not args.dry_run:
        confirm(args, f"catalog import {path.name} ({len(read.rows)} SKUs)", rt.audit,
                {"digest": read.digest})  # fmt: skip
    report = import_catalog(
        read,
        path.name,
        rt.catalog,
        rt.inventory,
        pricing_of(rt.prices, rt.catalog.listings_for),
        args.actor,
        datetime.now(UTC),
        dry_run=args.dry_run or not read.ok,
    )
    view = report.as_dict()
    if args.json:
        print(json.dumps(view))
        return 0 if report.ok else 1
    for warning in report.warnings:
        console.print(f"[yellow]{warning}[/yellow]")
    if not report.ok:
        errors.print(f"[red]{path.name}: {len(report.problems)} problem(s); nothing changed[/red]")
        for p in report.problems:
            where = f"line {p['line']}" if p["line"] else "file"
            errors.print(f"  {where}: {p['field']}: {p['message']}")
        return 1
    _print_diff(view)
    return 0


def _print_diff(view: dict[str, Any]) -> None:
    dry = " (dry run: nothing changed)" if view["dry_run"] else ""
    title = (
        f"{view['file']}: {len(view['created'])} new, {len(view['changed'])} change(s), "
        f"{view['unchanged']} unchanged{dry}"
    )
    table = Table(title=title)
    for column in ("sku", "field", "keel", "file", "note"):
        table.add_column(column, overflow="fold")
    for sku in view["created"]:
        table.add_row(sku, "", "", "new", "")
    for c in view["changed"]:
        table.add_row(c["sku"], c["field"], c["keel"] or "", c["file"] or "", "")
    for c in view["not_applied"]:
        table.add_row(c["sku"], c["field"], c["keel"] or "", c["file"] or "", c["why"])
    console.print(table)
    if view["stock_received"]:
        units = sum(s["quantity"] for s in view["stock_received"])
        console.print(
            f"Opening stock: {units} unit(s) over {len(view['stock_received'])} SKU(s), "
            f"reference {view['stock_received'][0]['reference']}"
        )
