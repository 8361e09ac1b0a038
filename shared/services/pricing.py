"""Pricing decisions: a SKU's price (or a listing's rule) changes -> each listing's new price,
through the guard, recorded; published ones become what the channel must show.

Publishing is writing the decision in force (shared/stores/prices.py): the catalog's stream
carries it to the channel's sync queue. Nothing here talks to a channel.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from shared.domain.listings import Listing
from shared.domain.pricing import (
    APPROVED,
    IN_FORCE,
    PENDING,
    PUBLISHED,
    REJECTED,
    SUPERSEDED,
    Derived,
    Guard,
    PriceDecision,
    PriceRules,
    SkuPrice,
    derive,
    lowest_since,
    returns_from_sale,
)
from shared.stores.ports import Prices

OMNIBUS_DAYS = 30


def new_decision_id() -> str:
    return "pd-" + uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class Pricing:
    """What a pricing decision needs: the price book, a SKU's listings, the guard, a clock."""

    book: Prices
    listings: Callable[[str], list[Listing]]
    guard: Guard = field(default_factory=Guard)
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    new_id: Callable[[], str] = new_decision_id


def pricing_of(
    book: Prices,
    listings: Callable[[str], list[Listing]],
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Pricing:
    """Pricing with the environment's guard limits, as the price book holds them."""
    return Pricing(book, listings, book.guard(), now)


@dataclass
class PricingRun:
    """What one run decided: every decision (published or held), listings whose price stays,
    and listings that cannot be priced, with why."""

    decisions: list[PriceDecision] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # listing keys
    problems: dict[str, str] = field(default_factory=dict)  # listing key -> why
    dry_run: bool = False

    @property
    def held(self) -> list[PriceDecision]:
        return [d for d in self.decisions if d.status == PENDING]


class NoPrice(LookupError):
    """The SKU has no price in Keel yet (`keel prices set`)."""


def set_price(
    p: Pricing, price: SkuPrice, actor: str, reason: str, dry_run: bool = False
) -> PricingRun:
    """The merchant's price for a SKU: stored, then every listing of it decided."""
    if not dry_run:
        p.book.put_price(price, actor, reason, p.now())
    return decide(p, price, actor, reason, dry_run=dry_run)


def set_rules(
    p: Pricing, sku: str, listing: Listing, rules: PriceRules, actor: str, reason: str
) -> PricingRun:
    """A listing's price rule: stored, then that listing decided again (when the SKU has a
    price; without one the rule waits for it)."""
    p.book.put_rules(sku, listing.key, rules, actor, p.now())
    price = p.book.price(sku)
    if price is None:
        return PricingRun()
    return decide(p, price, actor, reason, only=listing.key)


def decide(
    p: Pricing,
    price: SkuPrice,
    actor: str,
    reason: str,
    dry_run: bool = False,
    only: str | None = None,
    derived_by: Callable[[Listing, PriceRules], Derived | None] | None = None,
) -> PricingRun:
    """Each listing's price by its rule (or `derived_by`: the repricer's), held by the guard
    when it must be, recorded, and published unless held. The guard's blast radius counts the
    listings whose price this run changes."""
    now = p.now()
    run = PricingRun(dry_run=dry_run)
    rules = p.book.rules(price.sku)
    in_force = p.book.targets(price.sku)
    changes: list[tuple[Listing, Derived, PriceDecision | None]] = []
    for listing in sorted(p.listings(price.sku), key=lambda x: x.key):
        if only is not None and listing.key != only:
            continue
        rule = rules.get(listing.key, PriceRules())
        derived = derived_by(listing, rule) if derived_by else derive(price, rule, now)
        if derived is None:
            run.unchanged.append(listing.key)
            continue
        if derived.price is None:
            run.problems[listing.key] = derived.problem or derived.reason
            continue
        current = in_force.get(listing.key)
        if (
            current is not None
            and current.price == derived.price
            and current.compare_at == derived.compare_at
        ):
            run.unchanged.append(listing.key)
            continue
        changes.append((listing, derived, current))
    waiting = [d for d in p.book.pending() if d.sku == price.sku] if changes else []
    for listing, derived, current in changes:
        assert derived.price is not None
        before = current.price if current is not None else None
        recent = p.book.published_since(price.sku, listing.key, now - timedelta(hours=1))
        held = (
            None  # a sale ends: back to the regular price struck through beside it
            if current is not None and returns_from_sale(current.price, current.compare_at, derived)
            else p.guard.holds(before, derived.price, recent, len(changes))
        )
        decision = PriceDecision(
            id=p.new_id(),
            sku=price.sku,
            listing=listing.key,
            channel=listing.channel,
            before=before,
            price=derived.price,
            compare_at=derived.compare_at,
            currency=price.currency,
            floor=derived.floor,
            ceiling=derived.ceiling,
            rule=derived.rule,
            reason=f"{reason}: {derived.reason}" if reason else derived.reason,
            status=PENDING if held else PUBLISHED,
            actor=actor,
            at=now,
            held_because=held,
        )
        run.decisions.append(decision)
        if dry_run:
            continue
        for older in (d for d in waiting if d.listing == listing.key):
            _settle_quietly(p, replace(older, status=SUPERSEDED, decided_by=decision.id))
        if held:
            p.book.hold(decision)
        else:
            p.book.publish(decision)
    return run


SALES = "sales"  # the actor of the sale schedule's decisions


def run_sales(p: Pricing) -> PricingRun:
    """The sale schedule: every SKU with a sale to start or end is decided again (nothing
    changes until a boundary passes); a SKU whose sale has ended and been decided leaves the
    list. Keel starts and ends sales itself, within the schedule's period, on every channel."""
    now = p.now()
    whole = PricingRun()
    for sku in p.book.on_sale():
        price = p.book.price(sku)
        if price is None or price.sale is None:
            continue
        sale = price.sale
        said = f"sale {sale.price} from {sale.starts.isoformat()} to {sale.ends.isoformat()}"
        run = decide(p, price, SALES, said)
        whole.decisions.extend(run.decisions)
        whole.unchanged.extend(f"{sku} {key}" for key in run.unchanged)
        whole.problems.update({f"{sku} {key}": why for key, why in run.problems.items()})
        if now >= sale.ends:
            p.book.sale_over(sku, sale.ends)
    return whole


def _settle_quietly(p: Pricing, decision: PriceDecision) -> None:
    from shared.stores.prices import NotPending

    with contextlib.suppress(NotPending):  # settled meanwhile: nothing waits any more
        p.book.settle(decision)


def approve(p: Pricing, decision_id: str, actor: str) -> PriceDecision:
    """A held decision goes live as it was decided; NotPending when it is not waiting."""
    from shared.stores.prices import NotPending

    found = p.book.pending_one(decision_id)
    if found is None:
        raise NotPending(f"no pending price decision {decision_id}")
    approved = replace(found, status=APPROVED, decided_by=actor)
    p.book.settle(approved)
    return approved


def reject(p: Pricing, decision_id: str, actor: str) -> PriceDecision:
    """A held decision never goes live; the price in force stays."""
    from shared.stores.prices import NotPending

    found = p.book.pending_one(decision_id)
    if found is None:
        raise NotPending(f"no pending price decision {decision_id}")
    rejected = replace(found, status=REJECTED, decided_by=actor)
    p.book.settle(rejected)
    return rejected


@dataclass(frozen=True)
class ListingPrice:
    listing: Listing
    price: Decimal | None  # the price in force (None: never published)
    compare_at: Decimal | None
    floor: Decimal | None
    ceiling: Decimal | None
    shown: Decimal | None  # what the channel was last confirmed to show
    strategy: str
    pending: str | None  # the id of a decision waiting for approval
    problem: str | None


def listing_prices(p: Pricing, price: SkuPrice) -> list[ListingPrice]:
    """Each listing of the SKU: the price in force, its bounds, what the channel shows."""
    now = p.now()
    rules = p.book.rules(price.sku)
    in_force = p.book.targets(price.sku)
    listings = sorted(p.listings(price.sku), key=lambda x: x.key)
    shown = p.book.shown_many((price.sku, x.key) for x in listings)
    waiting = {d.listing: d.id for d in p.book.pending() if d.sku == price.sku}
    rows = []
    for listing in listings:
        rule = rules.get(listing.key, PriceRules())
        derived = derive(price, rule, now)
        current = in_force.get(listing.key)
        seen = shown.get((price.sku, listing.key))
        rows.append(
            ListingPrice(
                listing,
                current.price if current else None,
                current.compare_at if current else None,
                derived.floor,
                derived.ceiling,
                seen[0] if seen else None,
                rule.strategy,
                waiting.get(listing.key),
                derived.problem,
            )
        )
    return rows


def omnibus_reference(
    history: Sequence[PriceDecision], listing: str, at: datetime
) -> Decimal | None:
    """The lowest price in force on the listing during the 30 days before `at`: what an
    announced reduction at `at` must be measured against (EU Omnibus directive)."""
    points = [(d.at, d.price) for d in history if d.listing == listing and d.status in IN_FORCE]
    return lowest_since([x for x in points if x[0] < at], at - timedelta(days=OMNIBUS_DAYS))
