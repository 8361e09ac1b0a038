"""Parcels in the orders table, beside their order (`ORDER#<key>` / `SHIPMENT`), with a lookup
from the carrier's parcel id (`PARCEL#<carrier>#<id>`), and the workflow's task token while
the execution waits for the carrier: the carrier's webhook finds its way back through them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.domain.shipments import Shipment, ShipmentState
from shared.stores.items import av, to_item
from shared.stores.orders import order_pk
from shared.stores.table import Table

SHIPMENT_SK = "SHIPMENT"
PARCEL_SK = "PARCEL"


def parcel_pk(carrier: str, parcel_id: str) -> str:
    return f"PARCEL#{carrier}#{parcel_id}"


@dataclass(frozen=True)
class ShipmentRecord:
    order_key: str
    shipment: Shipment | None  # None until the carrier announced a parcel
    task_token: str | None = None  # the waiting execution's, until the carrier takes it
    failed_step: str | None = None  # the last step that raised (where a redrive resumes)
    failure: str | None = None
    # What the parcel's label carries, SKU -> units (None: announced before it was kept): the
    # commit ships exactly this, or refuses with the reason.
    contents: dict[str, int] | None = None
    # Parcels cancelled to re-plan an order edited after its label (each one's reference is
    # taken for good at the carrier: the next parcel is announced under a new one).
    replans: int = 0
    confirmed_at: str | None = None  # when the channel was told (or already showed it)

    @property
    def reference(self) -> str:
        """The carrier's external reference of the order's current parcel."""
        return self.order_key if not self.replans else f"{self.order_key}#{self.replans + 1}"


@dataclass(frozen=True)
class Moved:
    task_token: str | None  # None: no execution waited yet (it answers itself when it does)


class ShipmentStore:
    def __init__(self, table: str, client: Any) -> None:
        self._t = Table(table, client)

    def get(self, order_key: str) -> ShipmentRecord | None:
        item = self._t.get(order_pk(order_key), SHIPMENT_SK)
        return _record(item) if item else None

    def order_of_parcel(self, carrier: str, parcel_id: str) -> str | None:
        item = self._t.get(parcel_pk(carrier, parcel_id), PARCEL_SK)
        return str(item["order"]) if item else None

    def announced(
        self, order_key: str, shipment: Shipment, at: datetime, contents: dict[str, int]
    ) -> None:
        """The parcel, what its label carries, and its lookup, once: a retried step that found
        the same parcel again writes the same values."""
        values: dict[str, Any] = {
            "contents": {sku: qty for sku, qty in sorted(contents.items())},
            "carrier": shipment.carrier,
            "shipment_id": shipment.shipment_id,
            "parcel_id": shipment.parcel_id,
            "tracking_number": shipment.tracking_number,
            "carrier_service": shipment.carrier_service,
            "tracking_url": shipment.tracking_url,
            "label_url": shipment.label_url,
            "state": shipment.state.value,
            "order": order_key,
            "at": at.isoformat(),
        }
        self._t.client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": self._t.name,
                        "Key": {"pk": av(order_pk(order_key)), "sk": av(SHIPMENT_SK)},
                        "UpdateExpression": "SET "
                        + ", ".join(f"#{k} = :{k}" for k in values)
                        + " REMOVE failed_step, failure",
                        "ConditionExpression": (
                            "attribute_not_exists(parcel_id) OR parcel_id = :parcel_id"
                        ),
                        "ExpressionAttributeNames": {f"#{k}": k for k in values},
                        "ExpressionAttributeValues": {f":{k}": av(v) for k, v in values.items()},
                    }
                },
                {
                    "Put": {
                        "TableName": self._t.name,
                        "Item": to_item(
                            {
                                "pk": parcel_pk(shipment.carrier, shipment.parcel_id),
                                "sk": PARCEL_SK,
                                "order": order_key,
                            }
                        ),
                    }
                },
            ]
        )

    def wait_for_carrier(self, order_key: str, task_token: str) -> ShipmentState | None:
        """Keep the execution's token while the parcel waits for the carrier. Returns the
        parcel's state: anything but `announced` means the token was not kept (the carrier
        took it already, or it was cancelled) and the caller answers for itself."""
        client = self._t.client
        try:
            client.update_item(
                TableName=self._t.name,
                Key={"pk": av(order_pk(order_key)), "sk": av(SHIPMENT_SK)},
                UpdateExpression="SET task_token = :t",
                ConditionExpression="#s = :announced",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={
                    ":t": av(task_token),
                    ":announced": av(ShipmentState.ANNOUNCED.value),
                },
            )
        except client.exceptions.ConditionalCheckFailedException:
            record = self.get(order_key)
            return record.shipment.state if record and record.shipment else None
        return ShipmentState.ANNOUNCED

    def move(
        self, order_key: str, to: ShipmentState, frm: ShipmentState = ShipmentState.ANNOUNCED
    ) -> Moved | None:
        """`frm` -> `to` once, handing back the task token it held; None when the parcel was
        not in `frm` (a duplicate event, a late one): nothing to do."""
        client = self._t.client
        try:
            old = client.update_item(
                TableName=self._t.name,
                Key={"pk": av(order_pk(order_key)), "sk": av(SHIPMENT_SK)},
                UpdateExpression="SET #s = :to REMOVE task_token",
                ConditionExpression="#s = :from",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":to": av(to.value), ":from": av(frm.value)},
                ReturnValues="ALL_OLD",
            )
        except client.exceptions.ConditionalCheckFailedException:
            return None
        token = old.get("Attributes", {}).get("task_token")
        return Moved(str(token["S"]) if token else None)

    def replanned(self, order_key: str, parcel_id: str) -> bool:
        """Forget the cancelled parcel `parcel_id` so the next Ship announces the edited order
        anew (under the next reference). False when it was forgotten already (a retry)."""
        client = self._t.client
        try:
            client.update_item(
                TableName=self._t.name,
                Key={"pk": av(order_pk(order_key)), "sk": av(SHIPMENT_SK)},
                UpdateExpression=(
                    "SET replans = if_not_exists(replans, :zero) + :one"
                    " REMOVE parcel_id, shipment_id, tracking_number, carrier_service,"
                    " tracking_url, label_url, #s, contents, task_token"
                ),
                ConditionExpression="parcel_id = :parcel",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={
                    ":parcel": av(parcel_id),
                    ":zero": av(0),
                    ":one": av(1),
                },
            )
        except client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def confirmed(self, order_key: str, at: datetime) -> None:
        self._t.client.update_item(
            TableName=self._t.name,
            Key={"pk": av(order_pk(order_key)), "sk": av(SHIPMENT_SK)},
            UpdateExpression="SET confirmed_at = if_not_exists(confirmed_at, :at)",
            ExpressionAttributeValues={":at": av(at.isoformat())},
        )

    def failed(self, order_key: str, step: str, reason: str) -> None:
        self._t.client.update_item(
            TableName=self._t.name,
            Key={"pk": av(order_pk(order_key)), "sk": av(SHIPMENT_SK)},
            UpdateExpression="SET failed_step = :s, failure = :r",
            ExpressionAttributeValues={":s": av(step), ":r": av(reason[:2000])},
        )

    def waiting_token(self, order_key: str) -> str | None:
        record = self.get(order_key)
        return record.task_token if record else None


def _record(item: dict[str, Any]) -> ShipmentRecord:
    shipment = None
    if item.get("parcel_id"):
        shipment = Shipment(
            carrier=str(item["carrier"]),
            shipment_id=str(item.get("shipment_id") or ""),
            parcel_id=str(item["parcel_id"]),
            tracking_number=str(item.get("tracking_number") or ""),
            carrier_service=str(item.get("carrier_service") or ""),
            tracking_url=item.get("tracking_url"),
            label_url=item.get("label_url"),
            state=ShipmentState(str(item["state"])),
        )
    return ShipmentRecord(
        order_key=str(item["pk"]).removeprefix("ORDER#"),
        shipment=shipment,
        task_token=item.get("task_token"),
        failed_step=item.get("failed_step"),
        failure=item.get("failure"),
        contents=(
            {str(k): int(v) for k, v in item["contents"].items()} if "contents" in item else None
        ),
        replans=int(item.get("replans", 0)),
        confirmed_at=item.get("confirmed_at"),
    )
