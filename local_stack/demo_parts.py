"""Every channel's part of `keel demo`, by channel name: a new channel adds its part here (and
its module beside the others); the demo loops over the parts of the sandboxes it runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from local_stack import demo_amazon, demo_bol, demo_shopify, demo_woocommerce
from local_stack.demo_scenario import DemoPart

DEMO_PARTS: dict[str, DemoPart] = {
    p.channel: p
    for p in (demo_shopify.PART, demo_woocommerce.PART, demo_bol.PART, demo_amazon.PART)
}


def parts_for(sandboxes: Mapping[str, Any]) -> list[DemoPart]:
    """The parts of the channels that have a sandbox running, in registry order."""
    return [part for name, part in DEMO_PARTS.items() if name in sandboxes]
