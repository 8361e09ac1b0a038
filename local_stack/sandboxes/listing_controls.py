"""The onboarding part of the `/__sandbox/` control surface, on every sales-channel sandbox,
once (as line_orders.py does for orders): `POST /__sandbox/listings` (a listing the merchant
made by hand, through the sandbox's own `add_listing`), `GET /__sandbox/subscriptions` and
`POST /__sandbox/subscriptions/{id}/disable` (over the sandbox's SubscriptionBook), and
`PATCH /__sandbox/listings/{listing_id}` (a hand edit in the channel's admin, through the
sandbox's own `edit_listing`: it sends the channel's own change notification, if it has one,
unless `"notify": false`)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from local_stack.http import App, Request, Response
from local_stack.sandboxes.base import listing_edit, new_listing
from shared.channels.registry import BY_NAME

_DISABLE = re.compile(r"/__sandbox/subscriptions/([^/]+)/disable")
_LISTING = re.compile(r"/__sandbox/listings/(.+)")


class ListingControls:
    """`app` (the sandbox, perhaps already wrapped) with these routes in front of it."""

    def __init__(self, app: App, sandbox: Any) -> None:
        self.app, self.sandbox = app, sandbox

    def __call__(self, request: Request) -> Response:
        path, method = request.path, request.method
        book = self.sandbox.subscriptions
        if path == "/__sandbox/listings" and method == "POST":
            return self._add_listing(request)
        if (m := _LISTING.fullmatch(path)) and method == "PATCH":
            return self._edit_listing(unquote(m.group(1)), request)
        if path == "/__sandbox/subscriptions" and method == "GET":
            return Response.json(200, book.views())
        if (m := _DISABLE.fullmatch(path)) and method == "POST":
            view = book.disable(m.group(1))
            if view is None:
                return Response.json(404, {"message": f"no subscription {m.group(1)}"})
            return Response.json(200, view)
        return self.app(request)

    def _edit_listing(self, listing_id: str, request: Request) -> Response:
        try:
            edit = listing_edit(request.body)
        except ValueError as exc:
            return Response.json(400, {"message": str(exc)})
        row = self.sandbox.edit_listing(listing_id, edit.quantity, edit.price, edit.notify)
        if row is None:
            return Response.json(404, {"message": f"no listing {listing_id}"})
        return Response.json(200, row)

    def _add_listing(self, request: Request) -> Response:
        try:
            spec = new_listing(request.body)
            refs = self.sandbox.add_listing(
                spec.sku, spec.title, spec.price, spec.quantity, spec.variant,
                marketplace=spec.marketplace, gtin=spec.gtin,
            )  # fmt: skip
        except ValueError as exc:
            return Response.json(400, {"message": str(exc)})
        listing_id = refs[BY_NAME[self.sandbox.channel].line_item_ref or "listing_id"]
        row = next(r for r in self.sandbox.shown() if str(r["listing_id"]) == listing_id)
        return Response.json(201, row)
