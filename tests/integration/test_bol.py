"""bol.com through Keel's handlers (moto) against its sandbox on a local port: signed thin pushes
(keys fetched from the sandbox), orders fetched in ingest, cancellation requests accepted, the
poll, stock with process statuses (SUCCESS, FAILURE, TIMEOUT) and shipment confirmation."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import httpx
import pytest

import functions.webhook.handler as webhook_module
from functions.ingest.handler import handler as ingest
from functions.poll.handler import handler as poll
from functions.sync.handler import handler as sync
from local_stack.http import LocalHttpServer
from local_stack.resources import Provisioned
from local_stack.sandboxes.base import SandboxLine
from local_stack.sandboxes.bol import BolSandbox
from shared.channels.bol.client import forget_tokens
from shared.channels.bol.fulfillment import fulfillment
from shared.channels.bol.secret import BolSecret
from shared.channels.errors import NothingToDo
from shared.channels.port import ShipmentConfirmation
from shared.channels.registry import BY_NAME
from shared.domain.inventory import Movement, MovementCause
from shared.domain.listings import Listing
from shared.domain.orders import OrderStatus
from shared.messages import SyncListing, sync_message
from shared.runtime import reset as reset_runtime
from shared.settings import FUNCTION_ENV
from shared.stores.catalog import CatalogStore
from shared.stores.inventory import InventoryStore
from shared.stores.orders import OrderStore
from tests.integration.conftest import context, drain, sqs_event
from tests.integration.test_webhook_edges import gateway_event

NOW_REF = "po-bol"


@pytest.fixture
def bol(deployed: Provisioned, monkeypatch: pytest.MonkeyPatch) -> Iterator[BolSandbox]:
    # Checks without their delays (SQS would hold them 1 s, 5 s, ...); the same count of them.
    spec = BY_NAME["bol"]
    undelayed = tuple(0 for _ in spec.sync.confirm_delays_s)
    policy = dataclasses.replace(spec.sync, confirm_delays_s=undelayed)
    monkeypatch.setitem(BY_NAME, "bol", dataclasses.replace(spec, sync=policy))
    reset_runtime()
    sandbox = BolSandbox()
    sandbox.process_delay_s = 0.0
    server = LocalHttpServer("bol-sandbox", sandbox)
    server.start()
    boto3.client("secretsmanager").put_secret_value(
        SecretId=deployed.secrets["bol"], SecretString=json.dumps(sandbox.keel_secret(server.url))
    )
    webhook_module._keys.cache_clear()
    forget_tokens()
    yield sandbox
    server.stop()
    forget_tokens()
    reset_runtime()


@pytest.fixture
def listed(bol: BolSandbox, catalog: CatalogStore, inventory: InventoryStore) -> dict[str, str]:
    catalog.put_product("MUG", "Mug")
    refs = bol.add_listing("MUG", "Mug", Decimal("12.50"), 40)
    catalog.put_listing(Listing("MUG", "bol", refs), lookup_refs=("offer_id", "sku"))
    inventory.receive(
        Movement("MUG", MovementCause.RECEIPT, 5, NOW_REF, "test", _now()), safety_stock=0
    )
    return refs


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def on(channel: str, handler: Any, event: dict[str, Any], name: str) -> Any:
    token = FUNCTION_ENV.set({"KEEL_CHANNEL": channel})
    try:
        return handler(event, context(name))
    finally:
        FUNCTION_ENV.reset(token)


def push_body(bol: BolSandbox, order_id: str, kind: str = "NEW") -> bytes:
    return json.dumps(
        {
            "retailerId": int(bol.retailer_id),
            "timestamp": "2026-11-28T10:00:00+01:00",
            "event": {"resource": "ORDER", "type": kind, "resourceId": order_id},
        },
        separators=(",", ":"),
    ).encode()


def deliver(raw: bytes, signature: str) -> int:
    event = gateway_event(raw, {"signature": signature, "Content-Type": "application/json"}, "bol")
    return int(webhook_module.handler(event, context("webhook"))["statusCode"])


def ingest_all(sqs: Any, deployed: Provisioned) -> list[str]:
    messages = drain(sqs, deployed.queue_urls["ingest"])
    if not messages:
        return []
    result = ingest(sqs_event(*[m["Body"] for m in messages]), context("ingest"))
    assert result == {"batchItemFailures": []}
    return [m["Body"] for m in messages]


# --- signatures ---


def test_a_signed_push_is_verified_with_the_channels_key_and_enqueued_once(
    deployed: Provisioned, bol: BolSandbox, sqs: Any
) -> None:
    raw = push_body(bol, "1100000001")
    assert deliver(raw, bol.sign(raw)) == 200
    assert deliver(raw, bol.sign(raw)) == 200  # bol's retry of the same push: a duplicate
    (message,) = drain(sqs, deployed.queue_urls["ingest"])
    assert json.loads(message["Body"])["topic"] == "ORDER"


@pytest.mark.parametrize("forgery", ["wrong-key-id", "re-serialized", "tampered", "no-header"])
def test_bad_signatures_are_refused_and_nothing_is_stored(
    deployed: Provisioned, bol: BolSandbox, sqs: Any, forgery: str
) -> None:
    raw = push_body(bol, "1100000001")
    signature = bol.sign(raw)
    if forgery == "wrong-key-id":
        signature = signature.replace("keyId=0", "keyId=7")
    elif forgery == "re-serialized":
        raw = json.dumps(json.loads(raw), indent=1).encode()  # same JSON, other bytes
    elif forgery == "tampered":
        raw = raw.replace(b"1100000001", b"1100000002")
    else:
        signature = ""
    assert deliver(raw, signature) == 401
    assert drain(sqs, deployed.queue_urls["ingest"]) == []
    assert boto3.client("dynamodb").scan(TableName=deployed.tables["deliveries"])["Items"] == []


def test_an_unknown_key_id_makes_one_refetch(
    deployed: Provisioned, bol: BolSandbox, sqs: Any
) -> None:
    raw = push_body(bol, "1100000001")
    assert deliver(raw, bol.sign(raw)) == 200
    fetched = sum(1 for _, path, _ in bol.requests if path.endswith("signature-keys"))
    bol.rotate_keys()  # bol signs with a new key the webhook has not seen
    other = push_body(bol, "1100000002")
    assert deliver(other, bol.sign(other)) == 200
    forged = push_body(bol, "1100000003")
    assert deliver(forged, bol.sign(forged).replace(f"keyId={bol.key_id}", "keyId=99")) == 401
    refetches = sum(1 for _, path, _ in bol.requests if path.endswith("signature-keys")) - fetched
    assert refetches == 2  # the rotation's, and one for the forged id
    again = push_body(bol, "1100000004")
    assert deliver(again, bol.sign(again).replace(f"keyId={bol.key_id}", "keyId=99")) == 401
    assert sum(1 for _, path, _ in bol.requests if path.endswith("signature-keys")) - fetched == 2
    bol.rotate_keys()  # a second rotation within the refetch interval is picked up too
    last = push_body(bol, "1100000005")
    assert deliver(last, bol.sign(last)) == 200
    assert len(drain(sqs, deployed.queue_urls["ingest"])) == 3


# --- deliveries that cannot become orders end held with a reason (issue #19.4) ---


@pytest.mark.parametrize(
    "order_id", ["11000\u0000001", "1100/../../x", "1" * 100_000], ids=["control", "path", "long"]
)
def test_a_signed_push_naming_an_id_no_url_can_carry_is_held_with_the_reason(
    deployed: Provisioned, bol: BolSandbox, sqs: Any, orders: OrderStore, order_id: str
) -> None:
    """It raised httpx.InvalidURL in ingest: retried 5 times, then dead-lettered with no
    reason and no log line."""
    raw = push_body(bol, order_id)
    assert deliver(raw, bol.sign(raw)) == 200
    assert ingest_all(sqs, deployed)
    (held,) = orders.held_deliveries()
    assert "not an order id" in held.reason
    assert not any(path.startswith("/retailer/orders/") for _, path, _ in bol.requests)


def test_a_signed_push_nested_thousands_deep_is_accepted_and_held(
    deployed: Provisioned, bol: BolSandbox, sqs: Any, orders: OrderStore
) -> None:
    """It answered 502 (RecursionError reading its topic) and bol gave up: lost."""
    raw = b'{"retailerId": %s, "event": ' % bol.retailer_id.encode()
    raw += b"[" * 5000 + b"]" * 5000 + b"}"
    assert deliver(raw, bol.sign(raw)) == 200
    assert ingest_all(sqs, deployed)
    (held,) = orders.held_deliveries()
    assert held.reason.startswith("unparseable")


def test_a_delivery_failing_on_its_last_receive_is_dead_lettered_with_its_error(
    deployed: Provisioned, bol: BolSandbox, sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import functions.ingest.handler as ingest_module

    raw = push_body(bol, "1100000001")
    assert deliver(raw, bol.sign(raw)) == 200
    (message,) = drain(sqs, deployed.queue_urls["ingest"])

    def broken(*_: Any) -> Any:
        raise RuntimeError("the store is on fire")

    monkeypatch.setattr(ingest_module, "take_delivery", broken)
    event = sqs_event(message["Body"])
    assert ingest(event, context("ingest"))["batchItemFailures"]  # retried while receives last
    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = "5"
    assert ingest(event, context("ingest")) == {"batchItemFailures": []}
    (dead,) = drain(sqs, deployed.dlq_urls["ingest"])
    assert dead["Body"] == message["Body"]
    attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert attributes == {"error_class": "RuntimeError", "error_message": "the store is on fire"}


# --- orders in ---


def place(bol: BolSandbox, refs: dict[str, str], qty: int, notify: bool = False) -> str:
    body = bol.order_body([SandboxLine(refs, "MUG", "Mug", qty, Decimal("12.50"))])
    return bol.place_order(body, notify=notify)


def test_reordered_and_duplicate_pushes_end_in_the_orders_current_state(
    deployed: Provisioned,
    bol: BolSandbox,
    listed: dict[str, str],
    sqs: Any,
    orders: OrderStore,
    inventory: InventoryStore,
) -> None:
    order_id = place(bol, listed, 2)
    bol.request_cancellation(order_id, notify=False)
    changed, new = push_body(bol, order_id, "CHANGED"), push_body(bol, order_id, "NEW")
    for raw in (changed, new, changed):  # the later event first, then a repeat
        assert deliver(raw, bol.sign(raw)) == 200
    ingest_all(sqs, deployed)
    order = orders.get(f"bol#{bol.retailer_id}#{order_id}")
    assert order is not None and order.status is OrderStatus.CANCELLED
    level = inventory.get("MUG")
    assert level is not None and level.reserved == 0
    bol._settle()
    item = bol.orders[order_id]["orderItems"][0]
    assert item["quantityCancelled"] == 2  # accepted on bol, once
    cancels = [r for r in bol.requests if r[1] == "/retailer/orders/cancellation"]
    assert len(cancels) == 1


def test_a_pushed_order_is_fetched_and_reserved(
    deployed: Provisioned,
    bol: BolSandbox,
    listed: dict[str, str],
    sqs: Any,
    orders: OrderStore,
    inventory: InventoryStore,
) -> None:
    order_id = place(bol, listed, 2)
    raw = push_body(bol, order_id)
    assert deliver(raw, bol.sign(raw)) == 200
    ingest_all(sqs, deployed)
    order = orders.get(f"bol#{bol.retailer_id}#{order_id}")
    assert order is not None and order.status is OrderStatus.RESERVED
    assert order.lines[0].sku == "MUG"
    level = inventory.get("MUG")
    assert level is not None and level.reserved == 2


def test_the_poll_finds_an_order_whose_push_never_arrived(
    deployed: Provisioned,
    bol: BolSandbox,
    listed: dict[str, str],
    orders: OrderStore,
) -> None:
    order_id = place(bol, listed, 1, notify=False)
    result = on("bol", poll, {}, "poll-bol")
    assert result["missed_by_webhooks"] == [f"bol#{bol.retailer_id}#{order_id}"]
    order = orders.get(f"bol#{bol.retailer_id}#{order_id}")
    assert order is not None and order.status is OrderStatus.RESERVED
    again = on("bol", poll, {}, "poll-bol")
    assert again["missed_by_webhooks"] == []  # the watermark and the order key: once


# --- stock out ---


def run_sync(*bodies: str) -> Any:
    return on("bol", sync, sqs_event(*bodies), "sync-bol")


def confirm_until_done(sqs: Any, queue: str, rounds: int = 10) -> list[str]:
    """Run the delayed checks the sync queued (as SQS would, without waiting their delay)."""
    seen: list[str] = []
    for _ in range(rounds):
        messages = drain(sqs, queue)
        if not messages:
            break
        seen.extend(m["Body"] for m in messages)
        time.sleep(0.01)
        assert run_sync(*[m["Body"] for m in messages]) == {"batchItemFailures": []}
    return seen


def test_stock_is_pending_until_the_process_status_says_success(
    deployed: Provisioned,
    bol: BolSandbox,
    listed: dict[str, str],
    catalog: CatalogStore,
    sqs: Any,
) -> None:
    queue = deployed.queue_urls["sync-bol"]
    bol.process_delay_s = 60.0  # bol has not processed it yet
    assert run_sync(SyncListing(channel="bol", sku="MUG").model_dump_json()) == {
        "batchItemFailures": []
    }
    (check,) = drain(sqs, queue)
    assert catalog.shown("MUG", "bol") is None
    assert catalog.pending("MUG", "bol") == (5, sync_message(check["Body"]).reference)  # type: ignore[union-attr]
    put = next(r for r in bol.requests if r[0] == "PUT")
    assert put[2] == 202
    assert run_sync(check["Body"]) == {"batchItemFailures": []}  # still PENDING: checks again
    (again,) = drain(sqs, queue)
    assert catalog.shown("MUG", "bol") is None
    bol.process_delay_s = 0.0
    for process in bol.processes.values():
        process.due = 0.0
    assert run_sync(again["Body"]) == {"batchItemFailures": []}
    assert catalog.shown("MUG", "bol") == 5
    assert next(r["quantity"] for r in bol.shown() if r["listing_id"] == listed["offer_id"]) == 5


def test_a_quantity_above_999_is_shown_as_999(
    deployed: Provisioned,
    bol: BolSandbox,
    listed: dict[str, str],
    inventory: InventoryStore,
    catalog: CatalogStore,
    sqs: Any,
) -> None:
    inventory.receive(Movement("MUG", MovementCause.RECEIPT, 2000, "po-big", "test", _now()))
    run_sync(SyncListing(channel="bol", sku="MUG").model_dump_json())
    confirm_until_done(sqs, deployed.queue_urls["sync-bol"])
    assert catalog.shown("MUG", "bol") == 999
    assert next(r["quantity"] for r in bol.shown() if r["listing_id"] == listed["offer_id"]) == 999
    # More stock changes nothing bol can show: a trigger that only says so sends nothing.
    puts = sum(1 for r in bol.requests if r[0] == "PUT")
    inventory.receive(Movement("MUG", MovementCause.RECEIPT, 5, "po-more", "test", _now()))
    run_sync(SyncListing(channel="bol", sku="MUG", stock_moved=True).model_dump_json())
    assert sum(1 for r in bol.requests if r[0] == "PUT") == puts


def test_the_checks_of_one_batch_read_every_process_status_in_one_call(
    deployed: Provisioned,
    bol: BolSandbox,
    listed: dict[str, str],
    catalog: CatalogStore,
    inventory: InventoryStore,
    sqs: Any,
) -> None:
    skus = ["MUG", "CUP", "PLATE"]
    for sku in skus[1:]:
        refs = bol.add_listing(sku, sku, Decimal("5.00"), 0)
        catalog.put_listing(Listing(sku, "bol", refs), lookup_refs=("offer_id", "sku"))
        inventory.receive(Movement(sku, MovementCause.RECEIPT, 4, f"po-{sku}", "test", _now()))
    run_sync(*(SyncListing(channel="bol", sku=sku).model_dump_json() for sku in skus))
    checks = drain(sqs, deployed.queue_urls["sync-bol"])
    assert len(checks) == 3
    before = len(bol.requests)
    assert run_sync(*(m["Body"] for m in checks)) == {"batchItemFailures": []}
    assert [(m, p) for m, p, _ in bol.requests[before:]] == [("POST", "/shared/process-status")]
    assert {sku: catalog.shown(sku, "bol") for sku in skus} == {"MUG": 5, "CUP": 4, "PLATE": 4}


@pytest.mark.parametrize("ending", ["FAILURE", "TIMEOUT"])
def test_a_failed_process_is_published_again_then_dead_lettered(
    deployed: Provisioned,
    bol: BolSandbox,
    listed: dict[str, str],
    catalog: CatalogStore,
    sqs: Any,
    ending: str,
) -> None:
    bol.fail_processes(3, ending, "Offer is not for sale")
    run_sync(SyncListing(channel="bol", sku="MUG").model_dump_json())
    seen = confirm_until_done(sqs, deployed.queue_urls["sync-bol"])
    puts = [r for r in bol.requests if r[0] == "PUT"]
    assert len(puts) == 3  # the first publish and two more (publish_attempts = 3)
    assert sum('"attempt":' in b and "kind" not in b for b in seen) == 2
    (dead,) = drain(sqs, deployed.dlq_urls["sync-bol"])
    reason = dead["MessageAttributes"]["error_message"]["StringValue"]
    assert ending in reason and "Offer is not for sale" in reason
    assert catalog.shown("MUG", "bol") is None
    assert catalog.pending("MUG", "bol") is None  # never applied: no longer in flight


# --- shipments ---


def test_a_shipment_is_confirmed_once_even_after_a_lost_answer(
    deployed: Provisioned, bol: BolSandbox, listed: dict[str, str], sqs: Any, orders: OrderStore
) -> None:
    order_id = place(bol, listed, 2)
    raw = push_body(bol, order_id)
    deliver(raw, bol.sign(raw))
    ingest_all(sqs, deployed)
    order = orders.get(f"bol#{bol.retailer_id}#{order_id}")
    assert order is not None
    secret = BolSecret.model_validate(
        json.loads(
            boto3.client("secretsmanager").get_secret_value(SecretId=deployed.secrets["bol"])[
                "SecretString"
            ]
        )
    )
    tell = fulfillment(secret, httpx.Client())
    tell._sleep = lambda s: None
    shipment = ShipmentConfirmation(
        "PostNL", "3SKEEL000001", None, tuple((ln.line_id, ln.quantity) for ln in order.lines)
    )
    tell.confirm_shipment(order, shipment)
    with pytest.raises(NothingToDo):  # a retry after the answer was lost
        tell.confirm_shipment(order, shipment)
    assert bol.shipments() == [
        {
            "order_id": order_id,
            "tracking_number": "3SKEEL000001",
            "carrier": "TNT",
            "shipment_reference": f"keel-{order_id}",
        }
    ]
