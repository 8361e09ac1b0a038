"""Shopify's part of `keel demo` beyond the core story (demo.py): the merchant's second shop.

A second Shopify shop is configuration (its own secret, `LocalConfig.more_accounts`): its
webhooks come to the same endpoint, named by `X-Shopify-Shop-Domain` and verified with that
shop's secret; its lines match its own listings, and its listings show their own quantity.
"""

from __future__ import annotations

from local_stack.demo_scenario import DemoPart, Scenario, Sent, place_in_sandbox

SHOPIFY = "shopify"
OUTLET_ORDER = "one mug in the second shop"


def second_shop_buyers(sc: Scenario) -> list[Sent]:
    further = sc.stack.listing_targets()[SHOPIFY][1:]
    if not further:
        raise RuntimeError("the demo runs with a second Shopify shop (seed.DEMO_MORE_ACCOUNTS)")
    return [
        place_in_sandbox(
            sc, SHOPIFY, OUTLET_ORDER, {"KEEL-MUG-BLUE": 1}, account=further[0].account
        )
    ]


PART = DemoPart(SHOPIFY, second_shop_buyers, accepted=(OUTLET_ORDER,), orders=1)
