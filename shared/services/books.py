"""Keel's own books, proved (shared/domain/books.py): every SKU's level against its open
reservations and its ledger, every order's reservations against its lines and state.

The stores are read one SKU at a time while orders keep arriving, so a reading can catch a
level between two writes of one transaction's neighbours: a SKU (or order) that looks wrong is
read again, and only what is wrong twice in a row is reported. Nothing is ever corrected here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.domain.books import BooksProblem, check_level, check_order, orphan_reservations
from shared.stores.ports import Inventory, Orders


@dataclass
class BooksReport:
    skus: int = 0
    orders: int = 0
    problems: list[BooksProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"skus_checked": self.skus, "orders_checked": self.orders, "ok": self.ok,
                "mismatches": [p.as_dict() for p in self.problems]}  # fmt: skip


def check_books(inventory: Inventory, orders: Orders) -> BooksReport:
    report = BooksReport()
    by_order: dict[str, dict[str, int]] = {}
    for level in inventory.levels():
        report.skus += 1
        problems, reservations = _sku(inventory, level.sku)
        if problems:
            problems, reservations = _sku(inventory, level.sku)  # read again: still wrong?
        report.problems += problems
        for order_key, qty in reservations.items():
            by_order.setdefault(order_key, {})[level.sku] = qty
    known: list[str] = []
    for order in orders.orders():
        report.orders += 1
        known.append(order.key)
        if check_order(order, by_order.get(order.key, {})):
            report.problems += _order_again(inventory, orders, order.key, by_order)
    report.problems += orphan_reservations(by_order, known)
    return report


def _sku(inventory: Inventory, sku: str) -> tuple[list[BooksProblem], dict[str, int]]:
    level = inventory.get(sku)
    reservations = inventory.open_reservations(sku)
    ledger = [m.quantity for m in inventory.ledger(sku)]
    if level is None:
        return [], reservations
    return check_level(level, reservations, ledger), reservations


def _order_again(
    inventory: Inventory, orders: Orders, key: str, by_order: dict[str, dict[str, int]]
) -> list[BooksProblem]:
    """The order and its reservations read again (its SKUs' as the inventory holds them)."""
    again = orders.get_with_reservations(key)
    if again is None:
        return []
    order, stored = again
    skus = {*by_order.get(key, {}), *stored, *(ln.sku for ln in order.lines if ln.sku)}
    holds = {sku: inventory.open_reservations(sku).get(key, 0) for sku in sorted(skus)}
    return check_order(order, holds)
