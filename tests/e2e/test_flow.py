"""Foundation I, end to end: signed Shopify orders in, stock reserved, WooCommerce updated."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from keel_cli.main import main as keel
from local_stack.stack import LocalStack, stores
from shared.domain.listings import ListingRules, channel_quantity
from tests.e2e.conftest import Product, make_product, shopify, shows, woo

pytestmark = pytest.mark.e2e


def send(stack: LocalStack, product: Product, qty: int = 1, **headers: str) -> tuple[int, int]:
    payload = shopify(stack).order_payload([product.line(qty)])
    body = shopify(stack).encode(payload)
    response = shopify(stack).deliver(
        stack.webhook_url_for("shopify"), body, shopify(stack).headers(body, **headers)
    )
    return response.status_code, payload["id"]


def reserved(stack: LocalStack, sku: str) -> int:
    _, inventory, _ = stores(stack)
    level = inventory.get(sku)
    return level.reserved if level else 0


def test_woocommerce_is_brought_in_line_before_any_order(
    stack: LocalStack, product: Product
) -> None:
    assert woo(stack).stock_of(product.woo_id) == 3  # was 50 in the shop
    assert shows(stack, "shopify", product.variant_id) == 3


def test_duplicate_delivery_reserves_once(stack: LocalStack, product: Product) -> None:
    payload = shopify(stack).order_payload([product.line(2)])
    body = shopify(stack).encode(payload)
    headers = shopify(stack).headers(body)
    statuses = [
        shopify(stack).deliver(stack.webhook_url_for("shopify"), body, headers).status_code
        for _ in range(3)
    ]
    replay = shopify(stack).deliver(
        stack.webhook_url_for("shopify"), body, shopify(stack).headers(body)
    )
    assert statuses == [200, 200, 200] and replay.status_code == 200
    assert stack.wait_idle(30)
    assert reserved(stack, product.sku) == 2
    _, _, orders = stores(stack)
    assert [o.external_id for o in orders.orders()].count(str(payload["id"])) == 1


def test_bad_signature_is_401_and_nothing_is_stored(stack: LocalStack, product: Product) -> None:
    status, order_id = send(stack, product, signature="c2lnbmF0dXJl")
    assert status == 401
    assert stack.wait_idle(30)
    _, _, orders = stores(stack)
    assert orders.get(stack.order_key("shopify", order_id)) is None
    assert reserved(stack, product.sku) == 0


def test_unparseable_signed_body_is_accepted_and_held(stack: LocalStack) -> None:
    body = b'{"id": 77, "name": "#77", "line_items": [{"id": "not-a-number"}]}'
    headers = shopify(stack).headers(body, webhook_id="unparseable-1")
    assert (
        shopify(stack).deliver(stack.webhook_url_for("shopify"), body, headers).status_code == 200
    )
    assert stack.wait_idle(30)
    _, _, orders = stores(stack)
    held = [h for h in orders.held_deliveries() if h.delivery_id == "unparseable-1"]
    assert len(held) == 1
    assert held[0].raw_body.encode() == body
    assert "unparseable" in held[0].reason


def test_last_unit_race_reserves_exactly_one(stack: LocalStack) -> None:
    lamp = make_product(stack, on_hand=1)
    results: list[tuple[int, int]] = []
    threads = [threading.Thread(target=lambda: results.append(send(stack, lamp))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [status for status, _ in results] == [200] * 4
    assert stack.wait_idle(30)
    _, inventory, orders = stores(stack)
    keys = [stack.order_key("shopify", oid) for _, oid in results]
    statuses = sorted(orders.get(key).status.value for key in keys)
    assert statuses == ["held", "held", "held", "reserved"]
    level = inventory.get(lamp.sku)
    assert level is not None and (level.reserved, level.available) == (1, 0)
    assert woo(stack).stock_of(lamp.woo_id) == 0


def test_woocommerce_ends_equal_to_the_derived_quantity(stack: LocalStack) -> None:
    rules = ListingRules(buffer=1, cap=5)
    item = make_product(stack, on_hand=9, rules=rules)
    assert woo(stack).stock_of(item.woo_id) == 5  # capped
    for qty in (2, 3):
        assert send(stack, item, qty)[0] == 200
    assert stack.wait_idle(30)
    _, inventory, _ = stores(stack)
    level = inventory.get(item.sku)
    assert level is not None and level.available == 4
    assert woo(stack).stock_of(item.woo_id) == channel_quantity(4, rules) == 3


def test_woocommerce_outage_ends_in_retries_then_the_right_value(
    stack: LocalStack, product: Product
) -> None:
    before = len(woo(stack).requests)
    woo(stack).fail_next(3, 503)
    assert send(stack, product, 2)[0] == 200
    assert stack.wait_idle(60)
    statuses = [r.status for r in woo(stack).requests[before:]]
    assert statuses[:3] == [503, 503, 503] and statuses[-1] == 200
    assert woo(stack).stock_of(product.woo_id) == 1
    assert stack.queue_depths()["sync-woocommerce-dlq"] == 0


def test_a_poison_message_ends_in_the_dead_letter_queue(stack: LocalStack) -> None:
    assert stack.resources is not None
    sqs = stack.client("sqs")
    sqs.send_message(QueueUrl=stack.resources.queue_urls["ingest"], MessageBody="not an envelope")
    assert stack.wait_idle(60)
    dead = sqs.receive_message(
        QueueUrl=stack.resources.dlq_urls["ingest"], MaxNumberOfMessages=10
    ).get("Messages", [])
    assert [m["Body"] for m in dead] == ["not an envelope"]


def test_unknown_route_is_404(stack: LocalStack) -> None:
    assert httpx.post(f"{stack.gateway_server.url}/nope", content=b"{}").status_code == 404


def test_cli_reads_orders_and_stock_from_the_running_stack(
    stack: LocalStack, product: Product, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, order_id = send(stack, product, 1)
    assert stack.wait_idle(30)
    state = stack.write_state(tmp_path / "local.json")
    assert keel(["--state-file", str(state), "orders", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert str(order_id) in [o["external_id"] for o in listed["orders"]]
    assert keel(["--state-file", str(state), "stock", "show", product.sku, "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["on_hand"], row["reserved"], row["available"]) == (3, 1, 2)
    woo_listing = next(x for x in row["listings"] if x["channel"] == "woocommerce")
    assert woo_listing == {
        "channel": "woocommerce",
        "ids": product.refs["woocommerce"],
        "derived_quantity": 2,
        # #27: the account and marketplace it sells in (the contract's fields are unchanged)
        "account": stack.account("woocommerce"),
        "marketplace": "",
        "countries": [],
        "label": "woocommerce",
    }
    assert keel(["--state-file", str(tmp_path / "missing.json"), "orders", "list"]) == 2
    assert "no local stack running" in capsys.readouterr().err


def test_moto_lambda_invoke_runs_the_real_handler(stack: LocalStack) -> None:
    """The in-process Lambda hook: what moto's Lambda (and later Step Functions) invokes."""
    body = b'{"id": 1}'
    event = {
        "resource": "/webhooks/{channel}",
        "path": "/webhooks/shopify",
        "httpMethod": "POST",
        "headers": shopify(stack).headers(body, signature="bm9wZQ=="),
        "pathParameters": {"channel": "shopify"},
        "body": body.decode(),
        "isBase64Encoded": False,
    }
    response = stack.client("lambda").invoke(
        FunctionName=stack.function_arns["webhook"], Payload=json.dumps(event).encode()
    )
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read())["statusCode"] == 401


def test_a_stream_batch_the_relay_keeps_failing_is_parked_not_lost(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As Lambda's on-failure destination: after the retries, the batch's coordinates are kept."""
    import functions.relay.handler as relay
    from shared.domain.inventory import Movement, MovementCause

    original = relay.record_handler

    def failing(record: Any, outbox: Any) -> int:
        if "PARKED" in str(record.dynamodb.keys if record.dynamodb else ""):
            raise RuntimeError("relay cannot reach its queue")
        return original(record, outbox)

    monkeypatch.setattr(relay, "record_handler", failing)
    _, inventory, _ = stores(stack)
    inventory.receive(
        Movement("PARKED-1", MovementCause.RECEIPT, 2, "po", "e2e", datetime.now(UTC)),
        safety_stock=0,
    )
    assert stack.wait_idle(30)
    assert stack.resources is not None
    (parked,) = stack.client("sqs").receive_message(
        QueueUrl=stack.resources.stream_failure_urls["relay"]
    )["Messages"]
    info = json.loads(parked["Body"])
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"
    batch = info["DDBStreamBatchInfo"]
    assert batch["streamArn"] == stack.resources.stream_arns["inventory"]
    assert int(batch["startSequenceNumber"]) <= int(batch["endSequenceNumber"])


def test_failures_are_not_lost_when_deliveries_arrive_concurrently(stack: LocalStack) -> None:
    """50 good orders and 5 poison messages from 8 threads: every order reserved once, and
    every poison message in the DLQ (a processor shared by concurrent invocations lost them)."""
    from concurrent.futures import ThreadPoolExecutor

    assert stack.resources is not None
    sqs = stack.client("sqs")
    item = make_product(stack, on_hand=200)
    ingest_url = stack.resources.queue_urls["ingest"]

    def deliver(n: int) -> int:
        if n % 11 == 5:  # poison interleaved with the good ones, so batches overlap
            sqs.send_message(QueueUrl=ingest_url, MessageBody=f"poison {n // 11}")
            return 200
        return send(stack, item, 1)[0]

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(deliver, range(55)))
    assert statuses == [200] * 55
    assert stack.wait_idle(120)
    dead: list[str] = []
    while batch := sqs.receive_message(
        QueueUrl=stack.resources.dlq_urls["ingest"], MaxNumberOfMessages=10
    ).get("Messages", []):
        dead.extend(m["Body"] for m in batch)
        for m in batch:
            sqs.delete_message(
                QueueUrl=stack.resources.dlq_urls["ingest"], ReceiptHandle=m["ReceiptHandle"]
            )
    assert sorted(b for b in dead if b.startswith("poison")) == sorted(
        f"poison {n}" for n in range(5)
    )
    assert reserved(stack, item.sku) == 50
