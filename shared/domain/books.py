"""Keel's own books, checked: what the stored levels say against what they are made of.

A level keeps `on_hand` and `reserved` as numbers (DynamoDB conditions cannot sum), so they
could drift from the ledger and the reservations they summarise (a bug, a hand edit in the
console, a half-applied restore). Reconciliation proves they did not: per SKU, `reserved` is the
sum of its open reservations and `on_hand` the sum of its ledger; per order, its reservations
match its lines and its state. A mismatch is reported (and alarmed), never "fixed": which side
is wrong is a person's call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from shared.domain.inventory import StockLevel
from shared.domain.orders import Order, OrderStatus

RESERVED_SUM = "reserved_not_sum_of_reservations"
ON_HAND_SUM = "on_hand_not_sum_of_ledger"
NEGATIVE = "negative_level"
ENDED_HOLDS_STOCK = "ended_order_holds_stock"
RESERVATIONS_NOT_LINES = "reservations_do_not_match_lines"
RESERVATION_WITHOUT_ORDER = "reservation_without_order"


@dataclass(frozen=True)
class BooksProblem:
    kind: str
    detail: str
    sku: str | None = None
    order_key: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"kind": self.kind, "sku": self.sku, "order": self.order_key, "detail": self.detail}


def check_level(
    level: StockLevel, reservations: Mapping[str, int], ledger: Iterable[int]
) -> list[BooksProblem]:
    """One SKU: its level against its open reservations (order key -> quantity) and the
    quantities of its ledger entries."""
    found: list[BooksProblem] = []
    held = sum(reservations.values())
    if level.reserved != held:
        found.append(
            BooksProblem(
                RESERVED_SUM,
                f"reserved {level.reserved}, open reservations sum to {held}",
                sku=level.sku,
            )
        )
    total = sum(ledger)
    if level.on_hand != total:
        found.append(
            BooksProblem(
                ON_HAND_SUM, f"on hand {level.on_hand}, the ledger sums to {total}", sku=level.sku
            )
        )
    if level.on_hand < 0 or level.reserved < 0:
        found.append(
            BooksProblem(
                NEGATIVE, f"on hand {level.on_hand}, reserved {level.reserved}", sku=level.sku
            )
        )
    return found


def check_order(order: Order, reservations: Mapping[str, int]) -> list[BooksProblem]:
    """One order: an ended or shipped one holds nothing; an accepted one holds exactly its
    lines (per SKU); a held one holds no more than its lines."""
    wanted: dict[str, int] = {}
    for line in order.lines:
        if line.stock and line.sku:
            wanted[line.sku] = wanted.get(line.sku, 0) + line.quantity
    holds = {sku: qty for sku, qty in reservations.items() if qty}
    if order.ended or order.status is OrderStatus.SHIPPED:
        if holds:
            return [
                BooksProblem(
                    ENDED_HOLDS_STOCK,
                    f"{order.status.value} but holds {_said(holds)}",
                    order_key=order.key,
                )
            ]
        return []
    if order.accepted:
        ok = holds == wanted
    else:  # held: waiting for a person or for stock, it may hold part of its lines
        ok = all(qty <= wanted.get(sku, 0) for sku, qty in holds.items())
    if ok:
        return []
    return [
        BooksProblem(
            RESERVATIONS_NOT_LINES,
            f"{order.status.value}: holds {_said(holds)}, its lines ask {_said(wanted)}",
            order_key=order.key,
        )
    ]


def orphan_reservations(
    by_order: Mapping[str, Mapping[str, int]], known_orders: Iterable[str]
) -> list[BooksProblem]:
    """Reservations of an order Keel does not have: stock promised to nobody."""
    known = set(known_orders)
    return [
        BooksProblem(
            RESERVATION_WITHOUT_ORDER,
            f"holds {_said(held)} for an order Keel does not have",
            order_key=key,
        )
        for key, held in sorted(by_order.items())
        if key not in known and any(held.values())
    ]


def _said(quantities: Mapping[str, int]) -> str:
    return ", ".join(f"{sku} x{qty}" for sku, qty in sorted(quantities.items())) or "nothing"
