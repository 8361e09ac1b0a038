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
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
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
    ) -> dict[str, str]:
        """Create the item in the channel (showing `quantity`; None: not tracked) and return the
        refs Keel's listing for it holds (ids the channel's API and its orders use, and "sku")."""
        ...

    def order_body(self, lines: list[SandboxLine]) -> dict[str, Any]:
        """An order in the channel's own API shape, for `POST /__sandbox/orders`."""
        ...

    def shown(self) -> list[dict[str, Any]]:
        """What `GET /__sandbox/listings` answers."""
        ...

    def fail_next(self, requests: int, status: int = 503) -> None: ...
