"""Handlers and stores against moto in-process, provisioned from the same wiring as AWS."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_stack.lambda_runtime import LambdaContext, LambdaRuntime
from local_stack.resources import Provisioned, provision
from shared.stores.catalog import CatalogStore
from shared.stores.intake import OrderIntakeStore
from shared.stores.inventory import InventoryStore
from shared.stores.orders import OrderStore
from shared.wiring import WIRING

SHOPIFY_SECRET = "integration-secret"
WOO_BASE = "https://shop.example.com"
SHOP_DOMAIN = "keel-demo.myshopify.com"  # the Shopify sandbox's default shop
SHOPIFY_ADMIN = "https://keel-demo.myshopify.com"
SECRETS = {
    "shopify": {
        "webhook_secret": SHOPIFY_SECRET,
        "shop_domain": SHOP_DOMAIN,
        "access_token": "shpat_it",
        "currency": "EUR",
        "api_base_url": "",
    },
    "woocommerce": {
        "base_url": WOO_BASE,
        "consumer_key": "ck_it",
        "consumer_secret": "cs_it",
        "webhook_secret": "wc_it",
        "currency": "EUR",
    },
}


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Provisioned]:
    runtime = LambdaRuntime(WIRING.functions, "eu-west-1", "123456789012")
    with mock_aws():
        resources = provision(
            WIRING,
            "it",
            None,
            secret_values=SECRETS,
        )
        for key, value in resources.function_env().items():
            monkeypatch.setenv(key, value)
        runtime.cold_start()
        yield resources
    runtime.cold_start()


@pytest.fixture
def db(deployed: Provisioned) -> Any:
    return boto3.client("dynamodb")


@pytest.fixture
def sqs(deployed: Provisioned) -> Any:
    return boto3.client("sqs")


@pytest.fixture
def catalog(deployed: Provisioned, db: Any) -> CatalogStore:
    return CatalogStore(deployed.tables["catalog"], db)


@pytest.fixture
def inventory(deployed: Provisioned, db: Any) -> InventoryStore:
    return InventoryStore(deployed.tables["inventory"], db)


@pytest.fixture
def orders(deployed: Provisioned, db: Any) -> OrderStore:
    return OrderStore(deployed.tables["orders"], db)


@pytest.fixture
def intake(deployed: Provisioned, db: Any) -> OrderIntakeStore:
    orders = OrderStore(deployed.tables["orders"], db)
    return OrderIntakeStore(orders, InventoryStore(deployed.tables["inventory"], db), db)


def context(name: str) -> LambdaContext:
    return LambdaContext(
        function_name=f"keel-{name}",
        memory_limit_in_mb=256,
        invoked_function_arn=f"arn:aws:lambda:eu-west-1:123456789012:function:keel-{name}",
    )


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", []):
        messages.extend(batch)
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(batch)
            ],
        )
    return messages


def sqs_event(*bodies: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m{n}",
                "receiptHandle": f"r{n}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:q",
                "awsRegion": "eu-west-1",
            }
            for n, body in enumerate(bodies)
        ]
    }


assert os.environ.get("AWS_ENDPOINT_URL") is None, "integration tests use moto in-process"
