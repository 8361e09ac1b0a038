"""The demo report, for people."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from local_stack.demo import DemoReport, SkuRow


def print_demo_report(console: Console, report: DemoReport) -> None:
    _onboarding(console, report)
    sent = Table(title="Orders and deliveries sent")
    for column in ("what", "channel", "HTTP", "order id"):
        sent.add_column(column)
    for s in report.sent:
        sent.add_row(s.label, s.channel, str(s.status), str(s.order_id or "-"))
    console.print(sent)

    outcome = Table(title="What Keel made of them")
    for column in ("outcome", "what", "detail"):
        outcome.add_column(column)
    for name, lines in report.reserved_orders:
        outcome.add_row("[green]reserved[/green]", name, lines)
    for name, reason in report.held_orders:
        outcome.add_row("[yellow]held[/yellow]", name, reason)
    for name, cause in report.cancelled_orders:
        outcome.add_row("[blue]cancelled[/blue]", name, f"stock released ({cause})")
    for name, cause in report.refunded_orders:
        outcome.add_row("[blue]refunded[/blue]", name, f"stock released ({cause})")
    for delivery, reason in report.held_deliveries:
        outcome.add_row("[yellow]held delivery[/yellow]", delivery[:13] + "…", reason)
    for s in report.rejected:
        outcome.add_row("[red]rejected[/red]", s.label, f"HTTP {s.status}, nothing stored")
    console.print(outcome)

    _stock_table(console, "Stock per SKU after the orders", report.skus)
    _stock_table(
        console, "After an operator lowered a cap (no stock moved)", report.skus_after_cap_change
    )

    if report.shipped:
        shipped = Table(title="Shipped: handed to the carrier, confirmed on the channel")
        for column in ("order", "carrier", "tracking", "the channel shows"):
            shipped.add_column(column)
        for row in report.shipped:
            shipped.add_row(*row)
        console.print(shipped)
        _stock_table(
            console, "After shipping (on hand and reserved down)", report.skus_after_shipping
        )

    if report.recovered:
        recovered = Table(title="Recovered: the shop below zero, an edit after the label")
        for column in ("what happened", "what Keel did"):
            recovered.add_column(column)
        for what, done in report.recovered:
            recovered.add_row(what, done)
        console.print(recovered)

    if report.pricing.rows:
        prices = Table(
            title="Prices: one per SKU, each listing's own (shown: what the channel shows)"
        )
        for column in ("sku", "listing", "price", "shown", "floor", "ceiling"):
            prices.add_column(column, overflow="fold")
        for p in report.pricing.rows:
            prices.add_row(p.sku, p.listing, p.price or "-", p.shown or "-", p.floor or "-",
                           p.ceiling or "-")  # fmt: skip
        console.print(prices)
    if report.pricing.repriced:
        repriced = Table(title="Repriced: competitors undercut the mug (Amazon.nl, Amazon.de, bol)")
        for column in ("listing", "before", "after", "what became of it", "why"):
            repriced.add_column(column, overflow="fold")
        for change in report.pricing.repriced:
            repriced.add_row(*change)
        console.print(repriced)

    _reconciliation(console, report)

    if report.ok:
        console.print(
            "[bold green]All checks passed:[/bold green] Keel and every channel agree "
            "with what the scenario should produce."
        )
    else:
        console.print(f"[bold red]{len(report.problems)} check(s) failed:[/bold red]")
        for problem in report.problems:
            console.print(f"  - {problem}")


SHORT = {"woocommerce": "woo", "shopify": "shopify", "amazon": "amazon", "bol": "bol"}


def _stock_table(console: Console, title: str, rows: list[SkuRow]) -> None:
    """Readable at 80 columns: a channel's cell is what it shows, flagged when that is not
    Keel's derived quantity (which the caption says); expected figures are checks, reported
    as problems, not columns."""
    channels = sorted({c for r in rows for c in r.channels})
    table = Table(title=title, caption="channel columns: what each shows (= Keel's derived)")
    table.add_column("sku", no_wrap=True)
    for column in ("on hand", "resv", "avail"):
        table.add_column(column, justify="right", no_wrap=True)
    for channel in channels:  # a listing label: channel[@account][/marketplace]
        name, _, qualifier = channel.replace("/", "@").partition("@")
        header = SHORT.get(name, name[:8]) + (f"\n{qualifier}" if qualifier else "")
        table.add_column(header, justify="right", no_wrap=True)
    for r in rows:
        views = [r.channels.get(c) for c in channels]
        table.add_row(
            r.sku,
            str(r.on_hand),
            str(r.reserved),
            str(r.available),
            *(
                "-" if v is None
                else str(v.shows) if v.shows == v.derived
                else f"[red]{v.shows}≠{v.derived}[/red]"
                for v in views
            ),
        )  # fmt: skip
    console.print(table)


def _onboarding(console: Console, report: DemoReport) -> None:
    done = report.onboarding
    if not done.channels:
        return
    imported = done.imported
    console.print(
        f"Onboarding: imported {imported.get('file')}: {len(imported.get('created', []))} SKUs, "
        f"opening stock {sum(s['quantity'] for s in imported.get('stock_received', []))} units"
    )
    table = Table(title="Onboarding: the merchant's listings, linked and connected")
    for column in ("channel", "read", "linked (by)", "conflicts", "not in Keel", "subscriptions"):
        table.add_column(column, overflow="fold")
    for ch in done.channels:
        by: dict[str, int] = {}
        for m in ch["matched"]:
            by[m["by"]] = by.get(m["by"], 0) + 1
        linked = f"{len(ch['linked'])} (" + ", ".join(f"{k} {v}" for k, v in by.items()) + ")"
        conflicts = "; ".join(f"{c['kind']}: {', '.join(c['skus'])}" for c in ch["conflicts"])
        unknown = ", ".join(str(x["sku"] or x["listing_id"]) for x in ch["unmatched_on_channel"])
        subs = ch["subscriptions"]
        healthy = sum(1 for s in subs if s["healthy"])
        actions = sorted({s.get("action", "") for s in subs} - {""})
        table.add_row(ch["channel"], str(ch["read"]), linked, conflicts or "-", unknown or "-",
                      f"{healthy}/{len(subs)} healthy ({', '.join(actions)})")  # fmt: skip
    console.print(table)


def _reconciliation(console: Console, report: DemoReport) -> None:
    if not report.reconciliation.first:
        return
    from local_stack.demo_reconcile import rows

    reconciled = Table(
        title="Reconciliation: hand edits in WooCommerce and bol, a dead WooCommerce webhook"
    )
    for column in ("channel", "drift found (shown→Keel's)", "repaired", "re-armed",
                   "orders found", "drift after"):  # fmt: skip
        reconciled.add_column(column, overflow="fold")
    for row in rows(report.reconciliation):
        reconciled.add_row(*row)
    console.print(reconciled)
    books = report.reconciliation.books
    said = "hold" if books.get("ok") else "DO NOT hold"
    console.print(f"Keel's books {said}: {books.get('skus_checked', 0)} SKUs, "
                  f"{books.get('orders_checked', 0)} orders checked")  # fmt: skip
