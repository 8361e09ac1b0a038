"""Stock levels, open reservations and the movement ledger, one item collection per SKU.

Every write keeps `reservable` (= on_hand - reserved - safety_stock) in step, because a
DynamoDB condition cannot compute it; reservations are conditional on it, never read-then-write.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from shared.domain.inventory import Movement, MovementCause, StockLevel
from shared.stores.items import av, to_item
from shared.stores.table import Table

LEVEL = "LEVEL"
RESERVATION = "RES#"
WAITING = "WAIT#"  # WAIT#<order key>: an order held until this SKU has stock again
MOVEMENT = "MOVE#"


def sku_pk(sku: str) -> str:
    return f"SKU#{sku}"


def level_from_item(item: dict[str, Any]) -> StockLevel:
    """Tolerates partial images (moto streams a key-only image for a transactional upsert)."""
    return StockLevel(
        sku=str(item.get("sku") or str(item["pk"]).removeprefix("SKU#")),
        on_hand=int(item.get("on_hand", 0)),
        reserved=int(item.get("reserved", 0)),
        safety_stock=int(item.get("safety_stock", 0)),
        version=int(item.get("version", 0)),
    )


def movement_sk(movement: Movement) -> str:
    """Keyed on what the movement is (cause, reference), never on when it was recorded: a
    replay of the same receipt lands on the same key and is refused by the put's condition."""
    return f"{MOVEMENT}{movement.cause.value}#{movement.reference}"


class LevelMoved(Exception):
    """The level changed between the read and the write: read again."""


class InventoryStore:
    def __init__(self, table: str, client: Any) -> None:
        self._t = Table(table, client)

    @property
    def table(self) -> str:
        return self._t.name

    def get(self, sku: str) -> StockLevel | None:
        item = self._t.get(sku_pk(sku), LEVEL)
        return level_from_item(item) if item else None

    def get_many(self, skus: Iterable[str]) -> dict[str, StockLevel | None]:
        """Each SKU's level in one read (None: no stock recorded)."""
        wanted = list(dict.fromkeys(skus))
        found = self._t.get_many((sku_pk(sku), LEVEL) for sku in wanted)
        items = {sku: found.get((sku_pk(sku), LEVEL)) for sku in wanted}
        return {sku: level_from_item(item) if item else None for sku, item in items.items()}

    def levels(self) -> list[StockLevel]:
        return sorted((level_from_item(i) for i in self._t.scan_sk(LEVEL)), key=lambda lv: lv.sku)

    def receive_ops(
        self, movement: Movement, safety_stock: int | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The two transaction items of goods in: the level's update and the ledger's put
        (refused when its reference is already recorded), for a caller's own transaction."""
        if movement.quantity <= 0 or movement.cause is MovementCause.SHIPMENT:
            raise ValueError("receive takes a positive receipt, return or adjustment")
        names = {"#v": "version"}
        values: dict[str, Any] = {":q": av(movement.quantity), ":one": av(1), ":zero": av(0)}
        sets = [
            "on_hand = if_not_exists(on_hand, :zero) + :q",
            "reserved = if_not_exists(reserved, :zero)",
            "#v = if_not_exists(#v, :zero) + :one",
            "sku = :sku",
        ]
        values[":sku"] = av(movement.sku)
        if safety_stock is None:
            sets.append("safety_stock = if_not_exists(safety_stock, :zero)")
            sets.append("reservable = if_not_exists(reservable, :zero) + :q")
        else:
            # Setting safety stock shifts reservable by the difference; done here only for new SKUs.
            sets.append("safety_stock = :ss")
            sets.append("reservable = :q - :ss")
            values[":ss"] = av(safety_stock)
        update: dict[str, Any] = {
            "TableName": self._t.name,
            "Key": {"pk": av(sku_pk(movement.sku)), "sk": av(LEVEL)},
            "UpdateExpression": "SET " + ", ".join(sets),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if safety_stock is not None:
            update["ConditionExpression"] = "attribute_not_exists(pk)"
        return {"Update": update}, {"Put": self._movement_put(movement)}

    def receive(self, movement: Movement, safety_stock: int | None = None) -> bool:
        """Goods in (or a positive adjustment): on_hand and the ledger move together.

        The ledger item is keyed on the movement's cause and reference, so a replayed receipt
        (same reference, any time) fails the put's condition and the whole transaction with
        it: True when the movement was applied, False when it was already recorded."""
        update, put = self.receive_ops(movement, safety_stock)
        client = self._t.client
        try:
            client.transact_write_items(TransactItems=[update, put])
        except client.exceptions.TransactionCanceledException as exc:
            reasons = exc.response.get("CancellationReasons", [])
            if len(reasons) > 1 and reasons[1].get("Code") == "ConditionalCheckFailed":
                return False  # the movement's reference is already in the ledger
            raise
        return True

    def remove(self, movement: Movement) -> bool:
        """A negative adjustment (count, damage): read the level, let the domain rule decide,
        then write on the version read (another writer in between: ConditionalCheckFailed ->
        VersionMoved, try again). False when the movement's reference was already recorded."""
        if movement.quantity >= 0 or movement.cause is not MovementCause.ADJUSTMENT:
            raise ValueError("remove takes a negative adjustment")
        level = self.get(movement.sku)
        if level is None:
            raise KeyError(f"no stock level for SKU {movement.sku}")
        after = level.remove(-movement.quantity)  # raises InsufficientStock
        update = {
            "TableName": self._t.name,
            "Key": {"pk": av(sku_pk(movement.sku)), "sk": av(LEVEL)},
            "UpdateExpression": "SET on_hand = :oh, reservable = :rv, #v = :nv",
            "ConditionExpression": "#v = :v",
            "ExpressionAttributeNames": {"#v": "version"},
            "ExpressionAttributeValues": {
                ":oh": av(after.on_hand),
                ":rv": av(after.reservable),
                ":nv": av(after.version),
                ":v": av(level.version),
            },
        }
        client = self._t.client
        try:
            client.transact_write_items(
                TransactItems=[{"Update": update}, {"Put": self._movement_put(movement)}]
            )
        except client.exceptions.TransactionCanceledException as exc:
            codes = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                return False
            if codes and codes[0] == "ConditionalCheckFailed":
                raise LevelMoved(movement.sku) from exc
            raise
        return True

    def reserve_ops(self, order_key: str, sku: str, qty: int, at: datetime) -> list[dict[str, Any]]:
        """Transaction items that reserve `qty` of `sku` for an order, only if reservable."""
        return [
            {
                "Update": {
                    "TableName": self._t.name,
                    "Key": {"pk": av(sku_pk(sku)), "sk": av(LEVEL)},
                    "UpdateExpression": (
                        "SET reserved = reserved + :q, reservable = reservable - :q, #v = #v + :one"
                    ),
                    "ConditionExpression": "reservable >= :q",
                    "ExpressionAttributeNames": {"#v": "version"},
                    "ExpressionAttributeValues": {":q": av(qty), ":one": av(1)},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
            {
                "Put": {
                    "TableName": self._t.name,
                    "Item": to_item(
                        {
                            "pk": sku_pk(sku),
                            "sk": RESERVATION + order_key,
                            "sku": sku,
                            "order": order_key,
                            "quantity": qty,
                            "status": "open",
                            "at": at.isoformat(),
                        }
                    ),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]

    def change_reservation_ops(
        self, order_key: str, sku: str, change: int, remaining: int, at: datetime
    ) -> list[dict[str, Any]]:
        """Transaction items that move an order's reservation of `sku` by `change` (more: only
        if reservable; less: only what is reserved), leaving `remaining` reserved for it. The
        caller guards the order's version, so the reservation item is written as a whole."""
        if change == 0:
            raise ValueError("no change to reserve or release")
        more = change > 0
        level: dict[str, Any] = {
            "TableName": self._t.name,
            "Key": {"pk": av(sku_pk(sku)), "sk": av(LEVEL)},
            "UpdateExpression": (
                "SET reserved = reserved + :q, reservable = reservable - :q, #v = #v + :one"
            ),
            "ConditionExpression": "reservable >= :q" if more else "reserved >= :r",
            "ExpressionAttributeNames": {"#v": "version"},
            "ExpressionAttributeValues": {":q": av(change), ":one": av(1)},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if not more:
            level["ExpressionAttributeValues"][":r"] = av(-change)
        reservation = to_item(
            {
                "pk": sku_pk(sku),
                "sk": RESERVATION + order_key,
                "sku": sku,
                "order": order_key,
                "quantity": remaining,
                "status": "open" if remaining > 0 else "released",
                "at": at.isoformat(),
            }
        )
        return [{"Update": level}, {"Put": {"TableName": self._t.name, "Item": reservation}}]

    def commit_ops(self, order_key: str, sku: str, qty: int, at: datetime) -> list[dict[str, Any]]:
        """Transaction items that take an order's reserved `qty` of `sku` off the shelf:
        on_hand and reserved both fall (reservable does not move), the reservation is closed,
        and the ledger gets the shipment (keyed on the order: once only)."""
        level = {
            "TableName": self._t.name,
            "Key": {"pk": av(sku_pk(sku)), "sk": av(LEVEL)},
            "UpdateExpression": (
                "SET on_hand = on_hand - :q, reserved = reserved - :q, #v = #v + :one"
            ),
            "ConditionExpression": "reserved >= :q AND on_hand >= :q",
            "ExpressionAttributeNames": {"#v": "version"},
            "ExpressionAttributeValues": {":q": av(qty), ":one": av(1)},
        }
        reservation = to_item(
            {
                "pk": sku_pk(sku),
                "sk": RESERVATION + order_key,
                "sku": sku,
                "order": order_key,
                "quantity": 0,
                "shipped": qty,
                "status": "committed",
                "at": at.isoformat(),
            }
        )
        movement = Movement(sku, MovementCause.SHIPMENT, -qty, order_key, "workflow", at)
        return [
            {"Update": level},
            {"Put": {"TableName": self._t.name, "Item": reservation}},
            {"Put": self._movement_put(movement)},
        ]

    def ship_unreserved_ops(
        self, order_key: str, sku: str, qty: int, at: datetime
    ) -> list[dict[str, Any]]:
        """Transaction items for goods that left with the carrier after their order ended (its
        cancellation already released the reservation): on_hand and reservable fall, never
        below zero on hand, and the ledger gets the shipment (keyed on the order: once only)."""
        level = {
            "TableName": self._t.name,
            "Key": {"pk": av(sku_pk(sku)), "sk": av(LEVEL)},
            "UpdateExpression": (
                "SET on_hand = on_hand - :q, reservable = reservable - :q, #v = #v + :one"
            ),
            "ConditionExpression": "on_hand >= :q",
            "ExpressionAttributeNames": {"#v": "version"},
            "ExpressionAttributeValues": {":q": av(qty), ":one": av(1)},
        }
        movement = Movement(sku, MovementCause.SHIPMENT, -qty, order_key, "workflow", at)
        return [{"Update": level}, {"Put": self._movement_put(movement)}]

    def wait_op(self, order_key: str, sku: str, since: datetime) -> dict[str, Any]:
        """A Put (for the hold's transaction): the order waits for stock of `sku`."""
        return {
            "TableName": self._t.name,
            "Item": to_item(
                {
                    "pk": sku_pk(sku),
                    "sk": WAITING + order_key,
                    "sku": sku,
                    "order": order_key,
                    "since": since.isoformat(),
                }
            ),
        }

    def waiting_orders(self, sku: str) -> list[str]:
        """Orders waiting for stock of `sku`, oldest hold first."""
        items = sorted(self._t.query_prefix(sku_pk(sku), WAITING), key=lambda i: str(i["since"]))
        return [str(i["order"]) for i in items]

    def stop_waiting(self, order_key: str, sku: str) -> None:
        self._t.client.delete_item(
            TableName=self._t.name, Key={"pk": av(sku_pk(sku)), "sk": av(WAITING + order_key)}
        )

    def open_reservations(self, sku: str) -> dict[str, int]:
        """order key -> quantity."""
        items = self._t.query_prefix(sku_pk(sku), RESERVATION)
        return {str(i["order"]): int(i["quantity"]) for i in items if i.get("status") == "open"}

    def ledger(self, sku: str) -> list[Movement]:
        """Movements in time order (the key orders them by cause and reference)."""
        movements = [
            Movement(
                sku=str(i["sku"]),
                cause=MovementCause(str(i["cause"])),
                quantity=int(i["quantity"]),
                reference=str(i["reference"]),
                actor=str(i["actor"]),
                at=datetime.fromisoformat(str(i["at"])),
                note=str(i.get("note", "")),
            )
            for i in self._t.query_prefix(sku_pk(sku), MOVEMENT)
        ]
        return sorted(movements, key=lambda m: (m.at, m.cause.value, m.reference))

    def _movement_put(self, movement: Movement) -> dict[str, Any]:
        return {
            "TableName": self._t.name,
            "Item": to_item(
                {
                    "pk": sku_pk(movement.sku),
                    "sk": movement_sk(movement),
                    "sku": movement.sku,
                    "cause": movement.cause.value,
                    "quantity": movement.quantity,
                    "reference": movement.reference,
                    "actor": movement.actor,
                    "at": movement.at.isoformat(),
                    "note": movement.note or None,
                }
            ),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
