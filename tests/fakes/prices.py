"""An in-memory price book implementing shared.stores.ports.Prices, for service tests."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from shared.domain.pricing import (
    APPROVED,
    IN_FORCE,
    Guard,
    PriceDecision,
    PriceRules,
    SkuPrice,
)
from shared.stores.prices import NotPending


@dataclass
class MemoryPriceBook:
    set_prices: dict[str, SkuPrice] = field(default_factory=dict)
    listing_rules: dict[tuple[str, str], PriceRules] = field(default_factory=dict)
    log: dict[str, PriceDecision] = field(default_factory=dict)  # id -> latest state
    in_force: dict[tuple[str, str], PriceDecision] = field(default_factory=dict)
    waiting: dict[str, PriceDecision] = field(default_factory=dict)
    shown: dict[tuple[str, str], tuple[Decimal, Decimal | None]] = field(default_factory=dict)
    published: list[PriceDecision] = field(default_factory=list)  # every target write, in order
    sales: dict[str, datetime] = field(default_factory=dict)  # SKU -> its sale's end
    limits: Guard = field(default_factory=Guard)

    def guard(self) -> Guard:
        return self.limits

    def put_guard(self, guard: Guard, actor: str, reason: str, at: datetime) -> None:
        self.limits = guard

    def put_price(self, price: SkuPrice, actor: str, reason: str, at: datetime) -> None:
        self.set_prices[price.sku] = price
        if price.sale is not None:
            self.sales[price.sku] = price.sale.ends
        else:
            self.sales.pop(price.sku, None)

    def on_sale(self) -> list[str]:
        return sorted(self.sales)

    def sale_over(self, sku: str, ends: datetime) -> None:
        if self.sales.get(sku) == ends:
            del self.sales[sku]

    def price(self, sku: str) -> SkuPrice | None:
        return self.set_prices.get(sku)

    def prices(self) -> list[SkuPrice]:
        return sorted(self.set_prices.values(), key=lambda p: p.sku)

    def put_rules(
        self, sku: str, listing: str, rules: PriceRules, actor: str, at: datetime
    ) -> None:
        self.listing_rules[(sku, listing)] = rules

    def repricing(self) -> list[tuple[str, str]]:
        return sorted(k for k, r in self.listing_rules.items() if r.strategy != "off")

    def rules(self, sku: str) -> dict[str, PriceRules]:
        return {k: r for (s, k), r in self.listing_rules.items() if s == sku}

    def targets(self, sku: str) -> dict[str, PriceDecision]:
        return {k: d for (s, k), d in self.in_force.items() if s == sku}

    def targets_many(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], PriceDecision]:
        return {k: self.in_force[k] for k in keys if k in self.in_force}

    def history(self, sku: str) -> list[PriceDecision]:
        return sorted((d for d in self.log.values() if d.sku == sku), key=lambda d: (d.at, d.id))

    def published_since(self, sku: str, listing: str, since: datetime) -> int:
        return sum(
            1
            for d in self.log.values()
            if d.sku == sku and d.listing == listing and d.status in IN_FORCE and d.at >= since
        )

    def publish(self, decision: PriceDecision) -> None:
        self.log[decision.id] = decision
        self.in_force[(decision.sku, decision.listing)] = decision
        self.published.append(decision)

    def hold(self, decision: PriceDecision) -> None:
        self.log[decision.id] = decision
        self.waiting[decision.id] = decision

    def pending(self) -> list[PriceDecision]:
        return sorted(self.waiting.values(), key=lambda d: (d.at, d.id))

    def pending_one(self, decision_id: str) -> PriceDecision | None:
        return self.waiting.get(decision_id)

    def settle(self, decision: PriceDecision) -> None:
        if decision.id not in self.waiting:
            raise NotPending(decision.id)
        del self.waiting[decision.id]
        self.log[decision.id] = decision
        if decision.status == APPROVED:
            self.publish(decision)

    def record_shown(
        self, sku: str, listing: str, price: Decimal, compare_at: Decimal | None, at: datetime
    ) -> None:
        self.shown[(sku, listing)] = (price, compare_at)

    def shown_many(
        self, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[Decimal, Decimal | None]]:
        return {k: self.shown[k] for k in keys if k in self.shown}
