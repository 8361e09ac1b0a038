"""The webhook edge against everything a channel can sign, as API Gateway hands it over."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from functions.ingest.handler import handler as ingest
from functions.webhook.handler import handler as webhook
from local_stack.resources import Provisioned
from shared.channels.shopify.signature import sign as shopify_sign
from shared.channels.woocommerce.signature import sign as woo_sign
from shared.stores.orders import OrderStore
from tests.integration.conftest import SECRETS, SHOP_DOMAIN, context, drain, sqs_event


def gateway_event(raw: bytes, headers: dict[str, str], channel: str) -> dict[str, Any]:
    """What API Gateway sends with binaryMediaTypes */*: every body base64-encoded."""
    return {
        "resource": "/webhooks/{channel}",
        "path": f"/webhooks/{channel}",
        "httpMethod": "POST",
        "headers": headers,
        "pathParameters": {"channel": channel},
        "body": base64.b64encode(raw).decode(),
        "isBase64Encoded": True,
        "requestContext": {"stage": "test"},
    }


def shopify_headers(raw: bytes, **extra: str) -> dict[str, str]:
    return {
        "X-Shopify-Hmac-Sha256": shopify_sign(SECRETS["shopify"]["webhook_secret"], raw),
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Webhook-Id": "wh-edge",
        "X-Shopify-Shop-Domain": SHOP_DOMAIN,
        **extra,
    }


@pytest.mark.parametrize(
    "raw",
    [
        '{"note": "\ufffe\uffff"}'.encode(),  # SQS refuses these characters unescaped
        b'{"note": "\xff\xfe not UTF-8"}',
        b'{"note": "\x00\x01 control characters"}',
        '{"note": "emoji \U0001f6a2 and CJK \u65e5\u672c"}'.encode(),
    ],
    ids=["nonchars", "not-utf8", "controls", "astral"],
)
def test_every_signed_body_travels_to_ingest_byte_exact(
    deployed: Provisioned, sqs: Any, raw: bytes
) -> None:
    response = webhook(gateway_event(raw, shopify_headers(raw), "shopify"), context("webhook"))
    assert response["statusCode"] == 200
    (message,) = drain(sqs, deployed.queue_urls["ingest"])
    envelope = json.loads(message["Body"])
    assert envelope["body"].encode(envelope["body_encoding"]) == raw


def test_a_signed_delivery_from_another_shop_is_refused_and_stores_nothing(
    deployed: Provisioned, sqs: Any, db: Any
) -> None:
    raw = b'{"id": 1}'
    headers = shopify_headers(raw, **{"X-Shopify-Shop-Domain": "other-shop.myshopify.com"})
    response = webhook(gateway_event(raw, headers, "shopify"), context("webhook"))
    assert response["statusCode"] == 403
    assert drain(sqs, deployed.queue_urls["ingest"]) == []
    assert db.scan(TableName=deployed.tables["deliveries"])["Items"] == []


def test_a_huge_webhook_id_is_bounded_before_anything_is_written(
    deployed: Provisioned, sqs: Any, db: Any
) -> None:
    raw = b'{"id": 1}'
    headers = shopify_headers(raw, **{"X-Shopify-Webhook-Id": "x" * 5000})
    assert webhook(gateway_event(raw, headers, "shopify"), context("webhook"))["statusCode"] == 200
    (seen,) = db.scan(TableName=deployed.tables["deliveries"])["Items"]
    assert len(seen["pk"]["S"]) < 100
    (message,) = drain(sqs, deployed.queue_urls["ingest"])
    assert json.loads(message["Body"])["delivery_id"].startswith("sha256:")
    # the same id again is a duplicate, not a second enqueue
    assert webhook(gateway_event(raw, headers, "shopify"), context("webhook"))["statusCode"] == 200
    assert drain(sqs, deployed.queue_urls["ingest"]) == []


def woo_headers(raw: bytes, delivery: str = "d1", **extra: str) -> dict[str, str]:
    return {
        "X-WC-Webhook-Signature": woo_sign(SECRETS["woocommerce"]["webhook_secret"], raw),
        "X-WC-Webhook-Topic": "order.created",
        "X-WC-Webhook-Resource": "order",
        "X-WC-Webhook-Event": "created",
        "X-WC-Webhook-ID": "27",
        "X-WC-Webhook-Delivery-ID": delivery,
        "X-WC-Webhook-Source": SECRETS["woocommerce"]["base_url"] + "/",
        **extra,
    }


def test_woocommerce_ping_is_answered_and_stores_nothing(
    deployed: Provisioned, sqs: Any, db: Any
) -> None:
    ping = gateway_event(
        b"webhook_id=27", {"Content-Type": "application/x-www-form-urlencoded"}, "woocommerce"
    )
    assert webhook(ping, context("webhook"))["statusCode"] == 200
    assert drain(sqs, deployed.queue_urls["ingest"]) == []
    assert db.scan(TableName=deployed.tables["deliveries"])["Items"] == []
    unsigned = gateway_event(b'{"id": 5}', {"X-WC-Webhook-Topic": "order.created"}, "woocommerce")
    assert webhook(unsigned, context("webhook"))["statusCode"] == 401


def test_woocommerce_retries_with_new_delivery_ids_reserve_once(
    deployed: Provisioned, sqs: Any, orders: OrderStore, specs: Any
) -> None:
    """Delivery ids are not stable across WooCommerce retries: the order's key dedupes."""
    raw = (specs / "woocommerce/webhooks/order_created.body.json").read_bytes().strip()
    sample = json.loads(raw)
    secret = {**SECRETS["woocommerce"], "currency": sample["currency"]}
    __import__("boto3").client("secretsmanager").put_secret_value(
        SecretId=deployed.secrets["woocommerce"], SecretString=json.dumps(secret)
    )
    from shared import secret_cache

    secret_cache.clear()
    for delivery in ("first", "retry"):
        event = gateway_event(raw, woo_headers(raw, delivery), "woocommerce")
        assert webhook(event, context("webhook"))["statusCode"] == 200
    messages = drain(sqs, deployed.queue_urls["ingest"])
    assert len(messages) == 2
    assert ingest(sqs_event(*(m["Body"] for m in messages)), context("ingest")) == {
        "batchItemFailures": []
    }
    (order,) = orders.orders()
    assert order.key == f"woocommerce#shop.example.com#{sample['id']}"
    assert order.status.value == "held"  # its products are not in this catalog
    assert "unmatched line" in (order.hold_reason or "")
