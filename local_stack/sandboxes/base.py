"""What every sales-channel sandbox offers: the channel's own API, and one control surface
under `/__sandbox/` that the demo, the tests and outside checks drive the same way everywhere.

Control surface (JSON; a contract: extend it, never rename):
- `POST /__sandbox/orders`: body = one order in the channel's own API shape. The sandbox keeps
  it, lowers what it shows for the ordered items (as the real channel does), and notifies Keel
  the way the channel does (a signed webhook). Answers `{"id": "<channel order id>"}`.
- `POST /__sandbox/orders/{id}/cancel`: the channel cancels the order and notifies Keel.
- `POST /__sandbox/orders/{id}/refund`: `{"amount": "10.00", "reason": "...", "lines":
  [{"line_id": "<channel line id>", "quantity": 1}], "restock": true}`: the channel refunds
  (the whole remaining amount: refunded in full), restocks the lines if told, and notifies Keel.
  Answers `{"id", "refund_id", "status"}`.
- `?notify=false` on the order calls: the channel changes the order but its webhook never
  arrives (only a poll can find it).
- `GET /__sandbox/listings`: what the channel shows now,
  `[{"listing_id", "sku", "quantity", "price"}]` (price null until prices are published).
- `GET /__sandbox/shipments`: what Keel told the channel shipped, one entry per confirmation
  the channel accepted, `[{"order_id", "tracking_number", "carrier"}]` (order_id: the
  channel's order id; a retried confirmation the channel found done adds nothing).
- `POST /__sandbox/outage`: `{"requests": N, "status": 503}`: the next N API calls fail so
  (`{"requests": 0}` clears it).
- `POST /__sandbox/orders/from-lines`: `{"lines": [{"sku", "quantity", "refs"}]}`, the order
  made into the channel's shape by the sandbox itself (line_orders.py, in the local stack).
- `POST /__sandbox/listings`: `{"sku", "gtin"?, "quantity"?, "price", "title"?}`: a listing the
  merchant made by hand in the channel (the sandbox assigns its own ids); answers its row.
  Listing rows carry `gtin` where the channel has one.
- `GET /__sandbox/subscriptions`: what was registered through the channel's own API
  (webhooks, notification subscriptions): `[{"id", "topic", "address", "active"}]`.
- `POST /__sandbox/subscriptions/{id}/disable`: the channel disables it (as after failed
  deliveries): nothing is delivered to it until it is re-activated through the API.

Until something is registered for a topic, a sandbox delivers it to where `notify_to` points
(the stack's endpoints, as if the operator had registered them by hand), unless
`SubscriptionBook.preregistered` is False (`keel local up --seed merchant`: nothing arrives
until `keel channels connect`).
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol, runtime_checkable

from local_stack.http import Request, Response


@dataclass(frozen=True)
class SandboxLine:
    """One line of an order placed in a sandbox, by the refs Keel's listing holds."""

    refs: dict[str, str]
    sku: str | None
    title: str
    quantity: int
    price: Decimal


@runtime_checkable
class ChannelSandbox(Protocol):
    channel: str

    def __call__(self, request: Request) -> Response:
        """The channel's API and the `/__sandbox/` control surface."""
        ...

    def keel_secret(self, base_url: str) -> dict[str, Any]:
        """The JSON Keel's secret for this channel holds to talk to this sandbox at `base_url`
        (validated against the channel's secret schema by the local stack)."""
        ...

    def local_only_secrets(self) -> dict[str, str]:
        """Keys for `.keel/local.json`'s `local_only_secrets`, prefixed with the channel name
        (a webhook channel: at least `<channel>_webhook_secret`)."""
        ...

    def notify_to(self, webhook_url: str) -> None:
        """Where the sandbox sends its webhooks (Keel's gateway), or, for a channel that
        delivers to a queue (spec.QueueReceiver), the URL of Keel's queue for it (in moto)."""
        ...

    def add_listing(
        self,
        sku: str,
        title: str,
        price: Decimal,
        quantity: int | None,
        variant: bool = False,
        marketplace: str = "",
        gtin: str | None = None,
    ) -> dict[str, str]:
        """Create the item in the channel (showing `quantity`; None: not tracked) and return the
        refs Keel's listing for it holds (ids the channel's API and its orders use, and "sku")."""
        ...

    def edit_listing(
        self, listing_id: str, quantity: int | None, price: Decimal | None, notify: bool
    ) -> dict[str, Any] | None:
        """A hand edit in the channel's admin (`PATCH /__sandbox/listings/{id}`): its row after
        the edit, None when there is no such listing. `notify`: send the channel's own change
        notification, where it has one."""
        ...

    def order_body(self, lines: list[SandboxLine]) -> dict[str, Any]:
        """An order in the channel's own API shape, for `POST /__sandbox/orders`."""
        ...

    def shown(self) -> list[dict[str, Any]]:
        """What `GET /__sandbox/listings` answers."""
        ...

    def fail_next(self, requests: int, status: int = 503) -> None: ...


@dataclass
class SandboxSubscription:
    id: str
    topic: str
    address: str
    active: bool = True
    secret: str = ""  # a channel that signs with each webhook's own secret (WooCommerce)
    failures: int = 0  # deliveries failed in a row
    extra: dict[str, Any] = field(default_factory=dict)  # the channel's own fields

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "topic": self.topic, "address": self.address, "active": self.active}


class SubscriptionBook:
    """A sandbox's registered deliveries, behind their own lock (the control surface reads
    them while the sandbox's API changes them). `removed_when_disabled`: the channel has no
    disabled state and drops a failing subscription instead (Shopify, Amazon)."""

    def __init__(self, first_id: int = 1, removed_when_disabled: bool = False) -> None:
        self.items: dict[str, SandboxSubscription] = {}
        self.preregistered = True
        self.removed_when_disabled = removed_when_disabled
        self._ids = itertools.count(first_id)
        self._lock = threading.RLock()

    def add(self, topic: str, address: str, secret: str = "", **extra: Any) -> SandboxSubscription:
        with self._lock:
            sub = SandboxSubscription(str(next(self._ids)), topic, address, True, secret, 0, extra)
            self.items[sub.id] = sub
            return sub

    def remove(self, sub_id: str) -> SandboxSubscription | None:
        with self._lock:
            return self.items.pop(sub_id, None)

    def disable(self, sub_id: str) -> dict[str, Any] | None:
        """As the channel does after failed deliveries; its view, None when there is none."""
        with self._lock:
            sub = self.items.get(sub_id)
            if sub is None:
                return None
            sub.active = False
            if self.removed_when_disabled:
                del self.items[sub_id]
            return sub.view()

    def listed(self) -> list[SandboxSubscription]:
        with self._lock:
            return list(self.items.values())

    def targets(self, topic: str) -> list[SandboxSubscription | None]:
        """Where a delivery of `topic` goes: each active subscription to it; None: the
        `notify_to` address (nothing registered for the topic, preregistered)."""
        registered = [s for s in self.listed() if topic in s.topic.split(",")]
        if registered:
            return [s for s in registered if s.active]
        return [None] if self.preregistered else []

    def delivered(self, sub: SandboxSubscription | None, ok: bool, disable_after: int) -> None:
        """Count a delivery; `disable_after` failures in a row disable it (0: never)."""
        if sub is None:
            return
        with self._lock:
            sub.failures = 0 if ok else sub.failures + 1
            if disable_after and sub.failures >= disable_after:
                sub.active = False

    def views(self) -> list[dict[str, Any]]:
        return [s.view() for s in self.listed()]


@dataclass(frozen=True)
class NewListing:
    """`POST /__sandbox/listings`: a listing the merchant made by hand."""

    sku: str
    price: Decimal
    title: str
    gtin: str | None = None
    quantity: int | None = None
    variant: bool = False
    marketplace: str = ""


def new_listing(body: bytes) -> NewListing:
    """The body of `POST /__sandbox/listings`; ValueError says what is wrong."""
    try:
        spec = json.loads(body or b"null")
    except ValueError as exc:
        raise ValueError("body is not JSON") from exc
    if not isinstance(spec, dict) or not isinstance(spec.get("sku"), str) or not spec["sku"]:
        raise ValueError('expected {"sku", "price", "gtin"?, "quantity"?, "title"?}')
    try:
        price = Decimal(str(spec.get("price", "")))
    except InvalidOperation as exc:
        raise ValueError(f"price {spec.get('price')!r} is not an amount") from exc
    quantity = spec.get("quantity")
    if quantity is not None and (not isinstance(quantity, int) or quantity < 0):
        raise ValueError(f"quantity {quantity!r} is not a count")
    gtin = spec.get("gtin")
    return NewListing(
        spec["sku"],
        price,
        str(spec.get("title") or spec["sku"]),
        str(gtin) if gtin else None,
        quantity,
        bool(spec.get("variant", False)),
        str(spec.get("marketplace") or ""),
    )


@dataclass(frozen=True)
class ListingEdit:
    """`PATCH /__sandbox/listings/{listing_id}`: a hand edit in the channel's admin."""

    quantity: int | None = None
    price: Decimal | None = None
    notify: bool = True


def listing_edit(body: bytes) -> ListingEdit:
    """The body of `PATCH /__sandbox/listings/{id}`; ValueError says what is wrong."""
    try:
        edit = json.loads(body or b"null")
    except ValueError as exc:
        raise ValueError("body is not JSON") from exc
    shape = 'expected {"quantity"?: N, "price"?: "12.95", "notify"?: bool}'
    if not isinstance(edit, dict) or not set(edit) <= {"quantity", "price", "notify"}:
        raise ValueError(shape)
    quantity, notify = edit.get("quantity"), edit.get("notify", True)
    if quantity is not None and (
        not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0
    ):
        raise ValueError(f"quantity {quantity!r} is not a count")
    if not isinstance(notify, bool):
        raise ValueError(f"notify {notify!r} is not true or false")
    price = None
    if edit.get("price") is not None:
        try:
            price = Decimal(str(edit["price"]))
        except InvalidOperation as exc:
            raise ValueError(f"price {edit['price']!r} is not an amount") from exc
        if not price.is_finite() or price <= 0:
            raise ValueError(f"price {edit['price']!r} is not a positive amount")
    if quantity is None and price is None:
        raise ValueError("nothing to edit: give a quantity and/or a price")
    return ListingEdit(quantity, price, notify)
