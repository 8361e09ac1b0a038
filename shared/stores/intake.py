"""Writing a new order and its stock reservation as one transaction: both happen or neither."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.domain.orders import Order
from shared.stores.inventory import InventoryStore
from shared.stores.orders import OrderStore


class Outcome(StrEnum):
    RESERVED = "reserved"
    HELD = "held"
    DUPLICATE = "duplicate"  # the business key was already stored: nothing changed


class ReservationRefused(Exception):
    """At least one SKU lacked reservable stock at the instant of the write."""

    def __init__(self, skus: list[str]) -> None:
        super().__init__(", ".join(skus))
        self.skus = skus


class OrderIntakeStore:
    def __init__(self, orders: OrderStore, inventory: InventoryStore, client: Any) -> None:
        self._orders = orders
        self._inventory = inventory
        self._db = client

    def reserve(self, order: Order, quantities: dict[str, int], at: datetime) -> Outcome:
        items: list[dict[str, Any]] = [{"Put": self._orders.put_new_op(order)}]
        skus_in_order: list[str] = []
        for sku, qty in quantities.items():
            items.extend(self._inventory.reserve_ops(order.key, sku, qty, at))
            skus_in_order.extend([sku, sku])
        try:
            self._db.transact_write_items(TransactItems=items)
        except self._db.exceptions.TransactionCanceledException as exc:
            reasons = exc.response.get("CancellationReasons", [])
            codes = [r.get("Code", "None") for r in reasons]
            if codes and codes[0] == "ConditionalCheckFailed":
                return Outcome.DUPLICATE
            short = sorted(
                {
                    skus_in_order[i - 1]
                    for i, code in enumerate(codes)
                    if i > 0 and code == "ConditionalCheckFailed"
                }
            )
            if short and all(c in ("ConditionalCheckFailed", "None") for c in codes):
                raise ReservationRefused(short) from exc
            raise  # conflicts and throttling: retryable, the queue brings it back
        return Outcome.RESERVED

    def hold(self, order: Order) -> Outcome:
        try:
            self._db.put_item(**self._orders.put_new_op(order))
        except self._db.exceptions.ConditionalCheckFailedException:
            return Outcome.DUPLICATE
        return Outcome.HELD
