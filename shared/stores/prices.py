"""Prices in the catalog table, beside the SKU they belong to.

Under `SKU#<sku>`: `PRICE` (what the merchant set), `PRICERULE#<listing>` (how the listing
derives its price), `PRICELOG#<listing>#<time>#<id>` (every decision, kept), `PRICETARGET#
<listing>` (the decision in force: what the channel must show) and `PRICESHOWN#<listing>` (what
the channel was last confirmed to show). Held decisions also wait under `PRICES#PENDING`.

Writing a `PRICETARGET#` item is what publishes: the catalog's stream carries it to the
channel's sync queue (shared/services/relay.py), so a decision and its publish cannot part.
A decision and its target are written in one transaction.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from shared.domain.pricing import (
    APPROVED,
    PUBLISHED,
    Guard,
    PriceDecision,
    PriceRules,
    Sale,
    SkuPrice,
)
from shared.stores.items import av, to_item
from shared.stores.table import Table

PRICE_SK = "PRICE"
RULE = "PRICERULE#"
LOG = "PRICELOG#"
TARGET = "PRICETARGET#"
SHOWN = "PRICESHOWN#"
PENDING_PK = "PRICES#PENDING"
GUARD_PK, GUARD_SK = "PRICES#GUARD", "GUARD"  # the environment's guard limits, if set
SALES_PK = "PRICES#SALES"  # one item per SKU with a sale to start or end (the sale schedule's)


class NotPending(Exception):
    """The decision is not waiting (approved or rejected already, or never held)."""


def _sku_pk(sku: str) -> str:
    return f"SKU#{sku}"


def _money(value: Any) -> Decimal | None:
    return Decimal(str(value)) if value is not None and value != "" else None


def price_item(price: SkuPrice, actor: str, reason: str, at: datetime) -> dict[str, Any]:
    sale = price.sale
    return {
        "pk": _sku_pk(price.sku),
        "sk": PRICE_SK,
        "sku": price.sku,
        "base": str(price.base),
        "cost": str(price.cost),
        "currency": price.currency,
        "min_margin_pct": str(price.min_margin_pct),
        "map": str(price.map) if price.map is not None else None,
        "msrp": str(price.msrp) if price.msrp is not None else None,
        "maximum": str(price.maximum) if price.maximum is not None else None,
        "vat_included": price.vat_included,
        "sale": {
            "price": str(sale.price),
            "starts": sale.starts.isoformat(),
            "ends": sale.ends.isoformat(),
        }
        if sale
        else None,
        "actor": actor,
        "reason": reason,
        "at": at.isoformat(),
    }


def sku_price(item: dict[str, Any]) -> SkuPrice:
    sale = item.get("sale")
    return SkuPrice(
        sku=str(item["sku"]),
        base=Decimal(str(item["base"])),
        cost=Decimal(str(item["cost"])),
        currency=str(item.get("currency", "EUR")),
        min_margin_pct=Decimal(str(item.get("min_margin_pct", "0"))),
        map=_money(item.get("map")),
        msrp=_money(item.get("msrp")),
        maximum=_money(item.get("maximum")),
        vat_included=bool(item.get("vat_included", True)),
        sale=Sale(
            Decimal(str(sale["price"])),
            datetime.fromisoformat(str(sale["starts"])),
            datetime.fromisoformat(str(sale["ends"])),
        )
        if sale
        else None,
    )


def rules_of(item: dict[str, Any]) -> PriceRules:
    return PriceRules(
        markup_pct=Decimal(str(item.get("markup_pct", "0"))),
        fixed=Decimal(str(item.get("fixed", "0"))),
        fee_pct=Decimal(str(item.get("fee_pct", "0"))),
        fee_fixed=Decimal(str(item.get("fee_fixed", "0"))),
        ending=_money(item.get("ending")),
        strategy=str(item.get("strategy", "off")),
        step=Decimal(str(item.get("step", "0.01"))),
    )


def decision_item(d: PriceDecision) -> dict[str, Any]:
    return {
        "id": d.id,
        "sku": d.sku,
        "listing": d.listing,
        "channel": d.channel,
        "before": str(d.before) if d.before is not None else None,
        "price": str(d.price),
        "compare_at": str(d.compare_at) if d.compare_at is not None else None,
        "currency": d.currency,
        "floor": str(d.floor) if d.floor is not None else None,
        "ceiling": str(d.ceiling) if d.ceiling is not None else None,
        "rule": d.rule,
        "reason": d.reason,
        "status": d.status,
        "actor": d.actor,
        "at": d.at.isoformat(),
        "held_because": d.held_because,
        "decided_by": d.decided_by,
    }


def decision_of(item: dict[str, Any]) -> PriceDecision:
    return PriceDecision(
        id=str(item["id"]),
        sku=str(item["sku"]),
        listing=str(item["listing"]),
        channel=str(item["channel"]),
        before=_money(item.get("before")),
        price=Decimal(str(item["price"])),
        compare_at=_money(item.get("compare_at")),
        currency=str(item["currency"]),
        floor=_money(item.get("floor")),
        ceiling=_money(item.get("ceiling")),
        rule=str(item["rule"]),
        reason=str(item["reason"]),
        status=str(item["status"]),
        actor=str(item["actor"]),
        at=datetime.fromisoformat(str(item["at"])),
        held_because=item.get("held_because"),
        decided_by=item.get("decided_by"),
    )


def _log_sk(d: PriceDecision) -> str:
    return f"{LOG}{d.listing}#{d.at.isoformat()}#{d.id}"


class PriceBook:
    """The price book on the catalog table (see the module's docstring for its items)."""

    def __init__(self, table: str, client: Any) -> None:
        self._t = Table(table, client)

    # --- the guard ---
    def guard(self) -> Guard:
        """The environment's guard limits (`keel prices guard`), else the defaults."""
        item = self._t.get(GUARD_PK, GUARD_SK)
        if not item:
            return Guard()
        return Guard(
            max_step_pct=Decimal(str(item["max_step_pct"])),
            max_changes_per_hour=int(item["max_changes_per_hour"]),
            blast_radius=int(item["blast_radius"]),
        )

    def put_guard(self, guard: Guard, actor: str, reason: str, at: datetime) -> None:
        self._t.client.put_item(
            TableName=self._t.name,
            Item=to_item(
                {
                    "pk": GUARD_PK,
                    "sk": GUARD_SK,
                    "max_step_pct": str(guard.max_step_pct),
                    "max_changes_per_hour": guard.max_changes_per_hour,
                    "blast_radius": guard.blast_radius,
                    "actor": actor,
                    "reason": reason,
                    "at": at.isoformat(),
                }
            ),
        )

    # --- what the merchant sets ---
    def put_price(self, price: SkuPrice, actor: str, reason: str, at: datetime) -> None:
        """The SKU's price; a sale also puts it on the sale schedule's list (one transaction)."""
        sale = price.sale
        marker: dict[str, Any]
        if sale is not None:
            marker = {"Put": {"TableName": self._t.name, "Item": to_item(
                {"pk": SALES_PK, "sk": price.sku, "starts": sale.starts.isoformat(),
                 "ends": sale.ends.isoformat()})}}  # fmt: skip
        else:
            marker = {"Delete": {"TableName": self._t.name,
                                 "Key": {"pk": av(SALES_PK), "sk": av(price.sku)}}}  # fmt: skip
        self._t.client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": self._t.name,
                         "Item": to_item(price_item(price, actor, reason, at))}},
                marker,
            ]
        )  # fmt: skip

    def on_sale(self) -> list[str]:
        """SKUs with a sale still to start or end: what the sale schedule decides again."""
        return sorted(str(i["sk"]) for i in self._t.query_partition(SALES_PK))

    def sale_over(self, sku: str, ends: datetime) -> None:
        """Off the sale schedule's list, unless a newer sale was set meanwhile."""
        client = self._t.client
        with contextlib.suppress(client.exceptions.ConditionalCheckFailedException):
            client.delete_item(
                TableName=self._t.name,
                Key={"pk": av(SALES_PK), "sk": av(sku)},
                ConditionExpression="ends = :ends",
                ExpressionAttributeValues={":ends": av(ends.isoformat())},
            )

    def price(self, sku: str) -> SkuPrice | None:
        item = self._t.get(_sku_pk(sku), PRICE_SK)
        return sku_price(item) if item else None

    def prices(self) -> list[SkuPrice]:
        """Every SKU's price; for operators and the sale schedule, not request paths."""
        return sorted((sku_price(i) for i in self._t.scan_sk(PRICE_SK)), key=lambda p: p.sku)

    def put_rules(
        self, sku: str, listing: str, rules: PriceRules, actor: str, at: datetime
    ) -> None:
        self._t.client.put_item(
            TableName=self._t.name,
            Item=to_item(
                {
                    "pk": _sku_pk(sku),
                    "sk": RULE + listing,
                    "markup_pct": str(rules.markup_pct),
                    "fixed": str(rules.fixed),
                    "fee_pct": str(rules.fee_pct),
                    "fee_fixed": str(rules.fee_fixed),
                    "ending": str(rules.ending) if rules.ending is not None else None,
                    "strategy": rules.strategy,
                    "step": str(rules.step),
                    "actor": actor,
                    "at": at.isoformat(),
                }
            ),
        )

    def rules(self, sku: str) -> dict[str, PriceRules]:
        """Listing key -> its price rule (listings without one use the default rule)."""
        return {
            str(i["sk"])[len(RULE) :]: rules_of(i) for i in self._t.query_prefix(_sku_pk(sku), RULE)
        }

    def repricing(self) -> list[tuple[str, str]]:
        """(SKU, listing key) of every listing whose rule reprices against competitors: what
        the competitors schedule reads (a scan: schedules, not request paths)."""
        found = [
            (str(i["pk"]).removeprefix("SKU#"), str(i["sk"])[len(RULE) :])
            for i in self._t.scan_prefix(RULE)
            if i.get("strategy", "off") != "off"
        ]
        return sorted(found)

    # --- decisions ---
    def targets(self, sku: str) -> dict[str, PriceDecision]:
        """Listing key -> the decision in force (what its channel must show)."""
        return {
            str(i["sk"])[len(TARGET) :]: decision_of(i)
            for i in self._t.query_prefix(_sku_pk(sku), TARGET)
        }

    def targets_many(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], PriceDecision]:
        """(SKU, listing key) -> the decision in force, in one read (a sync batch's)."""
        wanted = list(dict.fromkeys(keys))
        found = self._t.get_many((_sku_pk(s), TARGET + k) for s, k in wanted)
        return {
            (s, k): decision_of(found[(_sku_pk(s), TARGET + k)])
            for s, k in wanted
            if (_sku_pk(s), TARGET + k) in found
        }

    def history(self, sku: str) -> list[PriceDecision]:
        """Every decision for the SKU's listings, oldest first."""
        found = [decision_of(i) for i in self._t.query_prefix(_sku_pk(sku), LOG)]
        return sorted(found, key=lambda d: (d.at, d.id))

    def published_since(self, sku: str, listing: str, since: datetime) -> int:
        """Decisions published for the listing from `since` on (the guard's hourly count)."""
        return sum(
            1
            for i in self._t.query_prefix(_sku_pk(sku), f"{LOG}{listing}#")
            if i["status"] in (PUBLISHED, APPROVED)
            and datetime.fromisoformat(str(i["at"])) >= since
        )

    def publish(self, decision: PriceDecision) -> None:
        """Record the decision and make it the one in force, in one transaction."""
        item = decision_item(decision)
        self._t.client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": self._t.name, "Item": self._log(decision)}},
                {
                    "Put": {
                        "TableName": self._t.name,
                        "Item": to_item(
                            {"pk": _sku_pk(decision.sku), "sk": TARGET + decision.listing, **item}
                        ),
                    }
                },
            ]
        )

    def hold(self, decision: PriceDecision) -> None:
        """Record the decision as waiting for a person."""
        item = decision_item(decision)
        self._t.client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": self._t.name, "Item": self._log(decision)}},
                {
                    "Put": {
                        "TableName": self._t.name,
                        "Item": to_item({"pk": PENDING_PK, "sk": decision.id, **item}),
                    }
                },
            ]
        )

    def pending(self) -> list[PriceDecision]:
        found = [decision_of(i) for i in self._t.query_partition(PENDING_PK)]
        return sorted(found, key=lambda d: (d.at, d.id))

    def pending_one(self, decision_id: str) -> PriceDecision | None:
        item = self._t.get(PENDING_PK, decision_id)
        return decision_of(item) if item else None

    def settle(self, decision: PriceDecision) -> None:
        """A held decision approved (it becomes the one in force) or rejected; NotPending when
        it was settled meanwhile (two people, one decision)."""
        client = self._t.client
        items: list[dict[str, Any]] = [
            {
                "Delete": {
                    "TableName": self._t.name,
                    "Key": {"pk": av(PENDING_PK), "sk": av(decision.id)},
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
            {"Put": {"TableName": self._t.name, "Item": self._log(decision)}},
        ]
        if decision.status == APPROVED:
            items.append(
                {
                    "Put": {
                        "TableName": self._t.name,
                        "Item": to_item(
                            {
                                "pk": _sku_pk(decision.sku),
                                "sk": TARGET + decision.listing,
                                **decision_item(decision),
                            }
                        ),
                    }
                }
            )
        try:
            client.transact_write_items(TransactItems=items)
        except client.exceptions.TransactionCanceledException as exc:
            raise NotPending(f"decision {decision.id} is not pending") from exc

    def _log(self, decision: PriceDecision) -> dict[str, Any]:
        return to_item(
            {"pk": _sku_pk(decision.sku), "sk": _log_sk(decision), **decision_item(decision)}
        )

    # --- what the channel shows ---
    def record_shown(
        self, sku: str, listing: str, price: Decimal, compare_at: Decimal | None, at: datetime
    ) -> None:
        self._t.client.put_item(
            TableName=self._t.name,
            Item=to_item(
                {
                    "pk": _sku_pk(sku),
                    "sk": SHOWN + listing,
                    "price": str(price),
                    "compare_at": str(compare_at) if compare_at is not None else None,
                    "at": at.isoformat(),
                }
            ),
        )

    def shown_many(
        self, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[Decimal, Decimal | None]]:
        """(SKU, listing key) -> (price, compare_at) the channel was last confirmed to show."""
        wanted = list(dict.fromkeys(keys))
        found = self._t.get_many((_sku_pk(s), SHOWN + k) for s, k in wanted)
        shown: dict[tuple[str, str], tuple[Decimal, Decimal | None]] = {}
        for s, k in wanted:
            item = found.get((_sku_pk(s), SHOWN + k))
            if item:
                shown[(s, k)] = (Decimal(str(item["price"])), _money(item.get("compare_at")))
        return shown
