"""The order workflow on the local stack with the ASL really executing (moto runs Step
Functions; the task functions run in-process): one stack for the module."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from keel_cli.main import main as keel
from local_stack.sandboxes.base import SandboxLine
from local_stack.sandboxes.sendcloud import SendcloudSandbox
from local_stack.stack import LocalConfig, LocalStack, stores
from shared.services.workflow_ops import Run, runs_of, transitions
from shared.workflow import STATE_MACHINE
from tests.e2e.conftest import Product, make_product, shopify
from tests.e2e.test_channels import assert_every_channel_shows_the_derived_quantity

pytestmark = pytest.mark.e2e
HAPPY_PATH = ["ValidateAndShip", "WaitForCarrier", "Commit", "Confirm"]
HAPPY_PATH_TRANSITIONS_MAX = 5  # its four states, and room for one retry
CUT = {"shopify": "cancel-short-lines", "woocommerce": "cancel-short-lines"}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    """This module's channels cut short lines (the oversell policy); others hold."""
    config = LocalConfig(
        prefix="e2e-workflow",
        visibility_timeout_s=1,
        log_level="CRITICAL",
        oversell_policy=CUT,
        timed_schedules=False,
    )
    with LocalStack(config) as s:
        yield s


def place(stack: LocalStack, channel: str, product: Product, qty: int) -> str:
    body = stack.sandboxes[channel].order_body(
        [SandboxLine(product.refs[channel], product.sku, product.sku, qty, Decimal("10.00"))]
    )
    answer = httpx.post(f"{stack.sandbox_url(channel)}/__sandbox/orders", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def sendcloud(stack: LocalStack) -> SendcloudSandbox:
    sandbox = stack.carrier_sandboxes["sendcloud"]
    assert isinstance(sandbox, SendcloudSandbox)
    return sandbox


def control(stack: LocalStack) -> str:
    return f"{stack.sandbox_url('sendcloud')}/__sandbox"


def latest(stack: LocalStack, key: str) -> Run | None:
    assert stack.resources is not None
    machine = stack.resources.state_machines[STATE_MACHINE]
    found = runs_of(stack.client("stepfunctions"), machine, key)
    return found[-1] if found else None


def wait_for(condition: Any, timeout_s: float = 40.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def parcel_of(stack: LocalStack, key: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        rows = httpx.get(f"{control(stack)}/parcels", timeout=10).json()
        return next((p for p in rows if p["external_reference_id"] == key), None)

    return wait_for(found, what=f"a parcel for {key}")  # type: ignore[no-any-return]


def waiting_for_carrier(stack: LocalStack, key: str) -> None:
    wait_for(
        lambda: (r := latest(stack, key)) is not None and "WaitForCarrier" in r.states,
        what=f"{key} waiting for the carrier",
    )


def finished(stack: LocalStack, key: str) -> Run:
    run = wait_for(
        lambda: (r := latest(stack, key)) is not None and r.status != "RUNNING" and r,
        timeout_s=60,
        what=f"{key}'s workflow to end",
    )
    assert isinstance(run, Run)
    return run


def hand_over(stack: LocalStack, parcel_id: int) -> dict[str, Any]:
    answer = httpx.post(
        f"{control(stack)}/parcels/{parcel_id}/status",
        json={"status_id": 3, "message": "En route to sorting center"},
        timeout=10,
    )
    assert answer.status_code == 200 and answer.json()["webhook_status"] == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("channel", ["shopify", "woocommerce"])
def test_an_order_ships_and_every_channel_follows(stack: LocalStack, channel: str) -> None:
    product = make_product(stack, on_hand=5)
    key = stack.order_key(channel, place(stack, channel, product, 2))
    parcel = parcel_of(stack, key)
    waiting_for_carrier(stack, key)
    hand_over(stack, parcel["parcel_id"])
    # Sendcloud repeats itself: the same signed event again resumes nothing twice.
    status, body = sendcloud(stack).deliveries[-1]
    assert status == 200 and sendcloud(stack).send(body) == 200
    run = finished(stack, key)
    assert run.status == "SUCCEEDED", run
    assert run.states == HAPPY_PATH
    assert transitions(run) <= HAPPY_PATH_TRANSITIONS_MAX
    assert stack.wait_idle(30)
    _, inventory, orders = stores(stack)
    order = orders.get(key)
    assert order is not None and order.status.value == "shipped"
    assert order.history[-1][2] == f"handed to postnl, tracking {parcel['tracking_number']}"
    level = inventory.get(product.sku)
    assert level is not None and (level.on_hand, level.reserved) == (3, 0)
    assert [(m.cause.value, m.quantity) for m in inventory.ledger(product.sku)][-1] == (
        "shipment",
        -2,
    )
    told = httpx.get(f"{stack.sandbox_url(channel)}/__sandbox/shipments", timeout=10).json()
    assert {"order_id": key.rsplit("#", 1)[1], "tracking_number": parcel["tracking_number"],
            "carrier": "postnl"} in told  # fmt: skip
    assert sendcloud(stack).announced == len(httpx.get(f"{control(stack)}/parcels").json())
    assert_every_channel_shows_the_derived_quantity(stack, product)


def test_a_cancellation_before_hand_over_cancels_the_parcel_and_releases_the_stock(
    stack: LocalStack,
) -> None:
    product = make_product(stack, on_hand=5)
    order_id = place(stack, "woocommerce", product, 2)
    key = stack.order_key("woocommerce", order_id)
    parcel = parcel_of(stack, key)
    waiting_for_carrier(stack, key)
    cancel = f"{stack.sandbox_url('woocommerce')}/__sandbox/orders/{order_id}/cancel"
    assert httpx.post(cancel, timeout=10).status_code == 200
    run = finished(stack, key)
    assert run.status == "SUCCEEDED" and run.states[-1] == "Compensate", run
    rows = httpx.get(f"{control(stack)}/parcels", timeout=10).json()
    assert next(p for p in rows if p["parcel_id"] == parcel["parcel_id"])["status_id"] == 2000
    assert stack.wait_idle(30)
    _, inventory, orders = stores(stack)
    assert orders.get(key).status.value == "cancelled"
    level = inventory.get(product.sku)
    assert level is not None and (level.on_hand, level.reserved) == (5, 0)
    assert_every_channel_shows_the_derived_quantity(stack, product)


def test_a_cancellation_after_hand_over_is_recorded_not_compensated(stack: LocalStack) -> None:
    product = make_product(stack, on_hand=5)
    order_id = place(stack, "shopify", product, 1)
    key = stack.order_key("shopify", order_id)
    parcel = parcel_of(stack, key)
    waiting_for_carrier(stack, key)
    hand_over(stack, parcel["parcel_id"])
    assert finished(stack, key).status == "SUCCEEDED"
    cancel = f"{stack.sandbox_url('shopify')}/__sandbox/orders/{order_id}/cancel"
    assert httpx.post(cancel, timeout=10).status_code == 200
    assert stack.wait_idle(30)
    _, inventory, orders = stores(stack)
    order = orders.get(key)
    assert order is not None and order.status.value == "shipped"
    assert "after hand-over: not compensated" in order.history[-1][2]
    rows = httpx.get(f"{control(stack)}/parcels", timeout=10).json()
    assert next(p for p in rows if p["parcel_id"] == parcel["parcel_id"])["status_id"] == 3
    level = inventory.get(product.sku)
    assert level is not None and (level.on_hand, level.reserved) == (4, 0)


def test_sendcloud_outages_are_retried_then_the_parcel_is_announced(stack: LocalStack) -> None:
    httpx.post(f"{control(stack)}/outage", json={"requests": 1, "status": 429}, timeout=10)
    product = make_product(stack, on_hand=5)
    key = stack.order_key("woocommerce", place(stack, "woocommerce", product, 1))
    httpx.post(f"{control(stack)}/outage", json={"requests": 1, "status": 503}, timeout=10)
    parcel = parcel_of(stack, key)
    waiting_for_carrier(stack, key)
    hand_over(stack, parcel["parcel_id"])
    assert finished(stack, key).status == "SUCCEEDED"


def test_a_permanent_carrier_error_fails_visibly_and_a_redrive_completes_it(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    product = make_product(stack, on_hand=5)
    # Sendcloud refuses the next call for good (422, as for an address it cannot deliver to).
    httpx.post(f"{control(stack)}/outage", json={"requests": 1, "status": 422}, timeout=10)
    key = stack.order_key("shopify", place(stack, "shopify", product, 1))
    run = finished(stack, key)
    assert run.status == "FAILED" and run.states[-2:] == ["RecordFailure", "Failed"], run
    _, _, orders = stores(stack)
    order = orders.get(key)
    assert order is not None and order.status.value == "reserved"  # still promised to the buyer
    assert order.history[-1][2].startswith("shipping failed: PermanentError: HTTP 422")
    state = str(stack.write_state(tmp_path / "local.json"))
    assert stack.wait_idle(30)
    capsys.readouterr()  # what background functions printed (EMF metrics): not keel's answer
    assert keel(["--state-file", state, "workflows", "failed", "--json"]) == 0
    failed = json.loads(capsys.readouterr().out)
    assert [(f["order"], f["failed_step"]) for f in failed if f["order"] == key] == [(key, "Ship")]
    # The cause is fixed (the outage is over): redrive, resuming at the step that failed (a new
    # execution from the top locally: the steps before it find their work done).
    assert keel(["--state-file", state, "workflows", "redrive", key, "--json"]) == 0
    redriven = json.loads(capsys.readouterr().out)
    assert redriven["resume_at"] == "Ship" and "RedriveExecution" in redriven["note"]
    # Its latest run is the redriven one, no longer failed: --all-failed leaves it alone.
    assert keel(["--state-file", state, "workflows", "redrive", "--all-failed", "--json"]) == 0
    assert key not in [r["order"] for r in json.loads(capsys.readouterr().out)]
    assert keel(["--state-file", state, "workflows", "redrive"]) == 2  # which one?
    capsys.readouterr()
    parcel = parcel_of(stack, key)
    waiting_for_carrier(stack, key)
    hand_over(stack, parcel["parcel_id"])
    run = finished(stack, key)
    assert run.status == "SUCCEEDED" and run.states == HAPPY_PATH, run
    assert keel(["--state-file", state, "workflows", "show", key, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [e["status"] for e in shown["executions"]] == ["FAILED", "SUCCEEDED"]
    assert shown["shipment"]["state"] == "handed_over"


def channel_lines(stack: LocalStack, channel: str, order_id: str) -> dict[str, int]:
    """SKU -> quantity as the channel's order shows it now."""
    order = stack.sandboxes[channel].order(order_id if channel == "shopify" else int(order_id))  # type: ignore[attr-defined]
    return {
        ln["sku"]: int(ln.get("current_quantity", ln["quantity"]))
        for ln in order["line_items"]
        if int(ln.get("current_quantity", ln["quantity"]))
    }


@pytest.mark.parametrize("channel", ["shopify", "woocommerce"])
def test_an_oversold_order_has_its_short_line_cut_on_the_channel_and_ships_the_rest(
    stack: LocalStack, channel: str
) -> None:
    plenty, short = make_product(stack, on_hand=5), make_product(stack, on_hand=1)
    body = stack.sandboxes[channel].order_body(
        [
            SandboxLine(plenty.refs[channel], plenty.sku, plenty.sku, 2, Decimal("10.00")),
            SandboxLine(short.refs[channel], short.sku, short.sku, 3, Decimal("10.00")),
        ]
    )
    answer = httpx.post(f"{stack.sandbox_url(channel)}/__sandbox/orders", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    order_id = str(answer.json()["id"])
    key = stack.order_key(channel, order_id)
    # Held for stock, then cut on the channel (3 -> 1), the edited order comes back through the
    # webhook, is reserved, and the workflow ships what stayed.
    parcel = parcel_of(stack, key)
    assert channel_lines(stack, channel, order_id) == {plenty.sku: 2, short.sku: 1}
    waiting_for_carrier(stack, key)
    hand_over(stack, parcel["parcel_id"])
    assert finished(stack, key).status == "SUCCEEDED"
    assert stack.wait_idle(30)
    _, inventory, orders = stores(stack)
    order = orders.get(key)
    assert order is not None and order.status.value == "shipped"
    assert [h[1] for h in order.history][:3] == ["held", "reserved", "shipped"]
    levels = [inventory.get(plenty.sku), inventory.get(short.sku)]
    assert [(lv.on_hand, lv.reserved) for lv in levels if lv] == [(3, 0), (0, 0)]
    assert_every_channel_shows_the_derived_quantity(stack, short)


def outage(stack: LocalStack, channel: str, requests: int, status: int = 503) -> None:
    answer = httpx.post(
        f"{stack.sandbox_url(channel)}/__sandbox/outage",
        json={"requests": requests, "status": status},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text


def test_a_confirmation_refused_after_hand_over_leaves_the_stock_committed_and_redrives(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """#19.6: a channel refusing the confirmation failed the workflow with the reservation
    open and on_hand not reduced. #19.7: the redrive then hung in WaitForCarrier (the task
    token answered inside its own invocation was not seen until a heartbeat). #19.8: `keel
    workflows failed` kept listing the order after its redrive succeeded."""
    product = make_product(stack, on_hand=5)
    key = stack.order_key("shopify", place(stack, "shopify", product, 2))
    parcel = parcel_of(stack, key)
    waiting_for_carrier(stack, key)
    assert stack.wait_idle(30)
    outage(stack, "shopify", 1000, 422)  # refused for good until cleared
    hand_over(stack, parcel["parcel_id"])
    run = finished(stack, key)
    assert run.status == "FAILED" and run.states[-4:] == [
        "Commit",
        "Confirm",
        "RecordFailure",
        "Failed",
    ], run
    outage(stack, "shopify", 0)
    _, inventory, orders = stores(stack)
    order = orders.get(key)
    assert order is not None and order.status.value == "shipped"
    level = inventory.get(product.sku)
    assert level is not None and (level.on_hand, level.reserved) == (3, 0)
    state = str(stack.write_state(tmp_path / "local.json"))
    capsys.readouterr()
    assert keel(["--state-file", state, "workflows", "failed", "--json"]) == 0
    failed = json.loads(capsys.readouterr().out)
    assert [f["failed_step"] for f in failed if f["order"] == key] == ["Confirm"]
    assert keel(["--state-file", state, "workflows", "redrive", key, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["resume_at"] == "Confirm"
    started = time.monotonic()
    run = finished(stack, key)
    assert run.status == "SUCCEEDED" and run.states == HAPPY_PATH, run
    assert time.monotonic() - started < 30  # it hung for the heartbeat (3 days) before
    assert any(s["order_id"] == key.rsplit("#", 1)[-1] for s in _shopify_shipments(stack))
    assert keel(["--state-file", state, "workflows", "failed", "--json"]) == 0
    assert [f for f in json.loads(capsys.readouterr().out) if f["order"] == key] == []
    level = inventory.get(product.sku)
    assert level is not None and (level.on_hand, level.reserved) == (3, 0)  # once


def _shopify_shipments(stack: LocalStack) -> list[dict[str, Any]]:
    rows = httpx.get(f"{stack.sandbox_url('shopify')}/__sandbox/shipments", timeout=10).json()
    assert isinstance(rows, list)
    return rows


def test_short_outages_at_the_confirmation_are_outlasted_with_the_stock_committed_first(
    stack: LocalStack,
) -> None:
    product = make_product(stack, on_hand=5)
    key = stack.order_key("woocommerce", place(stack, "woocommerce", product, 1))
    parcel = parcel_of(stack, key)
    waiting_for_carrier(stack, key)
    assert stack.wait_idle(30)
    outage(stack, "woocommerce", 3, 503)
    hand_over(stack, parcel["parcel_id"])
    run = finished(stack, key)
    assert run.status == "SUCCEEDED" and run.states == HAPPY_PATH, run
    _, inventory, _ = stores(stack)
    level = inventory.get(product.sku)
    assert level is not None and (level.on_hand, level.reserved) == (4, 0)


def test_an_edit_after_the_label_cancels_the_parcel_and_ships_the_order_as_it_is_now(
    stack: LocalStack,
) -> None:
    """#19.2: a label booked for 3 shipped an order edited to 1 (and one for 1 shipped 2)."""
    product = make_product(stack, on_hand=5)
    order_id = place(stack, "shopify", product, 3)
    key = stack.order_key("shopify", order_id)
    first = parcel_of(stack, key)
    waiting_for_carrier(stack, key)
    sandbox = shopify(stack)
    edited = sandbox.order(order_id)
    edited["line_items"][0]["current_quantity"] = 1
    edited["updated_at"] = datetime.now(UTC).replace(microsecond=0).isoformat()
    sandbox.remember(edited)
    body = sandbox.encode(edited)
    headers = sandbox.headers(body, topic="orders/updated")
    assert sandbox.deliver(stack.webhook_url_for("shopify"), body, headers).status_code == 200
    second = parcel_of(stack, f"{key}#2")
    rows = httpx.get(f"{control(stack)}/parcels", timeout=10).json()
    assert next(p for p in rows if p["parcel_id"] == first["parcel_id"])["status_id"] == 2000
    waiting_for_carrier(stack, key)
    hand_over(stack, second["parcel_id"])
    run = finished(stack, key)
    assert run.status == "SUCCEEDED", run
    assert run.states[:3] == ["ValidateAndShip", "WaitForCarrier", "Replan"], run
    assert stack.wait_idle(30)
    _, inventory, orders = stores(stack)
    order = orders.get(key)
    assert order is not None and order.status.value == "shipped"
    level = inventory.get(product.sku)
    assert level is not None and (level.on_hand, level.reserved) == (4, 0)
