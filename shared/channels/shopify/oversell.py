"""Cut the lines of a Shopify order that Keel cannot supply, with an order edit: begin, set each
cut line's quantity (restocked), commit with the buyer notified and the reason as staff note.
Shopify then sends `orders/updated` with the lines' `current_quantity`, and Keel reserves what
stayed. A retry after a lost answer finds the quantities already cut and commits nothing."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from shared.channels.errors import NothingToDo, PermanentError
from shared.channels.shopify import graphql as documents
from shared.channels.shopify.admin import AdminClient
from shared.channels.shopify.secret import ShopifySecret
from shared.channels.shopify.stock import to_gid
from shared.domain.orders import Order
from shared.domain.oversell import LineCut

CHANNEL = "shopify"


class ShopifyLineCanceller:
    channel = CHANNEL

    def __init__(
        self,
        secret: ShopifySecret,
        http: httpx.Client | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._post = AdminClient(secret, http, sleep=sleep).post

    def cancel_lines(self, order: Order, cuts: Sequence[LineCut], note: str) -> None:
        begun = _payload(
            self._post(
                documents.ORDER_EDIT_BEGIN_MUTATION, {"id": to_gid("Order", order.external_id)}
            ),
            "orderEditBegin",
        )
        calculated = begun.get("calculatedOrder") or {}
        shown = {
            str(node["id"]).rsplit("/", 1)[-1]: int(node["quantity"])
            for node in (calculated.get("lineItems") or {}).get("nodes") or []
        }
        changed = False
        for cut in cuts:
            if shown.get(cut.line_id, 0) <= cut.keep:
                continue  # already cut (a retry), or cut further by the merchant
            _payload(
                self._post(
                    documents.ORDER_EDIT_SET_QUANTITY_MUTATION,
                    {
                        "id": calculated["id"],
                        "lineItemId": to_gid("CalculatedLineItem", cut.line_id),
                        "quantity": cut.keep,
                    },
                ),
                "orderEditSetQuantity",
            )
            changed = True
        if not changed:
            # An uncommitted edit changes nothing in Shopify: it lapses on its own.
            raise NothingToDo(f"order {order.external_id} already shows the cut", channel=CHANNEL)
        _payload(
            self._post(
                documents.ORDER_EDIT_COMMIT_MUTATION,
                {"id": calculated["id"], "staffNote": note[:255]},
            ),
            "orderEditCommit",
        )


def _payload(data: Any, field: str) -> dict[str, Any]:
    """The mutation's payload; its userErrors are the shop's refusal (a cancelled or archived
    order, a line already fulfilled): a retry would get the same answer."""
    payload = (data or {}).get(field) or {}
    errors = payload.get("userErrors") or []
    if errors:
        detail = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors)
        raise PermanentError(f"{field} refused: {detail}", channel=CHANNEL)
    return dict(payload)


def line_canceller(secret: ShopifySecret, http: httpx.Client) -> ShopifyLineCanceller:
    """The registry's cancel_lines factory."""
    return ShopifyLineCanceller(secret, http)
