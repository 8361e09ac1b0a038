"""Orders placed through a sandbox's control surface: as lines (`keel sandbox order`), or as
a body the sandbox must refuse with a reason rather than store (with or without the vendor
specs beside the repository)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from local_stack.http import Request, Response
from local_stack.sandboxes import specs
from local_stack.sandboxes.line_orders import ROUTE, LineOrders
from shared.channels.registry import CHANNELS
from shared.channels.spec import load


def post(app: Any, path: str, body: Any) -> Response:
    raw = json.dumps(body).encode()
    return app(Request("POST", path, {"notify": ["false"]}, {}, raw))  # type: ignore[no-any-return]


@pytest.mark.parametrize("channel", [c.name for c in CHANNELS])
def test_an_order_of_lines_is_placed_in_the_channels_own_shape(channel: str) -> None:
    sandbox = load(next(c for c in CHANNELS if c.name == channel).sandbox)()
    refs = sandbox.add_listing("MUG", "Mug", Decimal("12.50"), 5)
    answer = post(
        LineOrders(sandbox), ROUTE, {"lines": [{"sku": "MUG", "quantity": 2, "refs": refs}]}
    )
    assert answer.status == 200, answer.body
    assert json.loads(answer.body)["id"]
    shown = next(r for r in sandbox.shown() if r["sku"] == "MUG")
    assert shown["quantity"] == 3  # the channel lowered what it shows, as for any order


@pytest.mark.parametrize(
    "body",
    [{}, {"lines": []}, {"lines": [{"sku": "MUG", "quantity": 0, "refs": {}}]}, [], {"lines": "x"}],
)
def test_an_order_that_is_not_lines_is_refused_with_the_reason(body: Any) -> None:
    sandbox = load(CHANNELS[0].sandbox)()
    answer = post(LineOrders(sandbox), ROUTE, body)
    assert answer.status == 400 and "not an order of lines" in json.loads(answer.body)["message"]


@pytest.mark.parametrize("strict", [True, False], ids=["with-specs", "without-specs"])
@pytest.mark.parametrize("body", [{}, {"orderItems": "x"}, {"orderItems": [{}]}])
def test_amazon_refuses_an_order_it_could_not_read_even_without_the_specs(
    monkeypatch: pytest.MonkeyPatch, strict: bool, body: Any
) -> None:
    if not strict:
        monkeypatch.setenv(specs.ENV, "/nowhere")
    sandbox = load(next(c for c in CHANNELS if c.name == "amazon").sandbox)()
    answer = post(sandbox, "/__sandbox/orders", body)
    assert answer.status == 400
