"""Prices: one price per SKU, a rule per listing, a floor and a ceiling no decision crosses.

Per SKU the merchant sets a base price, the cost, and optionally a MAP (the lowest price the
brand allows), an MSRP or an explicit maximum, and a sale. Per listing a rule derives the price
the channel shows: round(base x (1 + markup) + fixed) to the listing's price ending, clamped to
[floor, ceiling], where

    floor   = max(the lowest price that still earns the minimum margin after the channel's fees,
              MAP)
    ceiling = the smaller of MSRP and the explicit maximum (None when neither is set).

A percentage fee is taken from the price itself, so the floor solves p - fee% x p - fee_fixed >=
cost x (1 + margin), not cost x (1 + margin) + fee% x cost. A listing without a real floor or a
ceiling is never repriced against competitors: that is how one-penny and million-dollar repricer
accidents happen. Everything here is pure and deterministic: the same inputs give the same
decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
STRATEGIES = ("off", "match-lowest", "beat-lowest", "buy-box")
MAX_AMOUNT = Decimal("1000000")  # no SKU Keel prices costs a million: a typo, not a price


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _amount(name: str, value: Decimal, allow_zero: bool = False) -> None:
    if not value.is_finite():
        raise ValueError(f"{name} is not a number: {value}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else 'above 0'}, got {value}")
    if value >= MAX_AMOUNT:
        raise ValueError(f"{name} {value} is beyond any price Keel sets (< {MAX_AMOUNT})")
    if value != value.quantize(CENT):
        raise ValueError(f"{name} has more than two decimals: {value}")


def _percent(name: str, value: Decimal, below: Decimal = Decimal(1000)) -> None:
    if not value.is_finite() or not Decimal(0) <= value < below:
        raise ValueError(f"{name} must be a percentage from 0 to below {below}, got {value}")


@dataclass(frozen=True)
class Sale:
    """A reduced price from `starts` until `ends` (UTC); Keel starts and ends it itself."""

    price: Decimal
    starts: datetime
    ends: datetime

    def __post_init__(self) -> None:
        _amount("sale price", self.price)
        if self.starts.tzinfo is None or self.ends.tzinfo is None:
            raise ValueError("a sale's start and end are UTC times with a zone")
        if self.ends <= self.starts:
            raise ValueError(f"a sale must end after it starts ({self.starts} .. {self.ends})")

    def active(self, now: datetime) -> bool:
        return self.starts <= now < self.ends


@dataclass(frozen=True)
class SkuPrice:
    """What the merchant sets once per SKU. Amounts include VAT where `vat_included` (the EU
    consumer price every channel here shows)."""

    sku: str
    base: Decimal
    cost: Decimal
    currency: str = "EUR"
    min_margin_pct: Decimal = Decimal(0)
    map: Decimal | None = None
    msrp: Decimal | None = None
    maximum: Decimal | None = None
    vat_included: bool = True
    sale: Sale | None = None

    def __post_init__(self) -> None:
        _amount("base", self.base)
        _amount("cost", self.cost, allow_zero=True)
        for name in ("map", "msrp", "maximum"):
            value = getattr(self, name)
            if value is not None:
                _amount(name, value)
        _percent("minimum margin", self.min_margin_pct)
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise ValueError(f"currency must be an ISO 4217 code like EUR, got {self.currency!r}")
        ceiling = self.ceiling
        if ceiling is not None and self.map is not None and self.map > ceiling:
            raise ValueError(f"MAP {self.map} is above the ceiling {ceiling}: no price is allowed")

    @property
    def ceiling(self) -> Decimal | None:
        found = [x for x in (self.msrp, self.maximum) if x is not None]
        return min(found) if found else None


@dataclass(frozen=True)
class PriceRules:
    """How one listing's price is derived from its SKU's, and how it may be repriced."""

    markup_pct: Decimal = Decimal(0)
    fixed: Decimal = Decimal(0)  # added after the markup; may be negative (a cheaper channel)
    fee_pct: Decimal = Decimal(0)  # the channel's commission on the price
    fee_fixed: Decimal = Decimal(0)  # the channel's fee per item
    ending: Decimal | None = None  # the cents a price ends in (0.95, 0.99); None: as derived
    strategy: str = "off"
    step: Decimal = CENT  # beat-lowest's undercut, and the least move the repricer makes

    def __post_init__(self) -> None:
        _percent("markup", self.markup_pct)
        _percent("fee", self.fee_pct, below=HUNDRED)
        if self.fixed.is_finite() is False or abs(self.fixed) >= MAX_AMOUNT:
            raise ValueError(f"fixed amount out of range: {self.fixed}")
        if self.fixed != self.fixed.quantize(CENT):
            raise ValueError(f"fixed has more than two decimals: {self.fixed}")
        _amount("fixed fee", self.fee_fixed, allow_zero=True)
        if self.ending is not None and not (
            Decimal(0) <= self.ending < 1 and self.ending == self.ending.quantize(CENT)
        ):
            raise ValueError(f"a price ending is cents, like 0.95, got {self.ending}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}: {self.strategy}")
        _amount("step", self.step)


def with_ending(amount: Decimal, ending: Decimal | None) -> Decimal:
    """The smallest price >= `amount` that ends in `ending` (never below what the rule derived:
    rounding must not eat the margin). Stable: a price that ends so is left as it is."""
    amount = cents(amount)
    if ending is None:
        return amount
    whole = amount.to_integral_value(rounding=ROUND_FLOOR)
    candidate = whole + ending
    return candidate if candidate >= amount else candidate + 1


def price_floor(price: SkuPrice, rules: PriceRules) -> Decimal | None:
    """The lowest price that keeps the minimum margin after fees, and MAP; None when that is 0
    (no cost, no MAP: nothing stops a fall to a penny)."""
    needed = price.cost * (1 + price.min_margin_pct / HUNDRED) + rules.fee_fixed
    margin_floor = (needed / (1 - rules.fee_pct / HUNDRED)).quantize(CENT, rounding=ROUND_CEILING)
    floor = max(margin_floor, price.map or Decimal(0))
    return floor if floor > 0 else None


@dataclass(frozen=True)
class Derived:
    """A listing's price by its rule, or why it has none (`problem`)."""

    price: Decimal | None
    compare_at: Decimal | None  # the regular price struck through during a sale
    floor: Decimal | None
    ceiling: Decimal | None
    rule: str  # "base", "sale", or a repricing strategy
    reason: str
    problem: str | None = None


def clamp(amount: Decimal, floor: Decimal | None, ceiling: Decimal | None) -> tuple[Decimal, str]:
    """`amount` within [floor, ceiling], and what happened ("" when nothing did)."""
    if floor is not None and amount < floor:
        return floor, f"clamped at the floor {floor}"
    if ceiling is not None and amount > ceiling:
        return ceiling, f"clamped at the ceiling {ceiling}"
    return amount, ""


def _marked_up(amount: Decimal, rules: PriceRules) -> Decimal:
    return with_ending(amount * (1 + rules.markup_pct / HUNDRED) + rules.fixed, rules.ending)


def derive(price: SkuPrice, rules: PriceRules, now: datetime) -> Derived:
    """The listing's price from its SKU's base (or running sale) and its rule."""
    floor, ceiling = price_floor(price, rules), price.ceiling
    if floor is not None and ceiling is not None and floor > ceiling:
        problem = f"the floor {floor} is above the ceiling {ceiling}: no price fits"
        return Derived(None, None, floor, ceiling, "base", problem, problem)
    regular = _marked_up(price.base, rules)
    how = f"base {price.base}" + _rule_said(rules)
    if price.sale is not None and price.sale.active(now):
        selling = _marked_up(price.sale.price, rules)
        selling, clamped = clamp(selling, floor, ceiling)
        regular, _ = clamp(regular, floor, ceiling)
        compare_at = regular if regular > selling else None
        reason = f"sale {price.sale.price} until {price.sale.ends.isoformat()}" + _rule_said(rules)
        return Derived(selling, compare_at, floor, ceiling, "sale", _joined(reason, clamped))
    if regular <= 0:
        problem = f"{how} gives {regular}: not a price"
        return Derived(None, None, floor, ceiling, "base", problem, problem)
    regular, clamped = clamp(regular, floor, ceiling)
    return Derived(regular, None, floor, ceiling, "base", _joined(how, clamped))


def _rule_said(rules: PriceRules) -> str:
    parts = []
    if rules.markup_pct:
        parts.append(f"+{rules.markup_pct}%")
    if rules.fixed:
        parts.append(f"{rules.fixed:+}")
    if rules.ending is not None:
        parts.append(f"ending .{str(rules.ending).split('.')[-1]}")
    return f" ({', '.join(parts)})" if parts else ""


def _joined(reason: str, clamped: str) -> str:
    return f"{reason}; {clamped}" if clamped else reason


def returns_from_sale(price: Decimal, compare_at: Decimal | None, derived: Derived) -> bool:
    """The listing showing `price` (struck-through `compare_at`) goes back to that regular
    price: a price that was in force, and through the guard, before the sale, so the guard
    does not hold the end of a sale (it does hold its start)."""
    return compare_at is not None and derived.compare_at is None and derived.price == compare_at


# --- the repricer ---


@dataclass(frozen=True)
class Offer:
    """A competing (or Keel's own) offer as the channel reports it."""

    seller_id: str
    price: Decimal
    shipping: Decimal = Decimal(0)
    buy_box: bool = False

    @property
    def landed(self) -> Decimal:
        return self.price + self.shipping


def reprice(
    derived: Derived,
    rules: PriceRules,
    offers: Sequence[Offer],
    own_seller: str,
    current: Decimal | None,
) -> Derived | None:
    """The listing's new price against competitors, or None when its strategy says to stay.
    Always within [floor, ceiling]; never for a listing without both; never a move smaller than
    the rule's step (hysteresis: Keel does not answer its own echo)."""
    if rules.strategy == "off" or derived.price is None:
        return None
    if derived.floor is None or derived.ceiling is None:
        return None
    competitors = [o for o in offers if o.seller_id != own_seller]
    own = next((o for o in offers if o.seller_id == own_seller), None)
    if not competitors:
        return None
    lowest = min(competitors, key=lambda o: (o.landed, o.seller_id))
    own_shipping = own.shipping if own is not None else Decimal(0)
    if rules.strategy == "buy-box":
        if own is not None and own.buy_box:
            return None
        winner = next((o for o in competitors if o.buy_box), None)
        if winner is None:
            return None
        target, said = winner.landed - own_shipping, f"match the Buy Box {winner.landed}"
        if current is not None and current + own_shipping <= winner.landed:
            return None
    elif rules.strategy == "match-lowest":
        target, said = lowest.landed - own_shipping, f"match the lowest offer {lowest.landed}"
    else:
        target = lowest.landed - own_shipping - rules.step
        said = f"beat the lowest offer {lowest.landed} by {rules.step}"
    clamped_price, clamped = clamp(cents(target), derived.floor, derived.ceiling)
    if current is not None and abs(clamped_price - current) < rules.step:
        return None
    return Derived(
        clamped_price,
        None,
        derived.floor,
        derived.ceiling,
        rules.strategy,
        _joined(f"{said} (seller {lowest.seller_id})", clamped),
    )


# --- the guard ---


@dataclass(frozen=True)
class Guard:
    """What no change reaches a channel beyond without a person's approval."""

    max_step_pct: Decimal = Decimal(30)
    max_changes_per_hour: int = 4
    blast_radius: int = 50  # the most listings one run may change

    def holds(
        self,
        before: Decimal | None,
        after: Decimal,
        changes_last_hour: int,
        run_size: int,
    ) -> str | None:
        """Why a change from `before` to `after` must wait for approval; None: it may go."""
        if run_size > self.blast_radius:
            return (
                f"{run_size} listings change in one run, over the blast-radius cap of "
                f"{self.blast_radius}"
            )
        if before is not None and before > 0:
            moved = abs(after - before) / before * HUNDRED
            if moved > self.max_step_pct:
                return (
                    f"moves the price {moved.quantize(Decimal('0.1'))} % ({before} -> {after}), "
                    f"over the {self.max_step_pct} % step"
                )
        if changes_last_hour >= self.max_changes_per_hour:
            return (
                f"{changes_last_hour} changes in the last hour already, the most allowed is "
                f"{self.max_changes_per_hour}"
            )
        return None


def lowest_since(history: Sequence[tuple[datetime, Decimal]], since: datetime) -> Decimal | None:
    """The lowest price shown from `since` on (the EU Omnibus reference for a reduction: the
    lowest of the prior 30 days), counting the price that was in force at `since`."""
    ordered = sorted(history, key=lambda x: x[0])
    in_force = [p for at, p in ordered if at <= since][-1:]
    during = [p for at, p in ordered if at > since]
    found = in_force + during
    return min(found) if found else None


# --- decisions ---

PUBLISHED, PENDING, APPROVED, REJECTED = "published", "pending", "approved", "rejected"
SUPERSEDED = "superseded"  # a held decision a later one for the same listing replaced
IN_FORCE = (PUBLISHED, APPROVED)


@dataclass(frozen=True)
class PriceDecision:
    """One price change of one listing: what went in, the rule, the result, and why. Kept per
    listing for good (`keel prices history`); a held one waits (`pending`) for a person."""

    id: str
    sku: str
    listing: str  # the listing's key (shared/domain/listings.py)
    channel: str
    before: Decimal | None  # the price Keel had published for the listing, if any
    price: Decimal
    compare_at: Decimal | None
    currency: str
    floor: Decimal | None
    ceiling: Decimal | None
    rule: str
    reason: str
    status: str
    actor: str
    at: datetime
    held_because: str | None = None
    decided_by: str | None = None  # who approved or rejected a held one
