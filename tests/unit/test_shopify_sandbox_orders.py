"""The Shopify sandbox's `orders` query and the order calls of its control surface: what the
poll depends on, checked against the sandbox directly (raw GraphQL, as Shopify would be)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from local_stack.http import Request
from local_stack.sandboxes.shopify import GRAPHQL_PATH, SandboxLine, ShopifySandbox

PAGE_QUERY = """
query($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {
    pageInfo { hasNextPage endCursor }
    nodes { legacyResourceId updatedAt cancelledAt }
  }
}
"""


@pytest.fixture
def sandbox(specs: Path) -> ShopifySandbox:
    return ShopifySandbox()


def graphql(sandbox: ShopifySandbox, document: str, **variables: Any) -> tuple[int, Any, Any]:
    body = json.dumps({"query": document, "variables": variables}).encode()
    headers = {"X-Shopify-Access-Token": sandbox.access_token}
    answer = sandbox(Request("POST", GRAPHQL_PATH, {}, headers, body))
    return answer.status, json.loads(answer.body), answer.headers


def control(sandbox: ShopifySandbox, path: str, body: Any = None, **query: str) -> Any:
    raw = json.dumps(body).encode() if body is not None else b""
    answer = sandbox(Request("POST", path, {k: [v] for k, v in query.items()}, {}, raw))
    assert answer.status == 200, answer.body
    return json.loads(answer.body)


def order_at(sandbox: ShopifySandbox, moment: datetime) -> dict[str, Any]:
    body = sandbox.order_payload([SandboxLine(None, "TEE", "Tee", 1, Decimal("9.00"))])
    return body | {"updated_at": moment.isoformat(), "created_at": moment.isoformat()}


def test_notify_false_keeps_the_order_and_sends_no_webhook(sandbox: ShopifySandbox) -> None:
    body = sandbox.order_payload([SandboxLine(None, "TEE", "Tee", 1, Decimal("9.00"))])
    order_id = control(sandbox, "/__sandbox/orders", body, notify="false")["id"]
    control(sandbox, f"/__sandbox/orders/{order_id}/cancel", notify="false")
    assert sandbox.deliveries == []
    assert sandbox.order(order_id)["cancelled_at"] is not None
    other = sandbox.order_payload([SandboxLine(None, "TEE", "Tee", 1, Decimal("9.00"))])
    control(sandbox, "/__sandbox/orders", other)  # without it, the webhook goes (or is tried)
    assert [d.topic for d in sandbox.deliveries] == ["orders/create"]


def test_orders_are_searched_by_updated_at_sorted_and_paged_by_cursor(
    sandbox: ShopifySandbox,
) -> None:
    start = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    ids = [
        control(sandbox, "/__sandbox/orders", order_at(sandbox, start + timedelta(minutes=m)),
                notify="false")["id"]
        for m in (3, 1, 4, 2, 0)
    ]  # fmt: skip
    search = "updated_at:>='2026-11-28T10:01:00Z'"
    seen: list[str] = []
    after = None
    while True:
        status, answer, _ = graphql(sandbox, PAGE_QUERY, first=2, after=after, query=search)
        assert status == 200 and "errors" not in answer, answer
        page = answer["data"]["orders"]
        seen += [n["legacyResourceId"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [ids[1], ids[3], ids[0], ids[2]]  # 10:01 .. 10:04, oldest first; 10:00 out


def test_a_cancellation_moves_the_order_to_the_end_of_a_paging_in_progress(
    sandbox: ShopifySandbox,
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    first, second = (
        control(sandbox, "/__sandbox/orders", order_at(sandbox, start + timedelta(minutes=m)),
                notify="false")["id"]
        for m in (0, 1)
    )  # fmt: skip
    _, answer, _ = graphql(sandbox, PAGE_QUERY, first=1, query="")
    page = answer["data"]["orders"]
    assert [n["legacyResourceId"] for n in page["nodes"]] == [first]
    control(sandbox, f"/__sandbox/orders/{first}/cancel", notify="false")  # updated now
    _, answer, _ = graphql(sandbox, PAGE_QUERY, first=5, after=page["pageInfo"]["endCursor"])
    rest = answer["data"]["orders"]["nodes"]
    assert [n["legacyResourceId"] for n in rest] == [second, first]
    assert rest[1]["cancelledAt"] is not None


def test_a_document_the_real_schema_refuses_is_refused(sandbox: ShopifySandbox) -> None:
    status, answer, _ = graphql(
        sandbox, "{ orders(first: 1) { nodes { id totalPriceUsd } } }"
    )  # a REST field name
    assert status == 200 and "totalPriceUsd" in answer["errors"][0]["message"]


def test_an_orders_page_costs_2_plus_first_times_its_node(sandbox: ShopifySandbox) -> None:
    lines = "lineItems(first: 4) { nodes { id } }"
    page = f"query($n: Int!) {{ orders(first: $n) {{ nodes {{ id {lines} }} }} }}"
    _, answer, _ = graphql(sandbox, page, n=10)
    cost = answer["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 2 + 10 * (1 + 2 + 4 * 1)
    assert cost["actualQueryCost"] == 2  # no orders: the bucket pays for what came back
    assert cost["throttleStatus"]["currentlyAvailable"] >= 998
    _, answer, _ = graphql(sandbox, "{ orders(last: 1) { nodes { id } } }")
    assert answer["extensions"]["cost"]["requestedQueryCost"] == 3
    _, answer, _ = graphql(sandbox, "{ orders { nodes { id } } }")
    assert "first or last" in answer["errors"][0]["message"]


@pytest.mark.parametrize("status", [429, 503])
def test_an_outage_fails_the_orders_query(sandbox: ShopifySandbox, status: int) -> None:
    control(sandbox, "/__sandbox/outage", {"requests": 1, "status": status})
    got, _, headers = graphql(sandbox, PAGE_QUERY, first=1)
    assert got == status and (status != 429 or float(headers["Retry-After"]) > 0)
    assert graphql(sandbox, PAGE_QUERY, first=1)[0] == 200
