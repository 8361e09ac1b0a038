"""The order lifecycle through ingest, against moto: every version of an order, in any order of
arrival, ends in one order with the right state and exactly its open lines reserved."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from functions.ingest.handler import handler as ingest
from local_stack.sandboxes.shopify import SandboxLine, ShopifySandbox
from shared.domain.inventory import Movement, MovementCause
from shared.domain.listings import Listing
from shared.domain.shipments import Shipment, ShipmentState
from shared.services.workflow import OrderCancelled, Stores, commit, validate
from shared.stores.catalog import CatalogStore
from shared.stores.intake import OrderIntakeStore
from shared.stores.inventory import InventoryStore
from shared.stores.orders import OrderStore
from shared.stores.shipments import ShipmentStore
from tests.integration.conftest import SHOPIFY_SECRET, context, sqs_event

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
PARCEL = Shipment("sendcloud", "s1", "p1", "T1", "PostNL")
shopify = ShopifySandbox(SHOPIFY_SECRET)
_deliveries = itertools.count(1)


@pytest.fixture
def stocked(catalog: CatalogStore, inventory: InventoryStore) -> None:
    for sku, variant in (("MUG", 44), ("TEE", 45)):
        catalog.put_product(sku, sku)
        catalog.put_listing(
            Listing(sku, "shopify", {"variant_id": str(variant), "sku": sku}),
            lookup_refs=("variant_id", "sku"),
        )
        inventory.receive(Movement(sku, MovementCause.RECEIPT, 10, "po", "t", T0), safety_stock=0)


def version(
    base: dict[str, Any], minutes: int, cancelled: bool = False, **quantities: int
) -> dict[str, Any]:
    """The same order as the channel shows it `minutes` later."""
    payload: dict[str, Any] = json.loads(json.dumps(base))
    at = (T0 + timedelta(minutes=minutes)).isoformat()
    payload["updated_at"] = at
    payload["cancelled_at"] = at if cancelled else None
    for line in payload["line_items"]:
        if line["sku"] in quantities:
            line["current_quantity"] = quantities[line["sku"]]
    if "MUG" in quantities or "TEE" in quantities:  # Shopify restates the current total
        total = sum(
            Decimal(ln["price"]) * ln.get("current_quantity", ln["quantity"])
            for ln in payload["line_items"]
        )
        payload["current_total_price_set"]["shop_money"]["amount"] = f"{total:.2f}"
    return payload


def first_version(mugs: int = 2, tees: int = 1) -> dict[str, Any]:
    lines = [
        SandboxLine(44, "MUG", "Mug", mugs, Decimal("12.50")),
        SandboxLine(45, "TEE", "Tee", tees, Decimal("20.00")),
    ]
    payload = shopify.order_payload([ln for ln in lines if ln.quantity > 0])
    payload["created_at"] = payload["updated_at"] = T0.isoformat()
    return payload


def deliver(*payloads: dict[str, Any], topic: str = "orders/updated") -> None:
    envelopes = [
        json.dumps(
            {
                "channel": "shopify",
                "delivery_id": f"d{next(_deliveries)}",
                "topic": topic,
                "received_at": T0.isoformat(),
                "headers": {"x-shopify-topic": topic},
                "body": json.dumps(p),
            }
        )
        for p in payloads
    ]
    for envelope in envelopes:  # one batch each: the order of arrival is the test's
        assert ingest(sqs_event(envelope), context("ingest")) == {"batchItemFailures": []}


def reserved(inventory: InventoryStore, sku: str) -> int:
    level = inventory.get(sku)
    assert level is not None
    assert level.reserved == sum(inventory.open_reservations(sku).values())  # invariant 1
    return level.reserved


@pytest.mark.usefixtures("stocked")
def test_a_cancellation_releases_the_reservation(
    inventory: InventoryStore, orders: OrderStore
) -> None:
    base = first_version()
    deliver(base, topic="orders/create")
    assert (reserved(inventory, "MUG"), reserved(inventory, "TEE")) == (2, 1)
    deliver(version(base, 5, cancelled=True), topic="orders/cancelled")
    (order,) = orders.orders()
    assert order.status.value == "cancelled"
    assert (reserved(inventory, "MUG"), reserved(inventory, "TEE")) == (0, 0)
    assert [h[1] for h in order.history] == ["reserved", "cancelled"]


@pytest.mark.usefixtures("stocked")
@pytest.mark.parametrize(
    "arrival",
    list(itertools.permutations(["created", "edited", "cancelled"])),
    ids="-".join,
)
def test_any_order_of_arrival_ends_cancelled_with_nothing_reserved(
    inventory: InventoryStore, orders: OrderStore, arrival: tuple[str, ...]
) -> None:
    base = first_version()
    versions = {
        "created": base,
        "edited": version(base, 3, MUG=4),
        "cancelled": version(base, 7, cancelled=True),
    }
    deliver(*(versions[name] for name in arrival))
    deliver(*versions.values())  # and every one again, as retries would
    (order,) = orders.orders()
    assert order.status.value == "cancelled"
    assert order.channel_updated_at == T0 + timedelta(minutes=7)
    assert (reserved(inventory, "MUG"), reserved(inventory, "TEE")) == (0, 0)


@pytest.mark.usefixtures("stocked")
def test_edits_move_the_reservation_and_stale_versions_are_ignored(
    inventory: InventoryStore, orders: OrderStore
) -> None:
    base = first_version(mugs=2, tees=1)
    deliver(base, topic="orders/create")
    deliver(version(base, 2, MUG=5, TEE=0))  # more mugs, the tee removed
    assert (reserved(inventory, "MUG"), reserved(inventory, "TEE")) == (5, 0)
    deliver(version(base, 1, MUG=1))  # an older edit, delivered late
    assert (reserved(inventory, "MUG"), reserved(inventory, "TEE")) == (5, 0)
    (order,) = orders.orders()
    assert order.status.value == "reserved"
    assert [(ln.sku, ln.quantity) for ln in order.lines] == [("MUG", 5)]


@pytest.mark.usefixtures("stocked")
def test_a_growth_stock_cannot_cover_holds_the_order_and_keeps_what_it_had(
    inventory: InventoryStore, orders: OrderStore
) -> None:
    base = first_version(mugs=2, tees=1)
    deliver(base, topic="orders/create")
    deliver(version(base, 2, MUG=11))  # 10 on hand
    (order,) = orders.orders()
    assert order.status.value == "held" and "insufficient stock: MUG" in (order.hold_reason or "")
    assert (reserved(inventory, "MUG"), reserved(inventory, "TEE")) == (2, 1)  # never oversold
    deliver(version(base, 4, MUG=3))  # the buyer settles for 3: reserved again
    (order,) = orders.orders()
    assert order.status.value == "reserved"
    assert (reserved(inventory, "MUG"), reserved(inventory, "TEE")) == (3, 1)


@pytest.mark.usefixtures("stocked")
def test_an_order_created_already_cancelled_reserves_nothing(
    inventory: InventoryStore, orders: OrderStore
) -> None:
    deliver(version(first_version(), 0, cancelled=True), topic="orders/create")
    (order,) = orders.orders()
    assert order.status.value == "cancelled"
    assert (reserved(inventory, "MUG"), reserved(inventory, "TEE")) == (0, 0)


@pytest.mark.usefixtures("stocked")
def test_a_held_order_the_channel_cancels_simply_ends(
    inventory: InventoryStore, orders: OrderStore
) -> None:
    base = first_version(mugs=20)  # more than on hand: held
    deliver(base, topic="orders/create")
    assert orders.orders()[0].status.value == "held"
    deliver(version(base, 1, cancelled=True))
    (order,) = orders.orders()
    assert order.status.value == "cancelled"
    assert (reserved(inventory, "MUG"), reserved(inventory, "TEE")) == (0, 0)


@pytest.mark.usefixtures("stocked")
def test_a_held_order_is_reserved_when_its_stock_arrives_oldest_first(
    deployed: Any, inventory: InventoryStore, orders: OrderStore, sqs: Any
) -> None:
    from functions.relay.handler import handler as relay
    from functions.release_held.handler import handler as release_held
    from shared.services import stock
    from tests.integration.conftest import drain

    older, newer = first_version(mugs=8, tees=0), first_version(mugs=8, tees=0)
    newer["created_at"] = (T0 + timedelta(minutes=1)).isoformat()
    deliver(first_version(mugs=9, tees=0), topic="orders/create")  # takes 9 of 10
    deliver(older, topic="orders/create")
    deliver(newer, topic="orders/create")
    held = [o for o in orders.orders() if o.status.value == "held"]
    assert len(held) == 2 and reserved(inventory, "MUG") == 9
    assert inventory.waiting_orders("MUG") == [
        f"shopify#keel-demo.myshopify.com#{older['id']}",
        f"shopify#keel-demo.myshopify.com#{newer['id']}",
    ]

    before = inventory.get("MUG")
    stock.receive(inventory, "MUG", 8, "PO-1", "t", T0)  # room for one of the two
    after = inventory.get("MUG")
    relay({"Records": [level_record(before, after)]}, context("relay"))
    triggers = drain(sqs, deployed.queue_urls["held-orders"])
    assert [json.loads(m["Body"])["order_key"] for m in triggers] == [
        f"shopify#keel-demo.myshopify.com#{older['id']}",
        f"shopify#keel-demo.myshopify.com#{newer['id']}",
    ]
    assert release_held(sqs_event(*(m["Body"] for m in triggers)), context("release-held")) == {
        "batchItemFailures": []
    }
    by_id = {o.external_id: o for o in orders.orders()}
    assert by_id[str(older["id"])].status.value == "reserved"  # the oldest hold first
    assert by_id[str(newer["id"])].status.value == "held"  # still short: keeps waiting
    assert reserved(inventory, "MUG") == 17
    assert inventory.waiting_orders("MUG") == [f"shopify#keel-demo.myshopify.com#{newer['id']}"]


def level_record(before: Any, after: Any) -> dict[str, Any]:
    from shared.stores.items import to_item

    def image(level: Any) -> dict[str, Any]:
        return to_item(
            {
                "pk": f"SKU#{level.sku}",
                "sk": "LEVEL",
                "sku": level.sku,
                "on_hand": level.on_hand,
                "reserved": level.reserved,
                "safety_stock": level.safety_stock,
                "reservable": level.reservable,
                "version": level.version,
            }
        )

    return {
        "eventID": "1",
        "eventName": "MODIFY",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": {
            "Keys": to_item({"pk": f"SKU#{after.sku}", "sk": "LEVEL"}),
            "OldImage": image(before),
            "NewImage": image(after),
            "SequenceNumber": "1",
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }


@pytest.mark.usefixtures("stocked")
def test_a_later_version_does_not_lift_an_implausible_hold(
    inventory: InventoryStore, orders: OrderStore
) -> None:
    base = first_version(mugs=2, tees=1)
    base["current_total_price_set"]["shop_money"]["amount"] = "0.01"  # 2 x 12.50 + 20.00 really
    deliver(base, topic="orders/create")
    deliver(version(base, 1), topic="orders/paid")  # the same forged total, a minute later
    (order,) = orders.orders()
    assert order.status.value == "held" and "implausible" in (order.hold_reason or "")
    assert (reserved(inventory, "MUG"), reserved(inventory, "TEE")) == (0, 0)


def refunded(
    base: dict[str, Any], minutes: int, full: bool = False, **taken_back: int
) -> dict[str, Any]:
    """The order after a refund of `taken_back` units per SKU, restocked (never shipped)."""
    now = {ln["sku"]: ln["quantity"] - taken_back.get(ln["sku"], 0) for ln in base["line_items"]}
    payload = version(base, minutes, **now)
    payload["financial_status"] = "refunded" if full else "partially_refunded"
    payload["refunds"] = [
        {
            "id": 900 + minutes,
            "created_at": payload["updated_at"],
            "note": "customer changed their mind",
            "refund_line_items": [
                {
                    "line_item_id": ln["id"],
                    "quantity": taken_back[ln["sku"]],
                    "restock_type": "cancel",
                }
                for ln in base["line_items"]
                if ln["sku"] in taken_back
            ],
            "transactions": [
                {"kind": "refund", "status": "success", "amount": "12.50", "currency": "EUR"}
            ],
        }
    ]
    return payload


@pytest.mark.usefixtures("stocked")
def test_a_refund_before_shipment_releases_what_it_takes_back_and_a_full_one_ends_it(
    inventory: InventoryStore, orders: OrderStore
) -> None:
    base = first_version(mugs=2, tees=1)
    deliver(base, topic="orders/create")
    deliver(refunded(base, 2, MUG=1))
    (order,) = orders.orders()
    assert order.status.value == "partially_refunded"
    assert order.refunds[0].amount.amount == Decimal("12.50")
    assert (reserved(inventory, "MUG"), reserved(inventory, "TEE")) == (1, 1)
    deliver(refunded(base, 2, MUG=1))  # a retry changes nothing
    assert [h[1] for h in orders.orders()[0].history] == ["reserved", "partially_refunded"]
    deliver(refunded(base, 5, full=True, MUG=2, TEE=1))
    (order,) = orders.orders()
    assert order.status.value == "refunded"
    assert (reserved(inventory, "MUG"), reserved(inventory, "TEE")) == (0, 0)
    assert inventory.get("MUG").on_hand == 10  # type: ignore[union-attr]  # nothing shipped


@pytest.mark.usefixtures("stocked")
@pytest.mark.parametrize(
    "arrival", list(itertools.permutations(["created", "partial", "full"])), ids="-".join
)
def test_any_order_of_arrival_ends_refunded_with_nothing_reserved(
    inventory: InventoryStore, orders: OrderStore, arrival: tuple[str, ...]
) -> None:
    base = first_version()
    versions = {
        "created": base,
        "partial": refunded(base, 2, MUG=1),
        "full": refunded(base, 5, full=True, MUG=2, TEE=1),
    }
    deliver(*(versions[name] for name in arrival))
    (order,) = orders.orders()
    assert order.status.value == "refunded"
    assert (reserved(inventory, "MUG"), reserved(inventory, "TEE")) == (0, 0)


def ref_inserted(channel: str, kind: str, value: str, sku: str) -> dict[str, Any]:
    from shared.stores.items import to_item

    image = {"pk": f"REF#{channel}#{kind}#{value}", "sk": "REF", "sku": sku}
    return {
        "eventID": "2",
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": {
            "Keys": to_item({"pk": image["pk"], "sk": "REF"}),
            "NewImage": to_item(image),
            "SequenceNumber": "2",
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }


@pytest.mark.usefixtures("stocked")
@pytest.mark.parametrize("lamps_on_hand", [5, 0])
def test_an_unmatched_order_goes_on_when_its_listing_appears(
    deployed: Any,
    catalog: CatalogStore,
    inventory: InventoryStore,
    orders: OrderStore,
    sqs: Any,
    lamps_on_hand: int,
) -> None:
    from functions.relay.handler import handler as relay
    from functions.release_held.handler import handler as release_held
    from tests.integration.conftest import drain

    lines = [
        SandboxLine(44, "MUG", "Mug", 1, Decimal("12.50")),
        SandboxLine(46, "LAMP", "Lamp", 2, Decimal("30.00")),  # no listing yet
    ]
    payload = shopify.order_payload(lines)
    payload["created_at"] = payload["updated_at"] = T0.isoformat()
    deliver(payload, topic="orders/create")
    (order,) = orders.orders()
    assert order.status.value == "held" and "unmatched line" in (order.hold_reason or "")

    catalog.put_product("LAMP", "Lamp")
    catalog.put_listing(
        Listing("LAMP", "shopify", {"variant_id": "46", "sku": "LAMP"}),
        lookup_refs=("variant_id", "sku"),
    )
    if lamps_on_hand:
        inventory.receive(
            Movement("LAMP", MovementCause.RECEIPT, lamps_on_hand, "po-l", "t", T0), safety_stock=0
        )
    relay({"Records": [ref_inserted("shopify", "variant_id", "46", "LAMP")]}, context("relay"))
    triggers = drain(sqs, deployed.queue_urls["held-orders"])
    assert [json.loads(m["Body"])["order_key"] for m in triggers] == [order.key]
    release_held(sqs_event(*(m["Body"] for m in triggers)), context("release-held"))
    (order,) = orders.orders()
    if lamps_on_hand:
        assert order.status.value == "reserved"
        assert (reserved(inventory, "MUG"), reserved(inventory, "LAMP")) == (1, 2)
        assert catalog.orders_waiting_for_ref("REF#shopify#variant_id#46") == []
    else:  # matched now, but short: it waits for lamps like any order held for stock
        assert order.status.value == "held" and order.hold_reason == "insufficient stock: LAMP"
        assert inventory.waiting_orders("LAMP") == [order.key]
    assert "listing for LAMP appeared" in order.history[-1][2]


def shipped(orders: OrderStore, intake: OrderIntakeStore) -> None:
    """What the workflow's commit step writes: the order shipped, its stock off the shelf."""
    (order,) = orders.orders()
    found = orders.get_with_reservations(order.key)
    assert found is not None
    stored, reserved = found
    at = T0 + timedelta(minutes=30)
    intake.commit_shipment(stored.shipped(at, "handed to PostNL"), stored, reserved, at)


def returned(base: dict[str, Any], minutes: int, restock_type: str, **taken_back: int) -> Any:
    """A refund after shipment: Shopify keeps the lines (the goods left) and lists the refund."""
    payload = refunded(base, minutes, False, **taken_back)
    for ln in payload["line_items"]:
        ln.pop("current_quantity", None)
    payload["current_total_price_set"] = base["current_total_price_set"]
    for refund_line in payload["refunds"][0]["refund_line_items"]:
        refund_line["restock_type"] = restock_type
    return payload


@pytest.mark.usefixtures("stocked")
def test_a_restocked_return_after_shipment_goes_back_on_hand_once_with_a_ledger_entry(
    inventory: InventoryStore, orders: OrderStore, intake: OrderIntakeStore
) -> None:
    base = first_version(mugs=2, tees=1)
    deliver(base, topic="orders/create")
    shipped(orders, intake)
    assert inventory.get("MUG").on_hand == 8  # type: ignore[union-attr]
    deliver(returned(base, 40, "return", MUG=1))
    deliver(returned(base, 40, "return", MUG=1))  # the channel's retry: once only
    (order,) = orders.orders()
    assert order.status.value == "shipped" and order.refunds[0].refund_id == "940"
    level = inventory.get("MUG")
    assert level is not None and (level.on_hand, level.reserved) == (9, 0)
    assert level.available == 9  # sellable again: the relay publishes it to every channel
    back = [m for m in inventory.ledger("MUG") if m.cause is MovementCause.RETURN]
    (mug_line,) = [ln for ln in order.lines if ln.sku == "MUG"]
    assert [(m.quantity, m.reference) for m in back] == [(1, f"{order.key}#940#{mug_line.line_id}")]
    assert inventory.get("TEE").on_hand == 9  # type: ignore[union-attr]  # not returned


@pytest.mark.usefixtures("stocked")
def test_a_refund_after_shipment_without_restock_leaves_stock_alone(
    inventory: InventoryStore, orders: OrderStore, intake: OrderIntakeStore
) -> None:
    base = first_version(mugs=2, tees=1)
    deliver(base, topic="orders/create")
    shipped(orders, intake)
    deliver(returned(base, 40, "no_restock", MUG=2, TEE=1))
    (order,) = orders.orders()
    assert order.status.value == "shipped" and "refund 940" in order.history[-1][2]
    assert inventory.get("MUG").on_hand == 8  # type: ignore[union-attr]
    assert not [m for m in inventory.ledger("MUG") if m.cause is MovementCause.RETURN]


class RacedIntake:
    """The channel's own update for the shipment lands between the commit's read and write."""

    def __init__(self, intake: OrderIntakeStore, race: Any) -> None:
        self._intake, self._race, self.attempts = intake, race, 0

    def commit_shipment(self, *args: Any, **kwargs: Any) -> Any:
        self.attempts += 1
        if self.attempts == 1:
            self._race()
        return self._intake.commit_shipment(*args, **kwargs)


@pytest.mark.usefixtures("stocked")
def test_the_commit_step_plans_again_against_a_version_written_meanwhile(
    deployed: Any, db: Any, inventory: InventoryStore, orders: OrderStore, intake: OrderIntakeStore
) -> None:
    base = first_version(mugs=2, tees=1)
    deliver(base, topic="orders/create")
    (order,) = orders.orders()
    shipments = ShipmentStore(deployed.tables["orders"], db)
    shipments.announced(order.key, PARCEL, T0, {"MUG": 2, "TEE": 1})
    shipments.move(order.key, ShipmentState.HANDED_OVER)
    raced = RacedIntake(intake, lambda: deliver(version(base, 20)))
    stores = Stores(orders, raced, shipments)  # type: ignore[arg-type]
    assert commit(stores, order.key, T0 + timedelta(minutes=30)) is True
    assert raced.attempts == 2  # the first write met the new version: read again, not failed
    (order,) = orders.orders()
    assert order.status.value == "shipped"
    level = inventory.get("MUG")
    assert level is not None and (level.on_hand, level.reserved) == (8, 0)
    assert commit(stores, order.key, T0 + timedelta(minutes=31)) is False  # done: a no-op


@pytest.mark.usefixtures("stocked")
def test_a_cancellation_after_hand_over_ships_the_order_and_the_goods_leave_the_shelf_once(
    deployed: Any, db: Any, inventory: InventoryStore, orders: OrderStore, intake: OrderIntakeStore
) -> None:
    """The carrier has the parcel, then the buyer cancels: the cancellation released the
    reservation, but the goods are gone all the same. One rule on every channel (#19.5): goods
    that left the shelf are shipped, the cancellation recorded against the shipped order; they
    leave the shelf once."""
    base = first_version(mugs=2, tees=1)
    deliver(base, topic="orders/create")
    (order,) = orders.orders()
    shipments = ShipmentStore(deployed.tables["orders"], db)
    shipments.announced(order.key, PARCEL, T0, {"MUG": 2, "TEE": 1})
    shipments.move(order.key, ShipmentState.HANDED_OVER)
    deliver(version(base, 20, cancelled=True), topic="orders/cancelled")
    stores = Stores(orders, intake, shipments)
    assert commit(stores, order.key, T0 + timedelta(minutes=30)) is True
    assert commit(stores, order.key, T0 + timedelta(minutes=31)) is False  # a redrive
    (order,) = orders.orders()
    assert order.status.value == "shipped" and order.cancelled_at is not None
    assert "cancelled by the channel" in order.history[-1][2]
    assert (reserved(inventory, "MUG"), reserved(inventory, "TEE")) == (0, 0)
    mug, tee = inventory.get("MUG"), inventory.get("TEE")
    assert mug is not None and tee is not None
    assert (mug.on_hand, mug.available, tee.on_hand) == (8, 8, 9)
    cuts = [m for m in inventory.ledger("MUG") if m.cause is MovementCause.SHIPMENT]
    assert [(m.quantity, m.reference) for m in cuts] == [(-2, order.key)]


@pytest.mark.usefixtures("stocked")
def test_a_redrive_from_the_top_of_an_order_cancelled_after_hand_over_reaches_the_commit(
    deployed: Any, db: Any, inventory: InventoryStore, orders: OrderStore, intake: OrderIntakeStore
) -> None:
    """A local redrive starts at Validate: an ended order whose parcel the carrier already has
    must pass through to the commit (compensation would undo nothing), not stop there."""
    base = first_version(mugs=2, tees=1)
    deliver(base, topic="orders/create")
    (order,) = orders.orders()
    shipments = ShipmentStore(deployed.tables["orders"], db)
    shipments.announced(order.key, PARCEL, T0, {"MUG": 2, "TEE": 1})
    shipments.move(order.key, ShipmentState.HANDED_OVER)
    deliver(version(base, 20, cancelled=True), topic="orders/cancelled")
    stores = Stores(orders, intake, shipments)
    validate(stores, order.key, can_confirm=True)  # passes through, no OrderCancelled
    assert commit(stores, order.key, T0 + timedelta(minutes=30)) is True
    assert inventory.get("MUG").on_hand == 8  # type: ignore[union-attr]
    assert orders.get(order.key).status.value == "shipped"  # type: ignore[union-attr]


@pytest.mark.usefixtures("stocked")
def test_an_order_cancelled_before_hand_over_is_still_refused_at_validate(
    deployed: Any, db: Any, orders: OrderStore, intake: OrderIntakeStore
) -> None:
    base = first_version(mugs=2, tees=1)
    deliver(base, topic="orders/create")
    (order,) = orders.orders()
    shipments = ShipmentStore(deployed.tables["orders"], db)
    shipments.announced(order.key, PARCEL, T0, {"MUG": 2, "TEE": 1})
    deliver(version(base, 20, cancelled=True), topic="orders/cancelled")
    with pytest.raises(OrderCancelled):
        validate(Stores(orders, intake, shipments), order.key, can_confirm=True)
