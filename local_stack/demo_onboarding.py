"""Onboarding in `keel demo`: the merchant arrives (`--seed merchant`) with a catalog file and
listings on every channel; Keel imports the file, discovers and links the listings of all four
channels (by SKU, by GTIN, by the ASIN of another marketplace), leaves the conflicts alone, and
registers its webhooks and notifications. Then today's scenario runs on what was linked.

Each step is the service `keel catalog import` and `keel channels discover | link | connect`
call, against the stack's own runtime (its secrets, its sandboxes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from local_stack.seed import DEMO_SKUS
from local_stack.seed_merchant import seed_merchant
from local_stack.stack import LocalStack, runtime_of
from shared.channels.registry import CHANNELS
from shared.domain.catalog_file import read_catalog
from shared.domain.listings import listing_key
from shared.services.catalog_import import import_catalog
from shared.services.onboarding import (
    connect_channel,
    delivery_address,
    discover_channel,
    link_matches,
)
from shared.services.pricing import pricing_of

ACTOR = "keel-demo"


@dataclass
class OnboardingReport:
    imported: dict[str, Any] = field(default_factory=dict)  # the import's report
    channels: list[dict[str, Any]] = field(default_factory=list)  # per channel: what was done

    def as_dict(self) -> dict[str, Any]:
        return {"import": self.imported, "channels": self.channels}


def onboard(stack: LocalStack, problems: list[str]) -> tuple[OnboardingReport, Refs]:
    """Seed the merchant, then import, discover, link and connect every channel. Returns what
    was done and each demo SKU's first listing's refs per channel (the scenario's)."""
    targets = stack.listing_targets()
    catalog_file = seed_merchant(targets)
    rt = runtime_of(stack)
    pricing = pricing_of(rt.prices, rt.catalog.listings_for)
    read = read_catalog(catalog_file.read_bytes(), catalog_file.name)
    imported = import_catalog(read, catalog_file.name, rt.catalog, rt.inventory, pricing, ACTOR,
                              datetime.now(UTC))  # fmt: skip
    report = OnboardingReport(imported.as_dict())
    if not imported.ok:
        problems.append(f"the merchant's catalog file did not import: {imported.problems}")
    endpoints = stack.endpoints()
    for spec in CHANNELS:
        access = rt.channel(spec.name).access()
        found = discover_channel(access, rt.catalog, rt.catalog)
        linked = link_matches(access, found.found.matched, rt.catalog, pricing, ACTOR)
        connected = connect_channel(access, delivery_address(endpoints, spec))
        view = found.as_dict()
        report.channels.append(
            {
                "channel": spec.name,
                "read": view["read"],
                "matched": view["matched"],
                "conflicts": view["conflicts"],
                "unmatched_on_channel": view["unmatched_on_channel"],
                "unmatched_in_keel": view["unmatched_in_keel"],
                "linked": linked.as_dict()["linked"],
                "skipped": linked.skipped,
                "subscriptions": [s.as_dict() for s in connected],
            }
        )
        problems.extend(
            f"{spec.name}: {s.topic} ({s.account or 'first account'}) is not healthy after "
            "connect" for s in connected if not s.healthy
        )  # fmt: skip
        problems.extend(f"{spec.name}: skipped {s}" for s in linked.skipped)
    _merchant_rules(rt, problems)
    return report, _scenario_refs(rt, targets, problems)


Refs = dict[str, dict[str, dict[str, str]]]


def _merchant_rules(rt: Any, problems: list[str]) -> None:
    """The merchant's publishing rules (the mug's WooCommerce share, buffer and cap)."""
    for item in DEMO_SKUS:
        for channel, rules in item.rules.items():
            key = listing_key(channel)
            try:
                rt.catalog.change_rules(item.sku, key, rules, ACTOR, "the merchant's rules",
                                        datetime.now(UTC))  # fmt: skip
            except KeyError:
                problems.append(f"{item.sku} was not linked on {channel}: its rules wait")


def _scenario_refs(rt: Any, targets: Any, problems: list[str]) -> Refs:
    """SKU -> channel -> refs of its listing in the channel's first account and first
    marketplace; every demo SKU must be linked in every account and marketplace."""
    refs: Refs = {}
    for item in DEMO_SKUS:
        listings = {x.key: x for x in rt.catalog.listings_for(item.sku)}
        refs[item.sku] = {}
        for channel, where in targets.items():
            for target in where:
                for marketplace in target.marketplaces or ("",):
                    key = listing_key(channel, target.account, marketplace)
                    if key not in listings:
                        problems.append(f"onboarding did not link {item.sku} on {key}")
                        continue
                    refs[item.sku].setdefault(channel, dict(listings[key].refs))
    return refs
