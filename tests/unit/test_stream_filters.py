"""Stream consumers' event filters drop only records their handlers would do nothing with, and
the local stack matches patterns as Lambda does (or refuses what it cannot emulate)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from local_stack import event_filters
from shared.domain.orders import OrderStatus
from shared.services.oversell import policy_trigger
from shared.services.relay import listing_change, listing_found, stock_arrived, stock_change
from shared.services.workflow_start import what_follows
from shared.stores.catalog import REF_SK
from shared.stores.inventory import LEVEL, MOVEMENT, RESERVATION, WAITING
from shared.stores.orders import HELD_SK, ORDER_SK, order_pk
from shared.stream_filters import LISTINGS, ORDERS_HELD, ORDERS_STARTING_OR_ENDING, STOCK_LEVELS
from shared.wiring import WIRING, StreamTrigger

Image = dict[str, Any] | None
_typed = TypeSerializer()


def record(old: Image, new: Image) -> dict[str, Any]:
    """A DynamoDB stream record as Lambda's event source mapping matches it."""
    image = new or old
    assert image is not None
    dynamodb: dict[str, Any] = {
        "Keys": {k: _typed.serialize(image[k]) for k in ("pk", "sk")},
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    for name, value in (("OldImage", old), ("NewImage", new)):
        if value is not None:
            dynamodb[name] = {k: _typed.serialize(v) for k, v in value.items()}
    kind = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    return {"eventName": kind, "eventSource": "aws:dynamodb", "dynamodb": dynamodb}


def changes(images: list[Image]) -> Iterator[tuple[Image, Image]]:
    """Every insert, modification and removal among the images (same key where both exist)."""
    for old, new in itertools.product(images, repeat=2):
        if old is None and new is None:
            continue
        if old is not None and new is not None and old["sk"] != new["sk"]:
            continue
        yield old, new


def assert_superset(
    pattern: dict[str, Any], images: list[Image], acts: Callable[[Image, Image], bool]
) -> int:
    """Every change the handler acts on passes the filter; returns how many the filter drops."""
    dropped = 0
    for old, new in changes(images):
        passes = event_filters.passes(record(old, new), (pattern,))
        if acts(old, new):
            assert passes, (old, new)
        dropped += not passes
    return dropped


def order_images() -> list[Image]:
    images: list[Image] = [None]
    for sk in (ORDER_SK, "SHIPMENT", HELD_SK):
        for status in [*OrderStatus, *([None] if sk != ORDER_SK else [])]:
            for ready in ({}, {"ready_to_ship": True}, {"ready_to_ship": False}):
                for updated in ("t1", "t2"):
                    item = {"pk": order_pk("shopify#s#1"), "sk": sk, **ready}
                    item["channel"], item["channel_updated_at"] = "shopify", updated
                    if status is not None:
                        item["status"] = status.value
                    images.append(item)
    return images


def test_the_workflow_starter_hears_every_order_that_starts_or_stops_and_little_else() -> None:
    dropped = assert_superset(
        ORDERS_STARTING_OR_ENDING,
        order_images(),
        lambda old, new: what_follows(old, new) is not None,
    )
    assert dropped > 0
    shipped = {"pk": order_pk("k"), "sk": ORDER_SK, "status": "shipped"}
    assert not event_filters.passes(record(shipped, shipped), (ORDERS_STARTING_OR_ENDING,))


def test_the_oversell_policy_hears_every_held_order() -> None:
    dropped = assert_superset(
        ORDERS_HELD, order_images(), lambda old, new: policy_trigger(old, new) is not None
    )
    assert dropped > 0


def relay_acts(old: Image, new: Image) -> bool:
    return any(
        decide(old, new) is not None
        for decide in (stock_change, stock_arrived, listing_found, listing_change)
    )


def test_the_inventory_relay_hears_every_stock_level_change() -> None:
    images: list[Image] = [None]
    for sk in (LEVEL, f"{RESERVATION}o1", f"{MOVEMENT}receipt#po", f"{WAITING}o1"):
        for on_hand, reserved in ((5, 0), (5, 2), (3, 0)):
            images.append(
                {"pk": "SKU#MUG", "sk": sk, "sku": "MUG", "on_hand": on_hand, "reserved": reserved}
            )
    assert assert_superset(STOCK_LEVELS, images, relay_acts) > 0


def test_the_catalog_relay_hears_every_listing_and_new_channel_id_not_what_syncs_saw() -> None:
    images: list[Image] = [None]
    for sk in ("META", "LISTING#shopify", REF_SK, "WAITING#o1", "CHANGE#shopify#t", "SHOWN#shopify",
               "PENDING#shopify"):  # fmt: skip
        for buffer in (0, 2):
            images.append(
                {
                    "pk": "SKU#MUG" if sk != REF_SK else "REF#shopify#sku#MUG",
                    "sk": sk,
                    "sku": "MUG",
                    "channel": "shopify",
                    "refs": {"sku": "MUG"},
                    "buffer": buffer,
                    "quantity": buffer,
                }
            )
    assert assert_superset(LISTINGS, images, relay_acts) > 0
    shown = {"pk": "SKU#MUG", "sk": "SHOWN#shopify", "quantity": 4}
    assert not event_filters.passes(record(shown, {**shown, "quantity": 3}), (LISTINGS,))


def test_every_stream_consumer_filters_with_patterns_the_local_stack_emulates() -> None:
    streams = [f for f in WIRING.functions if isinstance(f.trigger, StreamTrigger)]
    assert {f.name: len(f.trigger.filters) for f in streams} == {  # type: ignore[union-attr]
        "relay": 1, "relay-catalog": 1, "oversell": 1, "start-workflow": 1
    }  # fmt: skip
    for function in streams:
        assert isinstance(function.trigger, StreamTrigger)
        for pattern in function.trigger.filters:
            event_filters.check(pattern)


def test_patterns_match_as_lambda_matches_them() -> None:
    item = {"a": {"S": "ORDER#1"}, "n": {"N": "3"}, "l": ["x", "y"]}
    assert event_filters.matches(item, {"a": {"S": [{"prefix": "ORDER#"}]}})
    assert not event_filters.matches(item, {"a": {"S": ["ORDER"]}})
    assert event_filters.matches(item, {"a": {"S": [{"anything-but": ["X", "Y"]}]}})
    assert event_filters.matches(item, {"l": ["y"]})  # a list matches when a value does
    assert event_filters.matches(item, {"missing": [{"exists": False}]})
    assert not event_filters.matches(item, {"missing": ["x"]})
    assert not event_filters.matches(item, {"a": {"N": [{"exists": True}]}})
    assert event_filters.matches(item, {"$or": [{"a": {"S": ["no"]}}, {"n": {"N": ["3"]}}]})
    assert event_filters.passes(item, ())  # no criteria: everything reaches the function


@pytest.mark.parametrize(
    "pattern",
    [{"a": "x"}, {"a": []}, {"a": [{"numeric": [">", 1]}]}, {"a": [{"prefix": 1}]}, {"$or": []}],
)
def test_what_the_local_stack_cannot_emulate_is_refused(pattern: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        event_filters.check(pattern)
