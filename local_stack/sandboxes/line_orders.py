"""`POST /__sandbox/orders/from-lines`, on every sales-channel sandbox, once: an order given as
lines (`{"lines": [{"sku", "quantity", "refs"}]}`, refs as Keel's listing holds them) is made
into the channel's own shape by that sandbox's `order_body` and placed through its
`POST /__sandbox/orders`, as if the body had been written by hand. `keel sandbox order` uses it,
so nobody writes a channel's order body to watch an order flow. Title and price come from what
the channel shows for the SKU (10.00 when it shows no price)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from local_stack.http import Request, Response
from local_stack.sandboxes.base import ChannelSandbox, SandboxLine

ROUTE = "/__sandbox/orders/from-lines"
DEFAULT_PRICE = Decimal("10.00")


class _Line(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Annotated[str, Field(min_length=1, max_length=200)]
    quantity: Annotated[int, Field(gt=0, le=10_000)]
    refs: dict[str, str]


class _Lines(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lines: Annotated[list[_Line], Field(min_length=1, max_length=100)]


class LineOrders:
    """The sandbox's app, with the from-lines route in front of it."""

    def __init__(self, sandbox: ChannelSandbox) -> None:
        self.sandbox = sandbox

    def __call__(self, request: Request) -> Response:
        if request.path != ROUTE:
            return self.sandbox(request)
        if request.method != "POST":
            return Response.json(405, {"message": f"{ROUTE} takes POST"})
        try:
            wanted = _Lines.model_validate_json(request.body or b"{}")
        except ValidationError as exc:
            reasons = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                for e in exc.errors(include_url=False)
            )
            return Response.json(400, {"message": f"not an order of lines: {reasons}"})
        shown = {str(row.get("sku")): row for row in self.sandbox.shown()}
        lines = [self._line(line, shown.get(line.sku)) for line in wanted.lines]
        body = json.dumps(self.sandbox.order_body(lines), default=str).encode()
        return self.sandbox(
            Request(
                "POST",
                "/__sandbox/orders",
                request.query,
                {"Content-Type": "application/json"},
                body,
            )
        )

    @staticmethod
    def _line(line: _Line, shown: dict[str, Any] | None) -> SandboxLine:
        price = (shown or {}).get("price")
        return SandboxLine(
            refs=line.refs,
            sku=line.sku,
            title=line.sku,
            quantity=line.quantity,
            price=Decimal(str(price)) if price else DEFAULT_PRICE,
        )
