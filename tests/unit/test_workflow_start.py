"""When the orders stream starts or stops an order's workflow: accepted and released for
shipment by its channel starts it, once; an accepted order that ends stops it."""

from __future__ import annotations

from typing import Any

from shared.services.workflow_start import Edited, Start, Stop, what_follows
from shared.stores.orders import ORDER_SK, order_pk

KEY = "amazon#a1#171-1"


def image(status: str, **more: Any) -> dict[str, Any]:
    return {"pk": order_pk(KEY), "sk": ORDER_SK, "status": status, **more}


def test_an_accepted_order_starts_once() -> None:
    assert what_follows(None, image("reserved")) == Start(KEY)
    assert what_follows(image("held"), image("reserved")) == Start(KEY)
    assert what_follows(image("reserved"), image("reserved")) is None
    assert what_follows(image("reserved"), image("partially_refunded")) is None
    assert what_follows(image("shipped"), image("reserved")) is None


def test_an_order_its_channel_has_not_released_waits_for_the_version_that_does() -> None:
    pending = image("reserved", ready_to_ship=False)
    assert what_follows(None, pending) is None
    assert what_follows(pending, pending) is None
    assert what_follows(pending, image("reserved", ready_to_ship=True)) == Start(KEY)
    # items written before readiness was kept count as ready, as they always did
    assert what_follows(image("reserved"), image("reserved", ready_to_ship=True)) is None


def test_an_accepted_order_that_ends_stops_its_wait_and_other_items_mean_nothing() -> None:
    assert what_follows(image("reserved"), image("cancelled")) == Stop(KEY, "cancelled")
    assert what_follows(image("held"), image("cancelled")) is None
    assert what_follows(None, {**image("reserved"), "sk": "SHIPMENT"}) is None


def test_an_accepted_order_edited_or_held_stops_its_wait_to_re_plan_its_parcel() -> None:
    """#19.2: an edit after the parcel was labelled (1 -> 500 units: held; 3 -> 1: reserved
    less) must not ship the old label; the wait is stopped and the parcel re-planned."""
    one, three = image("reserved", reserved={"MUG": 1}), image("reserved", reserved={"MUG": 3})
    assert what_follows(three, one) == Edited(KEY, "reserved {'MUG': 3} -> {'MUG': 1}")
    held = image("held", reserved={"MUG": 1})
    assert what_follows(one, held) == Edited(KEY, "held after it was accepted")
    # the same reservation (a note, a refund without restock) re-plans nothing
    assert what_follows(one, image("partially_refunded", reserved={"MUG": 1})) is None
    # an order never accepted has no parcel: its first acceptance starts it
    assert what_follows(held, one) == Start(KEY)
