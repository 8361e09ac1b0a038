"""Onboarding a merchant's channels: discover the listings they already have, link them to
Keel's SKUs, and connect the deliveries Keel needs (`keel channels discover | link | connect |
status`). Reconciliation reuses the readers and the subscription check.

Nothing here talks to a channel directly: a ChannelAccess (built by the composition root,
ChannelKit.access) hands out each account's listing reader and subscription manager.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from shared.channels.errors import ChannelError
from shared.channels.port import ManagesSubscriptions, ReadsListings, Subscription
from shared.channels.spec import Channel
from shared.domain.listings import Listing
from shared.domain.matching import ChannelListing, Discovery, Group, KeelSku, Match, discover
from shared.services.pricing import Pricing, decide
from shared.stores.catalog import RefAlreadyMapped
from shared.stores.ports import Listings, Products


@dataclass(frozen=True)
class ChannelAccess:
    """One channel's accounts and marketplaces, and its adapters per account key."""

    spec: Channel
    places: tuple[Group, ...]  # (account key, marketplace) pairs Keel lists in
    reader: Callable[[str], ReadsListings]
    manager: Callable[[str], ManagesSubscriptions]


def listing_id(spec: Channel, listing: Listing) -> str:
    """How a channel names one of Keel's listings, as its reader does (the ref order lines
    match by: Shopify's variant, Woo's item, bol's offer, Amazon's marketplace/SKU)."""
    return listing.refs.get(spec.line_item_ref or "", "") or listing.refs.get("listing_id", "")


@dataclass
class DiscoveryReport:
    channel: str
    read: int
    found: Discovery

    def as_dict(self) -> dict[str, Any]:
        def match(m: Match) -> dict[str, Any]:
            return {"sku": m.sku, "listing_id": m.listing.listing_id, "by": m.by,
                    "account": m.listing.account, "marketplace": m.listing.marketplace}  # fmt: skip

        return {
            "channel": self.channel,
            "read": self.read,
            "matched": [match(m) for m in self.found.matched],
            "already_linked": [match(m) for m in self.found.already_linked],
            "unmatched_in_keel": [
                {"sku": sku, "account": account, "marketplace": marketplace}
                for sku, (account, marketplace) in self.found.unmatched_in_keel
            ],
            "unmatched_on_channel": [_seen(x) for x in self.found.unmatched_on_channel],
            "conflicts": [
                {
                    "kind": c.kind,
                    "skus": list(c.skus),
                    "listing_ids": [x.listing_id for x in c.listings],
                    "account": c.listings[0].account,
                    "marketplace": c.listings[0].marketplace,
                    "detail": c.detail,
                }
                for c in self.found.conflicts
            ],
        }


def _seen(x: ChannelListing) -> dict[str, Any]:
    return {"listing_id": x.listing_id, "sku": x.sku, "gtin": x.gtin, "title": x.title,
            "account": x.account, "marketplace": x.marketplace}  # fmt: skip


def read_channel(access: ChannelAccess) -> list[ChannelListing]:
    """Every listing of every account and marketplace Keel lists in, tagged with its place."""
    seen: list[ChannelListing] = []
    for account, marketplace in access.places:
        reader = access.reader(account)
        seen.extend(
            replace(x, account=account, marketplace=marketplace)
            for x in reader.read_listings(marketplace)
        )
    return seen


def discover_channel(
    access: ChannelAccess, products: Products, listings: Listings
) -> DiscoveryReport:
    spec = access.spec
    mine = [x for x in listings.all_listings() if x.channel == spec.name]
    linked: dict[Group, dict[str, str]] = defaultdict(dict)
    product_ids: dict[str, set[str]] = defaultdict(set)
    for x in mine:
        linked[(x.account, x.marketplace)][listing_id(spec, x)] = x.sku
        if spec.offer_ref and x.refs.get(spec.offer_ref):
            product_ids[x.sku].add(x.refs[spec.offer_ref])
    skus = [
        KeelSku(p.sku, p.gtin, frozenset(product_ids.get(p.sku, ())))
        for p in products.products_detail().values()
    ]
    seen = read_channel(access)
    return DiscoveryReport(spec.name, len(seen), discover(skus, seen, linked, access.places))


@dataclass
class LinkReport:
    channel: str
    linked: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    priced: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "linked": self.linked, "skipped": self.skipped,
                "listings_priced": self.priced}  # fmt: skip


def link_matches(
    access: ChannelAccess,
    matches: Sequence[Match],
    listings: Listings,
    pricing: Pricing,
    actor: str,
) -> LinkReport:
    """Store each matched listing (a report's candidate read again first: a listing gone or
    changed since the report is skipped, with why) and decide its price. The catalog's stream
    then publishes Keel's stock to it, and the price book's its price."""
    spec = access.spec
    report = LinkReport(spec.name)
    for m in matches:
        seen = m.listing
        where = {"sku": m.sku, "listing_id": seen.listing_id, "account": seen.account,
                 "marketplace": seen.marketplace}  # fmt: skip
        if not seen.confirmed:
            try:
                now = access.reader(seen.account).read_listing(seen.refs, seen.marketplace)
            except ChannelError as exc:
                report.skipped.append({**where, "why": f"could not read it again: {exc}"})
                continue
            if now is None:
                report.skipped.append({**where, "why": "gone since the channel's report"})
                continue
            moved = (m.by == "sku" and now.sku != seen.sku) or (
                m.by == "gtin" and now.gtin != seen.gtin
            )
            if moved:
                report.skipped.append({**where, "why": f"its {m.by} changed since the report"})
                continue
            seen = replace(now, account=seen.account, marketplace=seen.marketplace)
        listing = Listing(
            m.sku,
            spec.name,
            dict(seen.refs),
            account=seen.account,
            marketplace=seen.marketplace,
            countries=seen.countries,
        )
        try:
            listings.put_listing(listing, lookup_refs=spec.lookup_refs)
        except RefAlreadyMapped as exc:
            report.skipped.append({**where, "why": str(exc)})
            continue
        report.linked.append(where)
        price = pricing.book.price(m.sku)
        if price is not None:
            run = decide(pricing, price, actor, f"linked on {spec.name}", only=listing.key)
            report.priced += len(run.decisions)
    return report


# --- subscriptions ---


def delivery_address(target: Mapping[str, Any], spec: Channel) -> str:
    """Where an environment (`.keel/local.json`'s shape) receives the channel's deliveries:
    its webhook URL, or, for a channel that delivers to a queue (Amazon), the queue's ARN."""
    from shared.names import notification_queue

    if spec.queue_receiver is not None:
        url = (
            target.get("notification_queues", {}).get(spec.name)
            or target["queues"][notification_queue(spec.name)]
        )
        account, name = str(url).rstrip("/").split("/")[-2:]
        return f"arn:aws:sqs:{target['region']}:{account}:{name}"
    url = target.get("webhooks", {}).get(spec.name)
    if url:
        return str(url)
    return f"{str(target['api_url']).rstrip('/')}/webhooks/{spec.name}"


@dataclass(frozen=True)
class SubscriptionState:
    account: str
    topic: str
    address: str  # where Keel wants it delivered
    found: Subscription | None
    action: str = ""  # connect: kept, created, re-enabled, moved

    @property
    def healthy(self) -> bool:
        return self.found is not None and self.found.active and self.found.address == self.address

    def as_dict(self) -> dict[str, Any]:
        f = self.found
        view = {"account": self.account, "topic": self.topic, "address": self.address,
                "id": f.id if f else None, "active": bool(f and f.active),
                "delivers_to": f.address if f else None, "healthy": self.healthy,
                "detail": f.detail if f else "missing"}  # fmt: skip
        return {**view, "action": self.action} if self.action else view


def subscription_status(
    access: ChannelAccess, address: str, accounts: Sequence[str] | None = None
) -> list[SubscriptionState]:
    """Each account's subscription of each topic Keel needs, as the channel shows it."""
    found: list[SubscriptionState] = []
    for account in accounts if accounts is not None else _accounts(access):
        existing = access.manager(account).subscriptions()
        for topic in access.spec.subscriptions:
            best = _best(existing, topic, address)
            found.append(SubscriptionState(account, topic, address, best))
    return found


def connect_channel(
    access: ChannelAccess, address: str, dry_run: bool = False
) -> list[SubscriptionState]:
    """Create, re-enable or re-point what Keel needs; what is healthy is kept. Idempotent:
    connecting twice leaves one subscription per topic."""
    return [
        fix_subscription(access, state, dry_run) for state in subscription_status(access, address)
    ]


def fix_subscription(
    access: ChannelAccess, state: SubscriptionState, dry_run: bool = False
) -> SubscriptionState:
    """One subscription made healthy (connect, and reconciliation's re-arming): created when
    missing, re-enabled when the channel disabled it, moved when it delivers elsewhere."""
    if state.healthy:
        return replace(state, action="kept")
    if dry_run:
        return replace(state, action="would " + ("create" if not state.found else "fix"))
    manager = access.manager(state.account)
    if state.found is None:
        return replace(state, found=manager.subscribe(state.topic, state.address), action="created")
    action = "re-enabled" if state.found.address == state.address else "moved"
    return replace(state, found=manager.repair(state.found, state.address), action=action)


def _accounts(access: ChannelAccess) -> list[str]:
    return list(dict.fromkeys(account for account, _ in access.places))


def _best(existing: Sequence[Subscription], topic: str, address: str) -> Subscription | None:
    """Keel's subscription of a topic: one delivering to the address (active first), else one
    of Keel's delivering elsewhere (an older endpoint), else none."""
    mine = [s for s in existing if s.topic == topic and s.ours]
    ranked = sorted(mine, key=lambda s: (s.address != address, not s.active))
    return ranked[0] if ranked else None


def by_account(states: Sequence[SubscriptionState]) -> Mapping[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for state in states:
        grouped[state.account].append(state.as_dict())
    return grouped
