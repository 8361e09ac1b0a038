"""The demo report, for people."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from local_stack.demo import DemoReport


def print_demo_report(console: Console, report: DemoReport) -> None:
    sent = Table(title="Deliveries sent (signed Shopify orders/create)")
    for column in ("delivery", "HTTP", "order id"):
        sent.add_column(column)
    for s in report.sent:
        sent.add_row(s.label, str(s.status), str(s.order_id or "-"))
    console.print(sent)

    outcome = Table(title="What Keel made of them")
    for column in ("outcome", "what", "detail"):
        outcome.add_column(column)
    for name, lines in report.reserved_orders:
        outcome.add_row("[green]reserved[/green]", name, lines)
    for name, reason in report.held_orders:
        outcome.add_row("[yellow]held[/yellow]", name, reason)
    for delivery, reason in report.held_deliveries:
        outcome.add_row("[yellow]held delivery[/yellow]", delivery[:13] + "…", reason)
    for s in report.rejected:
        outcome.add_row("[red]rejected[/red]", s.label, f"HTTP {s.status}, nothing stored")
    console.print(outcome)

    stock = Table(title="Stock per SKU")
    for column in (
        "sku",
        "on hand",
        "reserved",
        "avail.",
        "woo derived",
        "woo shows",
        "exp. reserved",
    ):
        if column == "sku":
            stock.add_column(column, no_wrap=True)
        else:
            stock.add_column(column, justify="right")
    for r in report.skus:
        stock.add_row(
            r.sku,
            str(r.on_hand),
            str(r.reserved),
            str(r.available),
            str(r.woo_derived),
            str(r.woo_shows),
            str(r.expected_reserved),
        )
    console.print(stock)

    if report.ok:
        console.print(
            "[bold green]All checks passed:[/bold green] Keel and WooCommerce agree "
            "with what the scenario should produce."
        )
    else:
        console.print(f"[bold red]{len(report.problems)} check(s) failed:[/bold red]")
        for problem in report.problems:
            console.print(f"  - {problem}")
