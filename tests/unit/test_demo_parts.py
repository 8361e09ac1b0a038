"""The demo loops over the channels' parts (local_stack/demo_parts.py): every registered channel
has one, except the channel the demo's core tells the webhook's own story with."""

from __future__ import annotations

from local_stack.demo import ACCEPTED, CORE_ORDERS
from local_stack.demo_parts import DEMO_PARTS, parts_for
from shared.channels.registry import CHANNELS

CORE = "shopify"  # duplicates, a forgery, a garbled body, an edit, the race for the last unit


def test_every_channel_but_the_cores_brings_its_part() -> None:
    assert set(DEMO_PARTS) | {CORE} == {c.name for c in CHANNELS}
    assert all(name == part.channel for name, part in DEMO_PARTS.items())


def test_a_part_reserves_no_more_orders_than_it_stores_and_labels_are_unique() -> None:
    labels = list(ACCEPTED)
    for part in DEMO_PARTS.values():
        assert len(part.accepted) <= part.orders, part.channel
        labels += part.accepted
    assert len(labels) == len(set(labels))
    assert len(ACCEPTED) <= CORE_ORDERS


def test_only_the_parts_of_running_sandboxes_are_run() -> None:
    assert [p.channel for p in parts_for({"bol": object(), "etsy": object()})] == ["bol"]
