"""`keel prices set | show | pending | approve | reject | history`: Keel's prices, the decisions
that derive each listing's price, and the ones the guard holds for a person
(shared/services/pricing.py). Works on the local stack and, with `--env`, a deployed one."""

from __future__ import annotations

import argparse
import getpass
import json
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()
errors = Console(stderr=True)


def register(sub: Any, state: Any, runtime: Any) -> None:
    """`state(args)` finds the environment; `runtime(state)` its composition root."""
    prices = sub.add_parser("prices", help="prices: set once per SKU, derived per listing")
    prices_sub = prices.add_subparsers(dest="prices_command", required=True)

    set_price = prices_sub.add_parser("set", help="a SKU's price; every listing follows its rule")
    set_price.add_argument("sku")
    set_price.add_argument("--base", required=True, help="the price, VAT included, e.g. 19.95")
    set_price.add_argument("--cost", required=True, help="what a unit costs you")
    set_price.add_argument("--currency", default="EUR")
    set_price.add_argument("--min-margin", default="0", help="percent over cost a price keeps")
    set_price.add_argument("--map", help="the lowest price the brand allows (MAP)")
    set_price.add_argument("--msrp", help="the recommended retail price: a ceiling")
    set_price.add_argument("--max", help="the most any listing may ask: a ceiling")
    set_price.add_argument("--sale", help="a sale price, with --sale-start and --sale-end")
    set_price.add_argument("--sale-start", help="ISO time with a zone, e.g. 2026-12-24T00:00Z")
    set_price.add_argument("--sale-end", help="ISO time with a zone")
    set_price.add_argument("--reason", required=True, help="why, kept with every decision")
    set_price.add_argument("--actor", default=getpass.getuser(), help="who (default: you)")
    set_price.add_argument("--dry-run", action="store_true", help="decide and show; change none")
    set_price.add_argument("--json", action="store_true")
    set_price.set_defaults(func=lambda args: cmd_set(args, state, runtime))

    show = prices_sub.add_parser("show", help="each listing's price, bounds, and what it shows")
    show.add_argument("sku", nargs="?")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=lambda args: cmd_show(args, state, runtime))

    _register_more(prices_sub, state, runtime)


def _register_more(prices_sub: Any, state: Any, runtime: Any) -> None:
    """The guard's side: held decisions, its limits, history, and the channels' fees."""
    pending = prices_sub.add_parser("pending", help="decisions the guard holds for approval")
    pending.add_argument("--json", action="store_true")
    pending.set_defaults(func=lambda args: cmd_pending(args, state, runtime))

    for verb, helped in (("approve", "let a held decision go live"), ("reject", "drop it")):
        decide = prices_sub.add_parser(verb, help=helped)
        decide.add_argument("id", help="the decision's id, as `keel prices pending` shows it")
        decide.add_argument("--actor", default=getpass.getuser(), help="who (default: you)")
        decide.add_argument("--reason", help="why (required on staging and prod)")
        decide.add_argument("--json", action="store_true")
        decide.set_defaults(func=lambda args, v=verb: cmd_decide(args, v, state, runtime))

    guard = prices_sub.add_parser("guard", help="the guard's limits: show them, or set them")
    guard.add_argument("--max-step", help="percent a change may move a price (default 30)")
    guard.add_argument("--per-hour", type=int, help="changes a listing may take an hour (4)")
    guard.add_argument("--blast-radius", type=int, help="listings one run may change (50)")
    guard.add_argument("--reason", help="why (required to set them on staging and prod)")
    guard.add_argument("--actor", default=getpass.getuser(), help="who (default: you)")
    guard.add_argument("--json", action="store_true")
    guard.set_defaults(func=lambda args: cmd_guard(args, state, runtime))

    fees = prices_sub.add_parser("fees", help="read the channels' fees into each listing's rule")
    fees.add_argument("sku")
    fees.add_argument("--reason", default="the channels' fees", help="why (the audit trail's)")
    fees.add_argument("--actor", default=getpass.getuser(), help="who (default: you)")
    fees.add_argument("--json", action="store_true")
    fees.set_defaults(func=lambda args: cmd_fees(args, state, runtime))

    history = prices_sub.add_parser("history", help="every decision for a SKU's listings")
    history.add_argument("sku")
    history.add_argument("--json", action="store_true")
    history.set_defaults(func=lambda args: cmd_history(args, state, runtime))


def _pricing(rt: Any) -> Any:
    from shared.services.pricing import pricing_of

    return pricing_of(rt.prices, rt.catalog.listings_for)


def _amount(value: str | None, name: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{name} is not an amount: {value!r}") from None


def _time(value: str | None, name: str) -> datetime:
    if not value:
        raise ValueError(f"a sale needs {name}")
    at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if at.tzinfo is None:
        raise ValueError(f"{name} needs a time zone (e.g. Z for UTC): {value}")
    return at.astimezone(UTC)


def _money(value: Decimal | None) -> str | None:
    return str(value) if value is not None else None


def decision_view(d: Any) -> dict[str, Any]:
    return {
        "id": d.id,
        "sku": d.sku,
        "listing": d.listing,
        "channel": d.channel,
        "before": _money(d.before),
        "price": str(d.price),
        "compare_at": _money(d.compare_at),
        "currency": d.currency,
        "floor": _money(d.floor),
        "ceiling": _money(d.ceiling),
        "rule": d.rule,
        "reason": d.reason,
        "status": d.status,
        "held_because": d.held_because,
        "actor": d.actor,
        "decided_by": d.decided_by,
        "at": d.at.isoformat(),
    }


def cmd_set(args: argparse.Namespace, state: Any, runtime: Any) -> int:
    from keel_cli.targets import confirm
    from shared.domain.pricing import Sale, SkuPrice
    from shared.services.pricing import set_price

    found = state(args)
    rt = runtime(found)
    if args.sku not in rt.catalog.products():
        errors.print(f"[red]No SKU {args.sku!r} in the catalog[/red]")
        return 1
    try:
        sale = None
        if args.sale is not None:
            sale_price = _amount(args.sale, "--sale")
            assert sale_price is not None
            sale = Sale(sale_price, _time(args.sale_start, "--sale-start"),
                        _time(args.sale_end, "--sale-end"))  # fmt: skip
        base, cost = _amount(args.base, "--base"), _amount(args.cost, "--cost")
        assert base is not None and cost is not None
        price = SkuPrice(
            sku=args.sku,
            base=base,
            cost=cost,
            currency=args.currency,
            min_margin_pct=_amount(args.min_margin, "--min-margin") or Decimal(0),
            map=_amount(args.map, "--map"),
            msrp=_amount(args.msrp, "--msrp"),
            maximum=_amount(args.max, "--max"),
            sale=sale,
        )
    except ValueError as exc:
        errors.print(f"[red]Refused: {exc}[/red]")
        return 2
    if not args.dry_run:
        confirm(args, f"prices set {args.sku} {price.base} {price.currency}", rt.audit)
    run = set_price(_pricing(rt), price, args.actor, args.reason, dry_run=args.dry_run)
    result = {
        "sku": args.sku,
        "dry_run": run.dry_run,
        "decisions": [decision_view(d) for d in run.decisions],
        "unchanged": run.unchanged,
        "problems": run.problems,
    }
    if args.json:
        print(json.dumps(result))
        return 0
    _print_decisions(run.decisions, f"{args.sku}: {price.base} {price.currency}"
                     + (" (dry run: nothing sent)" if run.dry_run else ""))  # fmt: skip
    for key, why in run.problems.items():
        console.print(f"[red]{key}: not priced: {why}[/red]")
    if run.held:
        console.print(f"[yellow]{len(run.held)} held for approval: keel prices pending[/yellow]")
    return 0


def _print_decisions(decisions: list[Any], title: str) -> None:
    table = Table(title=title)
    for column in ("listing", "before", "price", "floor", "ceiling", "status", "why"):
        table.add_column(column, overflow="fold")
    for d in decisions:
        table.add_row(
            d.listing,
            _money(d.before) or "-",
            str(d.price) + (f" (was {d.compare_at})" if d.compare_at else ""),
            _money(d.floor) or "-",
            _money(d.ceiling) or "-",
            d.status,
            d.held_because or d.reason,
        )
    console.print(table if decisions else f"{title}: no listing's price changes")


def cmd_show(args: argparse.Namespace, state: Any, runtime: Any) -> int:
    from shared.services.pricing import listing_prices

    rt = runtime(state(args))
    pricing = _pricing(rt)
    prices = [p for p in rt.prices.prices() if args.sku in (None, p.sku)]
    if args.sku and not prices:
        errors.print(f"[red]{args.sku} has no price in Keel yet (keel prices set)[/red]")
        return 1
    rows = []
    for price in prices:
        listings = listing_prices(pricing, price)
        rows.append(
            {
                "sku": price.sku,
                "base": str(price.base),
                "cost": str(price.cost),
                "currency": price.currency,
                "listings": [
                    {
                        "channel": x.listing.channel,
                        "account": x.listing.account,
                        "marketplace": x.listing.marketplace,
                        "listing": x.listing.key,
                        "price": _money(x.price),
                        "compare_at": _money(x.compare_at),
                        "floor": _money(x.floor),
                        "ceiling": _money(x.ceiling),
                        "shown": _money(x.shown),
                        "strategy": x.strategy,
                        "pending": x.pending,
                        "problem": x.problem,
                    }
                    for x in listings
                ],
            }
        )
    if args.json:
        print(json.dumps(rows))
        return 0
    table = Table(title="Prices (price: Keel's decision; shown: what the channel confirmed)")
    for column in ("sku", "listing", "price", "shown", "floor", "ceiling", "strategy", "pending"):
        table.add_column(column, overflow="fold")
    for row in rows:
        for x in row["listings"]:
            table.add_row(row["sku"], x["listing"], x["price"] or "-", x["shown"] or "-",
                          x["floor"] or "-", x["ceiling"] or "-", x["strategy"],
                          x["pending"] or "")  # fmt: skip
    console.print(table)
    return 0


def cmd_pending(args: argparse.Namespace, state: Any, runtime: Any) -> int:
    rt = runtime(state(args))
    held = rt.prices.pending()
    if args.json:
        print(json.dumps([decision_view(d) for d in held]))
        return 0
    table = Table(title="Price decisions waiting for approval (keel prices approve|reject ID)")
    for column in ("id", "sku", "listing", "before", "price", "why held"):
        table.add_column(column, overflow="fold")
    for d in held:
        table.add_row(d.id, d.sku, d.listing, _money(d.before) or "-", str(d.price),
                      d.held_because or "")  # fmt: skip
    console.print(table if held else "No price decision waits for approval")
    return 0


def cmd_decide(args: argparse.Namespace, verb: str, state: Any, runtime: Any) -> int:
    from keel_cli.targets import confirm
    from shared.services.pricing import approve, reject
    from shared.stores.prices import NotPending

    rt = runtime(state(args))
    if rt.prices.pending_one(args.id) is None:
        errors.print(f"[red]No price decision {args.id!r} waits for approval[/red]")
        return 1
    confirm(args, f"prices {verb} {args.id}", rt.audit)
    try:
        settled = (approve if verb == "approve" else reject)(_pricing(rt), args.id, args.actor)
    except NotPending as exc:
        errors.print(f"[red]{exc} (settled meanwhile)[/red]")
        return 1
    if args.json:
        print(json.dumps(decision_view(settled)))
    else:
        went = "goes live" if verb == "approve" else "will not go live"
        console.print(f"{settled.id}: {settled.sku} on {settled.listing} at {settled.price} {went}")
    return 0


def cmd_history(args: argparse.Namespace, state: Any, runtime: Any) -> int:
    from shared.domain.pricing import IN_FORCE
    from shared.services.pricing import omnibus_reference

    rt = runtime(state(args))
    decisions = rt.prices.history(args.sku)
    # The reference a reduction is measured against: the lowest price in force during the 30
    # days before the current price took effect (EU Omnibus directive).
    since = {d.listing: d.at for d in decisions if d.status in IN_FORCE}
    lowest = {k: _money(omnibus_reference(decisions, k, at)) for k, at in sorted(since.items())}
    if args.json:
        print(json.dumps({"sku": args.sku, "decisions": [decision_view(d) for d in decisions],
                          "lowest_30_days": lowest}))  # fmt: skip
        return 0
    _print_decisions(decisions, f"{args.sku}: every price decision, oldest first")
    for key, value in lowest.items():
        console.print(f"{key}: lowest price in the 30 days before the current one: {value or '-'}")
    return 0


def cmd_guard(args: argparse.Namespace, state: Any, runtime: Any) -> int:
    """The environment's guard limits, one for the CLI and every function (the price book)."""
    from dataclasses import replace

    from keel_cli.targets import confirm

    rt = runtime(state(args))
    current = rt.prices.guard()
    changes: dict[str, Any] = {}
    try:
        if args.max_step is not None:
            changes["max_step_pct"] = Decimal(args.max_step)
        if args.per_hour is not None:
            changes["max_changes_per_hour"] = args.per_hour
        if args.blast_radius is not None:
            changes["blast_radius"] = args.blast_radius
        wanted = replace(current, **changes)
        if not (Decimal(0) < wanted.max_step_pct <= 1000) or wanted.max_changes_per_hour < 1 \
                or wanted.blast_radius < 1:  # fmt: skip
            raise ValueError("a step above 0 %, at least one change an hour and one listing a run")
    except (ValueError, InvalidOperation) as exc:
        errors.print(f"[red]Refused: {exc}[/red]")
        return 2
    if changes and wanted != current:
        confirm(args, "prices guard " + " ".join(f"{k}={v}" for k, v in changes.items()), rt.audit)
        rt.prices.put_guard(wanted, args.actor, args.reason or "", datetime.now(UTC))
    view = {
        "max_step_pct": str(wanted.max_step_pct),
        "max_changes_per_hour": wanted.max_changes_per_hour,
        "blast_radius": wanted.blast_radius,
        "changed": bool(changes) and wanted != current,
    }
    if args.json:
        print(json.dumps(view))
    else:
        console.print(
            f"The guard holds a change over {view['max_step_pct']} %, a listing's change beyond "
            f"{view['max_changes_per_hour']} an hour, and any run changing more than "
            f"{view['blast_radius']} listings" + (" (changed)" if view["changed"] else "")
        )
    return 0


def _estimators(found: dict[str, Any]) -> Any:
    """Listing -> its channel's fee estimator for the listing's account (None: the channel
    estimates none), built from the environment's secrets as `keel secrets check` reads them."""
    import httpx

    from keel_cli.secrets import secret_names
    from keel_cli.targets import client
    from shared.channels.registry import BY_NAME
    from shared.channels.spec import load
    from shared.domain.accounts import normalize_account

    sm = client(found, "secretsmanager")
    http = httpx.Client(timeout=15.0)
    made: dict[tuple[str, str], Any] = {}

    def secret(channel: str, account: str) -> dict[str, Any]:
        names = secret_names(found, channel)
        raws = [json.loads(sm.get_secret_value(SecretId=n)["SecretString"]) for n in names]
        if not account:
            return dict(raws[0])
        spec = BY_NAME[channel]
        return next(r for r in raws if normalize_account(spec.account(r)) == account)

    def estimator(listing: Any) -> Any:
        spec = BY_NAME.get(listing.channel)
        if spec is None or spec.estimate_fees is None or listing.channel not in found["secrets"]:
            return None
        key = (listing.channel, listing.account)
        if key not in made:
            model = load(spec.secret_schema).model_validate(secret(*key))
            made[key] = load(spec.estimate_fees)(model, http)
        return made[key]

    return estimator


def cmd_fees(args: argparse.Namespace, state: Any, runtime: Any) -> int:
    from keel_cli.targets import confirm
    from shared.services.channel_fees import refresh_fees
    from shared.services.pricing import NoPrice

    found = state(args)
    rt = runtime(found)
    if rt.prices.price(args.sku) is None:
        errors.print(f"[red]{args.sku} has no price in Keel yet (keel prices set)[/red]")
        return 1
    confirm(args, f"prices fees {args.sku}", rt.audit)
    try:
        reads = refresh_fees(_pricing(rt), args.sku, _estimators(found), args.actor, args.reason)
    except NoPrice as exc:
        errors.print(f"[red]{exc}[/red]")
        return 1
    rows: list[dict[str, Any]] = [
        {
            "listing": r.listing.key,
            "channel": r.listing.channel,
            "fee_pct": str(r.fee.percent) if r.fee else None,
            "fee_fixed": str(r.fee.fixed) if r.fee else None,
            "said": r.fee.said if r.fee else None,
            "changed": r.before != r.after,
            "problem": r.problem,
        }
        for r in reads
    ]
    if args.json:
        print(json.dumps(rows))
        return 0 if all(r["problem"] is None for r in rows) else 3
    table = Table(title=f"{args.sku}: the channels' fees, into each listing's rule (its floor)")
    for column in ("listing", "fee %", "fee per item", "the channel said"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(r["listing"], r["fee_pct"] or "-", r["fee_fixed"] or "-",
                      r["said"] or f"[red]{r['problem']}[/red]")  # fmt: skip
    console.print(table)
    return 0 if all(r["problem"] is None for r in rows) else 3
