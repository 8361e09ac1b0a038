"""The order workflow's steps against moto, where issue #19 found them wrong: a held or edited
order shipped as it was labelled, a cancellation racing the hand-over ended two ways, and the
stock commit waited on the channel's confirmation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared.domain.orders import Order
from shared.domain.shipments import Shipment, ShipmentState
from shared.services.workflow import (
    Stores,
    WorkflowRefused,
    carrier_took,
    commit,
    compensate,
    confirm,
    replan,
    ship,
)
from shared.stores.intake import OrderIntakeStore
from shared.stores.inventory import InventoryStore
from shared.stores.orders import OrderStore
from shared.stores.shipments import ShipmentStore
from tests.integration.test_lifecycle import T0, deliver, first_version, stocked, version

__all__ = ["stocked"]  # the fixture, used by name

LATER = T0 + timedelta(hours=1)


class Carrier:
    name = "sendcloud"

    def __init__(self) -> None:
        self.announced: list[tuple[str, dict[str, int]]] = []
        self.cancelled: list[str] = []

    def announce(self, order: Order, reference: str | None = None) -> Shipment:
        n = len(self.announced) + 1
        units = {ln.sku or "": ln.quantity for ln in order.lines}
        self.announced.append((reference or order.key, units))
        return Shipment("sendcloud", f"s{n}", f"p{n}", f"T{n}", "PostNL")

    def cancel(self, shipment: Shipment) -> None:
        self.cancelled.append(shipment.parcel_id)


class Told:
    def __init__(self) -> None:
        self.orders: list[str] = []

    def __call__(self, order: Order, shipment: Shipment) -> None:
        self.orders.append(order.key)


class Sfn:
    """Step Functions' task-token calls; `waiting` False: the execution no longer waits."""

    class exceptions:  # boto3's shape
        class TaskTimedOut(Exception):
            pass

        class InvalidToken(Exception):
            pass

    def __init__(self, waiting: bool = True) -> None:
        self.waiting = waiting
        self.answers: list[str] = []

    def send_task_success(self, taskToken: str, output: str) -> None:
        if not self.waiting:
            raise self.exceptions.InvalidToken()
        self.answers.append("success")

    def send_task_failure(self, taskToken: str, error: str, cause: str) -> None:
        if not self.waiting:
            raise self.exceptions.InvalidToken()
        self.answers.append(error)


@pytest.fixture
def stores(deployed: Any, db: Any, orders: OrderStore, intake: OrderIntakeStore) -> Stores:
    return Stores(orders, intake, ShipmentStore(deployed.tables["orders"], db))


def shipped_goods(inventory: InventoryStore) -> dict[str, tuple[int, int]]:
    return {sku: (lv.on_hand, lv.reserved) for sku in ("MUG", "TEE") if (lv := inventory.get(sku))}


def labelled(stores: Stores, carrier: Carrier, mugs: int = 2, tees: int = 1) -> tuple[str, Any]:
    base = first_version(mugs=mugs, tees=tees)
    deliver(base, topic="orders/create")
    (order,) = stores.orders.orders()
    ship(stores, order.key, carrier, T0)
    return order.key, base


@pytest.mark.usefixtures("stocked")
@pytest.mark.parametrize("edit", ["held", "fewer"])
def test_an_order_edited_after_its_label_is_not_committed_as_it_is_now(
    stores: Stores, inventory: InventoryStore, edit: str
) -> None:
    """It became `shipped` with 500 on its line, 1 unit committed, and the channel was told."""
    carrier, told = Carrier(), Told()
    key, base = labelled(stores, carrier)
    if edit == "held":
        deliver(version(base, 5, MUG=500))  # more than there is: held, keeping what it had
    else:
        deliver(version(base, 5, MUG=1))
    stores.shipments.move(key, ShipmentState.HANDED_OVER)
    with pytest.raises(WorkflowRefused, match="not shipped as it is now"):
        commit(stores, key, LATER)
    with pytest.raises(WorkflowRefused, match="not shipped"):
        confirm(stores, key, told, LATER)
    assert told.orders == []
    order = stores.orders.get(key)
    assert order is not None and order.status.value in ("held", "reserved")
    assert shipped_goods(inventory)["MUG"][0] == 10  # nothing left the shelf in Keel


@pytest.mark.usefixtures("stocked")
def test_a_parcel_labelled_before_an_edit_is_cancelled_and_the_order_announced_as_it_is_now(
    stores: Stores, inventory: InventoryStore
) -> None:
    carrier = Carrier()
    key, base = labelled(stores, carrier, mugs=3)
    deliver(version(base, 5, MUG=1))
    assert replan(stores, key, carrier) is True
    assert replan(stores, key, carrier) is True  # a retry: nothing cancelled twice
    assert carrier.cancelled == ["p1"]
    ship(stores, key, carrier, LATER)
    # a cancelled reference cannot be booked again at Sendcloud: the next parcel has its own
    assert carrier.announced == [(key, {"MUG": 3, "TEE": 1}), (f"{key}#2", {"MUG": 1, "TEE": 1})]
    record = stores.shipments.get(key)
    assert record is not None and record.contents == {"MUG": 1, "TEE": 1}
    assert carrier_took(stores, "sendcloud", "p1", Sfn(), LATER) is None  # the cancelled one
    assert carrier_took(stores, "sendcloud", "p2", Sfn(), LATER) == key
    assert commit(stores, key, LATER) is True
    assert shipped_goods(inventory)["MUG"] == (9, 0)


@pytest.mark.usefixtures("stocked")
def test_an_edit_that_comes_after_the_carrier_took_the_parcel_is_not_re_planned(
    stores: Stores,
) -> None:
    carrier = Carrier()
    key, base = labelled(stores, carrier)
    stores.shipments.move(key, ShipmentState.HANDED_OVER)
    deliver(version(base, 5, MUG=1))
    assert replan(stores, key, carrier) is False  # on to the commit, which refuses with why
    assert carrier.cancelled == []


@pytest.mark.usefixtures("stocked")
def test_the_commit_does_not_wait_for_the_channel_and_the_channel_is_told_once(
    stores: Stores, inventory: InventoryStore
) -> None:
    """#19.6: six 503s during ConfirmAndCommit failed the workflow with the reservation open
    and on_hand not reduced. The commit now comes first; the confirmation is told once."""
    carrier, told = Carrier(), Told()
    key, _ = labelled(stores, carrier)
    stores.shipments.move(key, ShipmentState.HANDED_OVER)
    assert commit(stores, key, LATER) is True
    assert shipped_goods(inventory) == {"MUG": (8, 0), "TEE": (9, 0)}
    assert confirm(stores, key, told, LATER) is True
    assert confirm(stores, key, told, LATER) is False  # a retry or a redrive
    assert told.orders == [key]


@pytest.mark.usefixtures("stocked")
@pytest.mark.parametrize("race", ["compensation-first", "carrier-first"])
def test_a_cancellation_racing_the_hand_over_always_ends_shipped(
    stores: Stores, inventory: InventoryStore, race: str
) -> None:
    """#19.5: of 8 races, 4 ended cancelled and 4 shipped. Goods that left are shipped."""
    carrier = Carrier()
    key, base = labelled(stores, carrier)
    stores.shipments.wait_for_carrier(key, "token-1")
    deliver(version(base, 5, cancelled=True), topic="orders/cancelled")
    if race == "compensation-first":
        # the cancellation stopped the wait; the carrier scans the parcel before Compensate
        # cancels it: no execution waits on the token, so the carrier's event commits
        assert carrier_took(stores, "sendcloud", "p1", Sfn(waiting=False), LATER) == key
        assert compensate(stores, key, carrier, LATER).startswith("handed over")
    else:
        assert carrier_took(stores, "sendcloud", "p1", Sfn(), LATER) == key
        assert commit(stores, key, LATER) is True
    order = stores.orders.get(key)
    assert order is not None and order.status.value == "shipped"
    assert shipped_goods(inventory) == {"MUG": (8, 0), "TEE": (9, 0)}
    assert carrier.cancelled == []
