"""The channels' own fees, into each listing's price rule: what bol's commission and Amazon's
fees estimate say the channel takes at the listing's price becomes the rule's fee (percent and
per item), so its floor keeps the minimum margin after them; the listing is then decided again
(a floor that rose may lift the price)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from shared.channels.errors import ChannelError
from shared.channels.port import ChannelFee, EstimatesFees
from shared.domain.listings import Listing
from shared.domain.pricing import PriceRules, derive
from shared.services.pricing import NoPrice, Pricing, set_rules


@dataclass(frozen=True)
class FeeRead:
    listing: Listing
    fee: ChannelFee | None
    problem: str | None = None
    before: PriceRules | None = None
    after: PriceRules | None = None


def refresh_fees(
    p: Pricing,
    sku: str,
    estimator_of: Callable[[Listing], EstimatesFees | None],
    actor: str,
    reason: str,
) -> list[FeeRead]:
    """Each listing of the SKU whose channel estimates fees: its fee at its price in force (or
    derived), stored in its rule when it changed (with the channel's figures as the reason)."""
    price = p.book.price(sku)
    if price is None:
        raise NoPrice(f"{sku} has no price in Keel yet (keel prices set)")
    rules = p.book.rules(sku)
    in_force = p.book.targets(sku)
    reads: list[FeeRead] = []
    for listing in sorted(p.listings(sku), key=lambda x: x.key):
        estimator = estimator_of(listing)
        if estimator is None:
            continue
        rule = rules.get(listing.key, PriceRules())
        current = in_force.get(listing.key)
        at = current.price if current else derive(price, rule, p.now()).price
        if at is None:
            reads.append(FeeRead(listing, None, "no price to estimate fees at"))
            continue
        try:
            fee = estimator.fee(listing, at, price.currency)
        except ChannelError as exc:
            reads.append(FeeRead(listing, None, f"{type(exc).__name__}: {exc}"))
            continue
        new = replace(rule, fee_pct=fee.percent, fee_fixed=fee.fixed)
        if new != rule:
            set_rules(p, sku, listing, new, actor, f"{reason}: {listing.channel} fee {fee.said}")
        reads.append(FeeRead(listing, fee, None, rule, new))
    return reads
