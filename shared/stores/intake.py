"""Writing a new order and its stock reservation as one transaction: both happen or neither."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.domain.inventory import Movement
from shared.domain.orders import Order
from shared.stores.catalog import CatalogStore
from shared.stores.inventory import InventoryStore
from shared.stores.orders import OrderStore


class Outcome(StrEnum):
    RESERVED = "reserved"
    HELD = "held"
    DUPLICATE = "duplicate"  # this version (or a newer one) was already stored: nothing changed
    CANCELLED = "cancelled"  # the channel cancelled it: its reservations were released
    REFUNDED = "refunded"  # refunded in full: its reservations were released
    KEPT = "kept"  # a later version of a shipped order, recorded; no stock moves


class _OrderConditionFailed(Exception):
    """The transaction's first item (the order) failed its condition."""


class VersionMoved(Exception):
    """The stored order changed since the change was planned: read it again and re-plan."""


class ReservationRefused(Exception):
    """At least one SKU lacked reservable stock at the instant of the write."""

    def __init__(self, skus: list[str]) -> None:
        super().__init__(", ".join(skus))
        self.skus = skus


RETRYABLE_CANCELLATIONS = frozenset({"TransactionConflict", "ThrottlingError"})


class OrderIntakeStore:
    """`attempts` bounds retries of transactions cancelled by a concurrent writer of the same
    SKU (a flash sale): boto3 does not retry those, and the queue would bring the message back
    only after its visibility timeout, burning one of its few receives each time."""

    def __init__(
        self,
        orders: OrderStore,
        inventory: InventoryStore,
        client: Any,
        attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._orders = orders
        self._inventory = inventory
        self._db = client
        self._attempts = attempts
        self._sleep = sleep

    def reserve(self, order: Order, quantities: dict[str, int], at: datetime) -> Outcome:
        items: list[dict[str, Any]] = [{"Put": self._orders.put_new_op(order, quantities)}]
        skus_in_order: list[str] = []
        for sku, qty in quantities.items():
            items.extend(self._inventory.reserve_ops(order.key, sku, qty, at))
            skus_in_order.extend([sku, sku])
        try:
            self._write(items, skus_in_order)
        except _OrderConditionFailed:
            return Outcome.DUPLICATE
        return Outcome.RESERVED

    def change(
        self,
        order: Order,
        planned_against: Order,
        reserved: dict[str, int],
        wanted: dict[str, int],
        at: datetime,
    ) -> None:
        """A newer version of a stored order and its reservations moved from `reserved` to
        `wanted`, in one transaction. Raises ReservationRefused when stock cannot cover what
        grows (nothing written), VersionMoved when another writer stored a version between."""
        moves = {
            sku: wanted.get(sku, 0) - reserved.get(sku, 0)
            for sku in sorted(set(reserved) | set(wanted))
            if wanted.get(sku, 0) != reserved.get(sku, 0)
        }
        items: list[dict[str, Any]] = [
            {"Put": self._orders.put_version_op(order, wanted, planned_against)}
        ]
        skus_in_order: list[str] = []
        for sku, move in moves.items():
            items.extend(
                self._inventory.change_reservation_ops(order.key, sku, move, wanted.get(sku, 0), at)
            )
            skus_in_order.extend([sku, sku])
        try:
            self._write(items, skus_in_order)
        except _OrderConditionFailed as exc:
            raise VersionMoved(order.key) from exc

    def _write(self, items: list[dict[str, Any]], skus_in_order: list[str]) -> None:
        """One transaction: the order item first, then two items per SKU. Raises
        _OrderConditionFailed (the order's own guard), ReservationRefused (short SKUs)."""
        for attempt in range(1, self._attempts + 1):
            try:
                self._db.transact_write_items(TransactItems=items)
            except self._db.exceptions.TransactionCanceledException as exc:
                reasons = exc.response.get("CancellationReasons", [])
                codes = [r.get("Code", "None") for r in reasons]
                if codes and codes[0] == "ConditionalCheckFailed":
                    raise _OrderConditionFailed from exc
                short = sorted(
                    {
                        skus_in_order[i - 1]
                        for i, code in enumerate(codes)
                        if i > 0 and code == "ConditionalCheckFailed"
                    }
                )
                if short and all(c in ("ConditionalCheckFailed", "None") for c in codes):
                    raise ReservationRefused(short) from exc
                if attempt < self._attempts and RETRYABLE_CANCELLATIONS & set(codes):
                    self._sleep(random.uniform(0, 0.05 * 2**attempt))  # full jitter
                    continue
                raise  # the queue brings it back later
            return

    def commit_shipment(
        self, order: Order, planned_against: Order, reserved: dict[str, int], at: datetime
    ) -> None:
        """The shipped order (status shipped, nothing reserved) and its stock taken off the
        shelf, in one transaction. VersionMoved: the order changed since it was read."""
        items: list[dict[str, Any]] = [
            {"Put": self._orders.put_version_op(order, {}, planned_against)}
        ]
        skus_in_order: list[str] = []
        for sku, qty in sorted(reserved.items()):
            items.extend(self._inventory.commit_ops(order.key, sku, qty, at))
            skus_in_order.extend([sku, sku, sku])
        try:
            self._write(items, skus_in_order)
        except _OrderConditionFailed as exc:
            raise VersionMoved(order.key) from exc

    def commit_unreserved_shipment(
        self, order: Order, planned_against: Order, shipped: dict[str, int], at: datetime
    ) -> None:
        """An ended order's parcel the carrier took anyway: the order's new version (its status
        kept) and the goods off the shelf, in one transaction. VersionMoved as above."""
        items: list[dict[str, Any]] = [
            {"Put": self._orders.put_version_op(order, {}, planned_against)}
        ]
        skus_in_order: list[str] = []
        for sku, qty in sorted(shipped.items()):
            items.extend(self._inventory.ship_unreserved_ops(order.key, sku, qty, at))
            skus_in_order.extend([sku, sku])
        try:
            self._write(items, skus_in_order)
        except _OrderConditionFailed as exc:
            raise VersionMoved(order.key) from exc

    def keep_version(
        self,
        order: Order,
        planned_against: Order,
        reserved: dict[str, int],
        waiting_for: tuple[str, ...] = (),
        returns: tuple[Movement, ...] = (),
    ) -> None:
        """A newer version whose reservations stay as they are; `returns` (goods back after
        shipment) go on hand in the same transaction, so a retry cannot store the version
        without them."""
        items: list[dict[str, Any]] = [
            {"Put": self._orders.put_version_op(order, reserved, planned_against)}
        ]
        items += [
            {"Put": self._inventory.wait_op(order.key, sku, order.created_at)}
            for sku in waiting_for
        ]
        for movement in returns:
            items.extend(self._inventory.receive_ops(movement))
        try:
            self._write(items, [""] * (len(items) - 1))
        except _OrderConditionFailed as exc:
            raise VersionMoved(order.key) from exc
        except ReservationRefused as exc:  # a return's ledger reference is already there
            refs = ", ".join(m.reference for m in returns)
            raise RuntimeError(f"{order.key}: returns already in the ledger ({refs})") from exc

    def hold(self, order: Order, waiting_for: tuple[str, ...] = ()) -> Outcome:
        """A new order stored without reservations; `waiting_for`: SKUs whose stock, when it
        arrives, should retry it (written in the same transaction)."""
        items: list[dict[str, Any]] = [{"Put": self._orders.put_new_op(order)}]
        items += [
            {"Put": self._inventory.wait_op(order.key, sku, order.created_at)}
            for sku in waiting_for
        ]
        try:
            self._write(items, [])
        except _OrderConditionFailed:
            return Outcome.DUPLICATE
        return Outcome.HELD


@dataclass(frozen=True)
class OrderStores:
    """The stores every function that takes orders in uses (ingest, polls, release-held),
    built once per container over one client."""

    catalog: CatalogStore
    orders: OrderStore
    inventory: InventoryStore
    intake: OrderIntakeStore
