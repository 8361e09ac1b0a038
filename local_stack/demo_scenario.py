"""What every part of `keel demo` shares (the scenario's stack and listing refs, what was sent,
placing an order in a channel's sandbox): apart from demo.py, so the channels' parts of the
demo (demo_bol.py, ...) import it without importing the demo itself."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import httpx

from local_stack.sandboxes.base import SandboxLine as ChannelLine
from local_stack.sandboxes.shopify import ShopifySandbox
from local_stack.seed import DEMO_SKUS
from local_stack.stack import LocalStack, stores
from shared.domain.listings import listing_key

SKU = {s.sku: s for s in DEMO_SKUS}


@dataclass
class Sent:
    label: str
    status: int
    order_id: int | str | None = None
    lines: dict[str, int] = field(default_factory=dict)  # sku -> qty
    channel: str = "shopify"


@dataclass
class Scenario:
    stack: LocalStack
    refs: dict[str, dict[str, dict[str, str]]]  # sku -> channel -> listing refs

    @property
    def shopify(self) -> ShopifySandbox:
        return cast(ShopifySandbox, self.stack.sandboxes["shopify"])


def place_in_sandbox(
    sc: Scenario,
    channel: str,
    label: str,
    lines: dict[str, int],
    notify: bool = True,
    account: str = "",
    marketplace: str = "",
) -> Sent:
    """An order placed in a channel, through its sandbox's control surface, as a buyer would
    (`notify=False`: the channel's webhook for it never arrives). `account`, `marketplace`:
    the listing it is placed on (the channel's first account's, in its first marketplace)."""
    target = next(t for t in sc.stack.listing_targets()[channel] if t.account == account)
    catalog, _, _ = stores(sc.stack)

    def refs(sku: str) -> dict[str, str]:
        if not account and not marketplace:
            return dict(sc.refs[sku][channel])
        listing = catalog.listing(sku, listing_key(channel, account, marketplace))
        if listing is None:
            raise ValueError(f"{sku} has no {listing_key(channel, account, marketplace)} listing")
        return dict(listing.refs)

    body = target.sandbox.order_body(
        [
            ChannelLine(refs(sku), sku, SKU[sku].title, qty, SKU[sku].price)
            for sku, qty in lines.items()
        ]
    )
    response = httpx.post(
        f"{target.url}/__sandbox/orders",
        params={"notify": str(notify).lower()},
        json=body,
        timeout=10.0,
    )
    order_id = response.json().get("id") if response.status_code == 200 else None
    return Sent(label, response.status_code, order_id, dict(lines), channel)


def _no_checks(sc: Scenario, sent: list[Sent]) -> list[str]:
    return []


@dataclass(frozen=True)
class DemoPart:
    """One channel's part of `keel demo`, kept beside that channel's other demo code: what its
    buyers and its shop do (through its sandbox), which of those orders end reserved, how many
    orders it stores, and the checks only it knows. The demo runs the part of every channel
    it has a sandbox for (local_stack/demo_parts.py)."""

    channel: str
    buyers: Callable[[Scenario], list[Sent]]
    accepted: tuple[str, ...] = ()  # labels of the orders that end reserved
    orders: int = 0  # distinct orders it stores
    check: Callable[[Scenario, list[Sent]], list[str]] = _no_checks
