"""Amazon's part of `keel demo`: an order placed on Amazon (its ORDER_CHANGE goes to Keel's
SQS queue, not a webhook), and waiting for Amazon to apply the listing patches it accepted
before the demo compares what every channel shows."""

from __future__ import annotations

import time

from local_stack.demo_scenario import DemoPart, Scenario, Sent, place_in_sandbox
from local_stack.sandboxes.amazon import MORE_MARKETPLACE_IDS
from local_stack.stack import LocalStack

AMAZON = "amazon"
AMAZON_ORDER = "one mug on Amazon"
AMAZON_DE_ORDER = "one mug on Amazon.de"
AMAZON_ORDER_LINES = {"KEEL-MUG-BLUE": 1}


def amazon_buyers(sc: Scenario) -> list[Sent]:
    """Amazon calls no webhook: its ORDER_CHANGE lands on Keel's SQS queue, names the order,
    and Keel reads it with getOrder. The seller sells the mug in two marketplaces (Amazon.nl,
    Amazon.de) from one quantity: a buyer in each."""
    return [
        place_in_sandbox(sc, AMAZON, AMAZON_ORDER, AMAZON_ORDER_LINES),
        place_in_sandbox(
            sc, AMAZON, AMAZON_DE_ORDER, AMAZON_ORDER_LINES, marketplace=MORE_MARKETPLACE_IDS[0]
        ),
    ]


PART = DemoPart(AMAZON, amazon_buyers, accepted=(AMAZON_ORDER, AMAZON_DE_ORDER), orders=2)


def wait_for_accepted_writes(stack: LocalStack, timeout_s: float = 15.0) -> bool:
    """Until every sandbox that applies accepted writes later (Amazon's ACCEPTED patches and
    feeds) has applied them: what a channel shows is compared after that."""
    waiting = [s for s in stack.sandboxes.values() if hasattr(s, "accepted_writes")]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not any(s.accepted_writes() for s in waiting):
            return True
        time.sleep(0.1)
    return False
