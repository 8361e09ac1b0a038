"""Cut the lines of a WooCommerce order that Keel cannot supply: `PUT orders/{id}` with each cut
line's new quantity (a line with nothing left is removed by nulling its product, as the REST
controller's `item_is_null` reads it), then a customer note (WooCommerce e-mails it). The shop
then sends `order.updated`, and Keel reserves what stayed. A retry after a lost answer finds
the lines already cut and only makes sure the note is there."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from shared.channels.errors import NothingToDo
from shared.channels.woocommerce.fulfillment import ENDED, WooFulfillment
from shared.channels.woocommerce.secret import WooSecret
from shared.channels.woocommerce.stock import CHANNEL
from shared.domain.orders import Order
from shared.domain.oversell import LineCut

# Only an order not yet being fulfilled can lose lines; a completed one has left the shop.
EDITABLE = frozenset({"pending", "processing", "on-hold"})


class WooLineCanceller(WooFulfillment):
    """Shares the fulfillment adapter's classified calls."""

    def cancel_lines(self, order: Order, cuts: Sequence[LineCut], note: str) -> None:
        path = f"/orders/{order.external_id}"
        current = self._call("GET", path)
        status = current.get("status")
        if status in ENDED or status not in EDITABLE:
            raise NothingToDo(
                f"order {order.external_id} is {status} in WooCommerce", channel=CHANNEL
            )
        lines = {str(li.get("id")): li for li in current.get("line_items") or []}
        changes: list[dict[str, Any]] = []
        for cut in cuts:
            line = lines.get(cut.line_id)
            shown = int(line.get("quantity", 0)) if line else 0
            if shown <= cut.keep:
                continue  # already cut (a retry), or cut further by the shop itself
            item_id = int(cut.line_id)
            changes.append(
                {"id": item_id, "quantity": cut.keep}
                if cut.keep > 0
                else {"id": item_id, "product_id": None}
            )
        if changes:
            self._call("PUT", path, json={"line_items": changes})
        notes = self._call("GET", f"{path}/notes")
        noted = any(note == n.get("note") for n in notes if isinstance(n, dict))
        if not noted:
            self._call("POST", f"{path}/notes", json={"note": note, "customer_note": True})
        if not changes and noted:
            raise NothingToDo(f"order {order.external_id} already shows the cut", channel=CHANNEL)


def line_canceller(secret: WooSecret, http: httpx.Client) -> WooLineCanceller:
    """The registry's cancel_lines factory."""
    return WooLineCanceller(secret, http)
