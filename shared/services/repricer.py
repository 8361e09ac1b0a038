"""The repricer: competing offers on a channel -> a new price for Keel's listing there, within
its rule and never outside [floor, ceiling] (shared/domain/pricing.py decides), through the
guard and recorded like every price decision (shared/services/pricing.py).

It acts on what the channel's own reference flow says to act on: not on changes the channel
marks to ignore (Amazon's `External` ones, other conditions), not for listings whose strategy is
off or that have no floor or ceiling, not by less than the rule's step, and not more often than
the guard's changes per hour: Keel never starts a price war with itself or a rate-limit storm.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from shared.channels.errors import ChannelError
from shared.channels.port import CompetingOffers, ReadsCompetition
from shared.channels.spec import Channel
from shared.domain.accounts import normalize_account
from shared.domain.listings import Listing, stock_slot
from shared.domain.pricing import Derived, PriceRules, derive, reprice
from shared.services.pricing import Pricing, decide

REPRICER = "repricer"


def _in_marketplace(listing: Listing, marketplace: str) -> bool:
    where = listing.marketplace or listing.refs.get("marketplace_id", "")
    return not marketplace or not where or where == marketplace


def reprice_on(
    p: Pricing,
    find_sku: Callable[[str, str, str], str | None],
    channel: Channel,
    account_key: str,
    seller: str,
    change: CompetingOffers,
) -> str:
    """What the repricer made of one notification, said for the log."""
    if change.ignore:
        return f"ignored: {change.ignore}"
    ref = channel.offer_ref or "sku"
    sku = find_sku(stock_slot(channel.name, account_key), ref, change.product_ref)
    if sku is None:
        return f"no {channel.name} listing has {ref} {change.product_ref}"
    listing = next(
        (
            x
            for x in sorted(p.listings(sku), key=lambda x: x.key)
            if x.channel == channel.name
            and x.account == account_key
            and _in_marketplace(x, change.marketplace)
        ),
        None,
    )
    if listing is None:
        return f"{sku} has no {channel.name} listing in marketplace {change.marketplace!r}"
    return reprice_listing(p, listing, seller, change)


def reprice_listing(p: Pricing, listing: Listing, seller: str, change: CompetingOffers) -> str:
    """The listing's new price against the offers beside it (`seller`: Keel's own seller id on
    the channel, whose offer is not a competitor)."""
    sku = listing.sku
    price = p.book.price(sku)
    if price is None:
        return f"{sku} has no price in Keel: nothing to reprice"
    rules = p.book.rules(sku).get(listing.key, PriceRules())
    if rules.strategy == "off":
        return f"{sku} on {listing.key}: repricing is off"
    if change.currency != price.currency:
        return f"{sku}: offers in {change.currency}, Keel prices in {price.currency}: not repriced"
    recent = p.book.published_since(sku, listing.key, p.now() - timedelta(hours=1))
    if recent >= p.guard.max_changes_per_hour:
        return f"{sku} on {listing.key}: {recent} changes in the last hour already; stays"
    own = normalize_account(seller)
    offers = [replace(o, seller_id=seller) if normalize_account(o.seller_id) == own else o
              for o in change.offers]  # fmt: skip
    current = p.book.targets(sku).get(listing.key)
    derived = derive(price, rules, p.now())
    moved = reprice(derived, rules, offers, seller, current.price if current else None)
    if moved is None:
        return f"{sku} on {listing.key}: {rules.strategy} finds nothing to change"

    def repriced(candidate: Listing, _: PriceRules) -> Derived | None:
        return moved if candidate.key == listing.key else None

    at = change.changed_at.isoformat(timespec="seconds")
    run = decide(p, price, REPRICER, f"competing offers at {at}", only=listing.key,
                 derived_by=repriced)  # fmt: skip
    if not run.decisions:
        return f"{sku} on {listing.key}: already at {moved.price}"
    d = run.decisions[0]
    return f"{sku} on {listing.key}: {d.before} -> {d.price} {d.status} ({d.reason})"


def watch_competition(
    p: Pricing,
    watched: list[tuple[str, str]],
    listing_of: Callable[[str, str], Listing | None],
    readers: Callable[[Listing], tuple[ReadsCompetition, str] | None],
    limit: int,
) -> list[str]:
    """The competitors schedule: for each listing that reprices (`watched`: SKU and listing
    key), read the offers beside it (`readers`: the channel's reader for the listing's account
    and Keel's seller id there; None: the channel has none) and reprice. At most `limit`
    listings a run (the channels' rate budgets); what one listing's read fails with is said and
    the rest go on."""
    said: list[str] = []
    for sku, key in watched:
        if len(said) >= limit:
            break
        listing = listing_of(sku, key)
        found = readers(listing) if listing is not None else None
        if listing is None or found is None:
            continue
        reader, seller = found
        try:
            change = reader.competing_offers(listing)
        except ChannelError as exc:
            said.append(f"{sku} on {key}: offers not read: {exc}")
            continue
        said.append(reprice_listing(p, listing, seller, change))
    return said
