"""Each handler with its real event shape, against moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx
from botocore.exceptions import ClientError

from functions.ingest.handler import handler as ingest
from functions.relay.handler import handler as relay
from functions.sync.handler import handler as sync
from functions.webhook.handler import handler as webhook
from local_stack.resources import Provisioned
from local_stack.sandboxes.shopify import SandboxLine, ShopifySandbox
from shared.domain.inventory import Movement, MovementCause
from shared.domain.listings import Listing, ListingRules
from shared.messages import SyncListing
from shared.settings import FUNCTION_ENV
from shared.stores.catalog import CatalogStore
from shared.stores.inventory import InventoryStore
from shared.stores.orders import OrderStore
from tests.integration.conftest import (
    SECRETS,
    SHOPIFY_SECRET,
    WOO_BASE,
    context,
    drain,
    sqs_event,
)

NOW = datetime(2026, 11, 27, tzinfo=UTC)
shopify = ShopifySandbox(SHOPIFY_SECRET)


def sync_woo(event: dict[str, Any], ctx: Any) -> Any:
    """The generic sync, configured as the wiring configures sync-woocommerce."""
    token = FUNCTION_ENV.set({"KEEL_CHANNEL": "woocommerce"})
    try:
        return sync(event, ctx)
    finally:
        FUNCTION_ENV.reset(token)


def api_event(body: bytes, headers: dict[str, str], channel: str = "shopify") -> dict[str, Any]:
    return {
        "resource": "/webhooks/{channel}",
        "path": f"/webhooks/{channel}",
        "httpMethod": "POST",
        "headers": headers,
        "pathParameters": {"channel": channel},
        "body": body.decode(),
        "isBase64Encoded": False,
        "requestContext": {"stage": "test"},
    }


def an_order_body(qty: int = 1) -> bytes:
    return shopify.encode(
        shopify.order_payload([SandboxLine(44, "MUG", "Mug", qty, Decimal("12.50"))])
    )


def seed(catalog: CatalogStore, inventory: InventoryStore, on_hand: int = 5) -> None:
    catalog.put_product("MUG", "Mug")
    catalog.put_listing(
        Listing("MUG", "shopify", {"variant_id": "44"}), lookup_refs=("variant_id",)
    )
    catalog.put_listing(
        Listing("MUG", "woocommerce", {"product_id": "501"}, ListingRules(buffer=1))
    )
    inventory.receive(
        Movement("MUG", MovementCause.RECEIPT, on_hand, "po", "test", NOW), safety_stock=0
    )


# --- webhook ---


def test_webhook_enqueues_then_marks_seen_and_acks_duplicates(
    deployed: Provisioned, sqs: Any, db: Any
) -> None:
    body = an_order_body()
    headers = shopify.headers(body, webhook_id="wh-1")
    assert webhook(api_event(body, headers), context("webhook"))["statusCode"] == 200
    second = webhook(api_event(body, headers), context("webhook"))
    assert second["statusCode"] == 200 and "duplicate" in second["body"]
    (message,) = drain(sqs, deployed.queue_urls["ingest"])
    envelope = json.loads(message["Body"])
    assert envelope["body"].encode() == body  # the exact bytes, for ingest to parse
    assert envelope["delivery_id"] == "wh-1" and envelope["topic"] == "orders/create"
    seen = db.get_item(TableName=deployed.tables["deliveries"], Key={"pk": {"S": "shopify#wh-1"}})
    assert "expires_at" in seen["Item"]


def test_bad_signature_is_401_and_stores_nothing(deployed: Provisioned, sqs: Any, db: Any) -> None:
    body = an_order_body()
    headers = shopify.headers(body, webhook_id="wh-2", signature="AAAA")
    assert webhook(api_event(body, headers), context("webhook"))["statusCode"] == 401
    assert drain(sqs, deployed.queue_urls["ingest"]) == []
    assert db.scan(TableName=deployed.tables["deliveries"])["Items"] == []


def test_unknown_channel_is_404_and_missing_delivery_id_is_400(deployed: Provisioned) -> None:
    body = an_order_body()
    assert webhook(api_event(body, {}, "etsy"), context("webhook"))["statusCode"] == 404
    headers = shopify.headers(body)
    del headers["X-Shopify-Webhook-Id"]
    assert webhook(api_event(body, headers), context("webhook"))["statusCode"] == 400


def test_a_delivery_that_cannot_be_enqueued_is_not_marked_seen(
    deployed: Provisioned, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Otherwise Shopify's retry would be acknowledged as a duplicate and the order lost."""
    monkeypatch.setenv("INGEST_QUEUE_URL", deployed.queue_urls["ingest"] + "-gone")
    from functions.webhook import handler as module

    module._door.cache_clear()
    body = an_order_body()
    with pytest.raises(Exception, match=r"NonExistentQueue|does not exist"):
        webhook(api_event(body, shopify.headers(body, webhook_id="wh-3")), context("webhook"))
    assert db.scan(TableName=deployed.tables["deliveries"])["Items"] == []
    module._door.cache_clear()


# --- ingest ---


def envelope(body: bytes, delivery_id: str) -> str:
    return json.dumps(
        {
            "channel": "shopify",
            "delivery_id": delivery_id,
            "topic": "orders/create",
            "received_at": NOW.isoformat(),
            "headers": {"x-shopify-topic": "orders/create"},
            "body": body.decode(),
        }
    )


def test_ingest_reserves_holds_unreadable_bodies_and_reports_only_real_failures(
    catalog: CatalogStore, inventory: InventoryStore, orders: OrderStore
) -> None:
    seed(catalog, inventory)
    event = sqs_event(
        envelope(an_order_body(2), "d1"),
        envelope(b'{"id": 5, "line_items": [', "d2"),
        "this is not Keel's envelope",
    )
    result = ingest(event, context("ingest"))
    assert result == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    (order,) = orders.orders()
    assert order.status.value == "reserved" and order.lines[0].sku == "MUG"
    assert inventory.get("MUG").reserved == 2  # type: ignore[union-attr]
    (held,) = orders.held_deliveries()
    assert held.delivery_id == "d2" and held.raw_body == '{"id": 5, "line_items": ['


def test_ingest_twice_reserves_once(
    catalog: CatalogStore, inventory: InventoryStore, orders: OrderStore
) -> None:
    seed(catalog, inventory)
    body = an_order_body(3)
    ingest(sqs_event(envelope(body, "d1")), context("ingest"))
    ingest(sqs_event(envelope(body, "d2")), context("ingest"))
    assert inventory.get("MUG").reserved == 3  # type: ignore[union-attr]
    assert len(orders.orders()) == 1


def test_ingest_holds_an_order_it_cannot_reserve(
    catalog: CatalogStore, inventory: InventoryStore, orders: OrderStore
) -> None:
    seed(catalog, inventory, on_hand=1)
    ingest(sqs_event(envelope(an_order_body(2), "d1")), context("ingest"))
    (order,) = orders.orders()
    assert order.status.value == "held" and order.hold_reason == "insufficient stock: MUG"
    assert inventory.get("MUG").reserved == 0  # type: ignore[union-attr]


# --- relay ---


def stream_record(seq: int, old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    from shared.stores.items import to_item

    dynamodb: dict[str, Any] = {
        "Keys": to_item({"pk": new["pk"], "sk": new["sk"]}),
        "NewImage": to_item(new),
        "SequenceNumber": str(seq),
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if old:
        dynamodb["OldImage"] = to_item(old)
    return {
        "eventID": str(seq),
        "eventName": "MODIFY" if old else "INSERT",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": dynamodb,
    }


def level(reservable: int, reserved: int = 0) -> dict[str, Any]:
    return {
        "pk": "SKU#MUG",
        "sk": "LEVEL",
        "sku": "MUG",
        "on_hand": 5,
        "reserved": reserved,
        "safety_stock": 0,
        "reservable": reservable,
        "version": 1,
    }


def test_relay_triggers_a_sync_only_when_available_stock_changes(
    deployed: Provisioned, catalog: CatalogStore, inventory: InventoryStore, sqs: Any
) -> None:
    seed(catalog, inventory)
    event = {
        "Records": [
            stream_record(1, level(5), level(4, 1)),  # available 5 -> 4: sync
            stream_record(2, level(4, 1), {**level(4, 1), "version": 2}),  # no change
            stream_record(3, None, {"pk": "SKU#MUG", "sk": "MOVE#x", "sku": "MUG"}),  # ledger
        ]
    }
    assert relay(event, context("relay")) == {"batchItemFailures": []}
    (message,) = drain(sqs, deployed.queue_urls["sync-woocommerce"])
    assert SyncListing.model_validate_json(message["Body"]) == SyncListing(
        channel="woocommerce",
        sku="MUG",
        stock_moved=True,  # skipped if the channel shows it
    )


def test_relay_sends_a_batchs_triggers_per_queue_ten_to_a_request(
    deployed: Provisioned, catalog: CatalogStore, inventory: InventoryStore, sqs: Any
) -> None:
    skus = [f"CUP-{n:02}" for n in range(12)]
    for sku in skus:
        catalog.put_listing(Listing(sku, "woocommerce", {"product_id": sku}))
        catalog.put_listing(Listing(sku, "shopify", {"variant_id": sku}))

    def change(n: int, sku: str) -> dict[str, Any]:
        before = {**level(5), "pk": f"SKU#{sku}", "sku": sku}
        return stream_record(n, before, {**before, "reservable": 4, "reserved": 1})

    sends: list[str] = []
    from shared.aws import client

    client("sqs").meta.events.register(
        "before-call.sqs", lambda event_name, **_: sends.append(event_name.rsplit(".", 1)[-1])
    )
    event = {"Records": [change(n, sku) for n, sku in enumerate(skus, 1)]}
    assert relay(event, context("relay")) == {"batchItemFailures": []}
    assert sorted(sends) == ["SendMessageBatch"] * 4  # 12 triggers per queue: 10 + 2, two queues
    for channel in ("woocommerce", "shopify"):
        bodies = drain(sqs, deployed.queue_urls[f"sync-{channel}"])
        got = [SyncListing.model_validate_json(m["Body"]) for m in bodies]
        assert sorted(t.sku for t in got) == skus
        assert all(t.channel == channel and t.stock_moved for t in got)
        assert all(m["MessageAttributes"]["channel"]["StringValue"] == channel for m in bodies)


def test_a_trigger_not_sent_fails_the_record_it_came_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared import trigger_outbox
    from shared.trigger_outbox import TriggerOutbox

    class Sqs:
        def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> Any:
            if QueueUrl == "down":
                raise ClientError({"Error": {"Code": "InternalError"}}, "SendMessageBatch")
            return {"Failed": [{"Id": e["Id"]} for e in Entries if "B" in e["MessageBody"]]}

    outbox = TriggerOutbox()
    outbox.add("1", "up", SyncListing(channel="shopify", sku="A"))
    outbox.add("2", "up", SyncListing(channel="shopify", sku="B"))  # refused entry
    outbox.add("3", "down", SyncListing(channel="bol", sku="A"))  # the whole request failed
    outbox.add("4", "up", SyncListing(channel="shopify", sku="C"))
    monkeypatch.setattr(trigger_outbox, "client", lambda service: Sqs())
    assert outbox.flush() == {"2", "3"}
    assert outbox.flush() == set()  # what was flushed is not sent again


def test_the_relay_fails_the_records_whose_triggers_were_not_sent(
    deployed: Provisioned,
    catalog: CatalogStore,
    inventory: InventoryStore,
    sqs: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared import trigger_outbox
    from shared.aws import client

    seed(catalog, inventory)  # MUG on Shopify and WooCommerce
    real = client("sqs")

    class ShopifyDown:
        def send_message_batch(self, QueueUrl: str, **kwargs: Any) -> Any:
            if QueueUrl == deployed.queue_urls["sync-shopify"]:
                raise ClientError({"Error": {"Code": "InternalError"}}, "SendMessageBatch")
            return real.send_message_batch(QueueUrl=QueueUrl, **kwargs)

    monkeypatch.setattr(trigger_outbox, "client", lambda service: ShopifyDown())
    event = {"Records": [stream_record(7, level(5), level(4, 1))]}
    assert relay(event, context("relay")) == {"batchItemFailures": [{"itemIdentifier": "7"}]}
    assert len(drain(sqs, deployed.queue_urls["sync-woocommerce"])) == 1  # sent: harmless again


# --- sync ---


def woo_answer(request: httpx.Request) -> httpx.Response:
    items = json.loads(request.content)["update"]
    return httpx.Response(200, json={"update": items})


@respx.mock
def test_sync_publishes_the_canonical_quantity_once_per_sku(
    deployed: Provisioned, catalog: CatalogStore, inventory: InventoryStore
) -> None:
    seed(catalog, inventory, on_hand=5)  # buffer 1 -> 4
    route = respx.post(f"{WOO_BASE}/wp-json/wc/v3/products/batch").mock(side_effect=woo_answer)
    trigger = SyncListing(channel="woocommerce", sku="MUG").model_dump_json()
    assert sync_woo(sqs_event(trigger, trigger), context("sync-woocommerce")) == {
        "batchItemFailures": []
    }
    assert route.call_count == 1
    assert json.loads(route.calls.last.request.content)["update"] == [
        {"id": 501, "manage_stock": True, "stock_quantity": 4}
    ]


@respx.mock
def test_sync_retries_outages_and_dead_letters_permanent_errors_with_context(
    deployed: Provisioned, catalog: CatalogStore, inventory: InventoryStore, sqs: Any
) -> None:
    seed(catalog, inventory)
    trigger = SyncListing(channel="woocommerce", sku="MUG").model_dump_json()
    route = respx.post(f"{WOO_BASE}/wp-json/wc/v3/products/batch")

    route.mock(return_value=httpx.Response(503, json={"code": "down", "message": "down"}))
    assert sync_woo(sqs_event(trigger), context("sync-woocommerce")) == {
        "batchItemFailures": [{"itemIdentifier": "m0"}]
    }
    assert drain(sqs, deployed.dlq_urls["sync-woocommerce"]) == []

    route.mock(
        return_value=httpx.Response(
            200,
            json={
                "update": [
                    {
                        "id": 501,
                        "error": {
                            "code": "woocommerce_rest_product_invalid_id",
                            "message": "Invalid ID.",
                            "data": {"status": 400},
                        },
                    }
                ]
            },
        )
    )
    assert sync_woo(sqs_event(trigger), context("sync-woocommerce")) == {"batchItemFailures": []}
    (dead,) = drain(sqs, deployed.dlq_urls["sync-woocommerce"])
    attrs = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert attrs["error_class"] == "PermanentError"
    assert "invalid_id" in attrs["error_message"]
    assert attrs["sku"] == "MUG" and dead["Body"] == trigger


def test_sync_ignores_skus_not_listed_on_woocommerce(
    deployed: Provisioned, catalog: CatalogStore, inventory: InventoryStore, sqs: Any
) -> None:
    trigger = SyncListing(channel="woocommerce", sku="UNLISTED").model_dump_json()
    assert sync_woo(sqs_event(trigger), context("sync-woocommerce")) == {"batchItemFailures": []}
    assert drain(sqs, deployed.dlq_urls["sync-woocommerce"]) == []


@respx.mock
def test_sync_honours_retry_after_on_429(
    deployed: Provisioned, catalog: CatalogStore, inventory: InventoryStore, sqs: Any
) -> None:
    seed(catalog, inventory)
    url = deployed.queue_urls["sync-woocommerce"]
    sqs.send_message(
        QueueUrl=url, MessageBody=SyncListing(channel="woocommerce", sku="MUG").model_dump_json()
    )
    (message,) = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]
    event = sqs_event(message["Body"])
    event["Records"][0]["receiptHandle"] = message["ReceiptHandle"]
    respx.post(f"{WOO_BASE}/wp-json/wc/v3/products/batch").mock(
        return_value=httpx.Response(429, headers={"Retry-After": "30"}, json={"code": "slow"})
    )
    result = sync_woo(event, context("sync-woocommerce"))
    assert result == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []  # hidden for >= 30 s


def test_an_unfilled_secret_fails_loudly_instead_of_rejecting_signatures(
    deployed: Provisioned, sqs: Any, db: Any
) -> None:
    """A 5xx makes Shopify retry once the operator fills the secret; a 401 would not."""
    from shared import secret_cache

    boto3_sm = __import__("boto3").client("secretsmanager")
    boto3_sm.put_secret_value(SecretId=deployed.secrets["shopify"], SecretString="{}")
    secret_cache.clear()
    body = an_order_body()
    # Either field may be the first found missing (the shop names the account to verify with).
    with pytest.raises(
        RuntimeError, match=r"secret for shopify has no '(webhook_secret|shop_domain)'"
    ):
        webhook(api_event(body, shopify.headers(body)), context("webhook"))
    assert drain(sqs, deployed.queue_urls["ingest"]) == []
    secret_cache.clear()


@pytest.mark.parametrize(
    ("moved_by", "published", "unsettled"),
    [
        (-2, [4, 2], False),  # a sale: it may show stock that is gone, so again at once
        (3, [4], True),  # a receipt: it shows less than there is; the next batch sends it
    ],
)
def test_a_publisher_that_read_stock_before_a_change_does_not_have_the_last_word(
    catalog: CatalogStore,
    inventory: InventoryStore,
    moved_by: int,
    published: list[int],
    unsettled: bool,
) -> None:
    """Two sync consumers can overlap; the one that read first must not have the last word:
    it publishes again, or leaves the SKU `unsettled` (its caller queues a trigger that always
    sends)."""
    from shared.channels.port import StockResult, StockUpdate
    from shared.services.stock_sync import publish_stock

    seed(catalog, inventory, on_hand=5)  # buffer 1 -> 4

    class ConcurrentChange:
        channel = "woocommerce"

        def __init__(self) -> None:
            self.published: list[int] = []

        def set_stock(self, items: Any) -> list[StockResult]:
            updates: list[StockUpdate] = list(items)
            self.published.extend(u.quantity for u in updates)
            if len(self.published) == 1:  # stock moves while the first publish is under way
                if moved_by > 0:
                    movement = Movement("MUG", MovementCause.RECEIPT, moved_by, "po-2", "t", NOW)
                    inventory.receive(movement)
                else:
                    cause = MovementCause.ADJUSTMENT
                    inventory.remove(Movement("MUG", cause, moved_by, "count", "t", NOW))
            return [StockResult(u.listing) for u in updates]

    publisher = ConcurrentChange()
    outcome = publish_stock(["MUG"], publisher, catalog, inventory, now=lambda: NOW)["MUG"]
    assert publisher.published == published
    assert (outcome.quantity, outcome.unsettled) == (published[-1], unsettled)


def test_a_large_body_travels_through_s3_byte_exact(
    deployed: Provisioned,
    sqs: Any,
    catalog: CatalogStore,
    inventory: InventoryStore,
    orders: OrderStore,
) -> None:
    """SQS takes 1 MiB and escapes inflate JSON: big bodies go to S3, the message carries a key."""
    seed(catalog, inventory)
    payload = shopify.order_payload([SandboxLine(44, "MUG", "Mug", 1, Decimal("12.50"))])
    payload["note"] = "日本語のメモ " * 20_000  # ~400 KB of non-ASCII text
    body = json.dumps(payload, ensure_ascii=False).encode()
    assert webhook(api_event(body, shopify.headers(body)), context("webhook"))["statusCode"] == 200
    (message,) = drain(sqs, deployed.queue_urls["ingest"])
    envelope = json.loads(message["Body"])
    assert envelope["body"] == "" and envelope["body_ref"].startswith("shopify/")
    stored = (
        boto3_client("s3")
        .get_object(Bucket=deployed.buckets["raw-bodies"], Key=envelope["body_ref"])["Body"]
        .read()
    )
    assert stored == body
    assert ingest(sqs_event(message["Body"]), context("ingest")) == {"batchItemFailures": []}
    assert [o.external_id for o in orders.orders()] == [str(payload["id"])]


def test_a_large_unparseable_body_is_held_by_reference(
    deployed: Provisioned, sqs: Any, orders: OrderStore
) -> None:
    body = b'{"id": 9, "line_items": "' + b"x" * 600_000 + b'"}'
    assert webhook(api_event(body, shopify.headers(body)), context("webhook"))["statusCode"] == 200
    (message,) = drain(sqs, deployed.queue_urls["ingest"])
    assert ingest(sqs_event(message["Body"]), context("ingest")) == {"batchItemFailures": []}
    (held,) = orders.held_deliveries()
    assert held.raw_body == "" and held.body_ref == json.loads(message["Body"])["body_ref"]


def boto3_client(service: str) -> Any:
    import boto3

    return boto3.client(service)


def use_shop_currency(deployed: Provisioned, currency: str) -> None:
    from shared import secret_cache

    secret = {**SECRETS["shopify"], "currency": currency}
    boto3_client("secretsmanager").put_secret_value(
        SecretId=deployed.secrets["shopify"], SecretString=json.dumps(secret)
    )
    secret_cache.clear()


def test_the_spec_sample_matches_listings_by_sku_when_it_has_no_variant_ids(
    deployed: Provisioned,
    catalog: CatalogStore,
    inventory: InventoryStore,
    orders: OrderStore,
    specs: Any,
) -> None:
    """Shopify's published sample has variant_id null on every line: the SKU fallback path."""
    sample = json.loads((specs / "shopify/webhooks/orders_cancelled.sample.json").read_bytes())
    sample["cancelled_at"] = None  # the sample is cancelled; here it is a live order
    body = json.dumps(sample).encode()
    use_shop_currency(deployed, sample["currency"])  # the sample shop sells in USD
    for line in sample["line_items"]:
        sku = f"K-{line['sku']}"
        catalog.put_product(sku, line["title"])
        catalog.put_listing(Listing(sku, "shopify", {"sku": line["sku"]}), lookup_refs=("sku",))
        inventory.receive(Movement(sku, MovementCause.RECEIPT, 2, "po", "t", NOW), safety_stock=0)
    assert ingest(sqs_event(envelope(body, "spec-1")), context("ingest")) == {
        "batchItemFailures": []
    }
    (order,) = orders.orders()
    assert order.status.value == "reserved"
    assert [ln.sku for ln in order.lines] == [f"K-{ln['sku']}" for ln in sample["line_items"]]


def test_a_channel_id_cannot_silently_move_to_another_sku(catalog: CatalogStore) -> None:
    from shared.stores.catalog import RefAlreadyMapped

    catalog.put_listing(Listing("A", "shopify", {"variant_id": "1"}), lookup_refs=("variant_id",))
    catalog.put_listing(Listing("A", "shopify", {"variant_id": "1"}), lookup_refs=("variant_id",))
    with pytest.raises(RefAlreadyMapped):
        catalog.put_listing(
            Listing("B", "shopify", {"variant_id": "1"}), lookup_refs=("variant_id",)
        )
    assert catalog.find_sku("shopify", "variant_id", "1") == "A"


# --- credential rotation ---


def woo_secret(deployed: Provisioned, **changes: str) -> None:
    from shared import secret_cache

    boto3_client("secretsmanager").put_secret_value(
        SecretId=deployed.secrets["woocommerce"],
        SecretString=json.dumps({**SECRETS["woocommerce"], **changes}),
    )
    secret_cache.clear()


@respx.mock
def test_a_rotated_credential_is_picked_up_without_losing_the_sync(
    deployed: Provisioned, catalog: CatalogStore, inventory: InventoryStore, sqs: Any
) -> None:
    """The cached secret still holds the old key when the shop starts refusing it: the sync
    re-reads the secret at once and publishes with the new one."""
    seed(catalog, inventory, on_hand=5)
    new_auth = httpx.BasicAuth("ck_new", "cs_it")._auth_header

    def shop(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] != new_auth:
            return httpx.Response(401, json={"code": "woocommerce_rest_authentication_error"})
        return woo_answer(request)

    route = respx.post(f"{WOO_BASE}/wp-json/wc/v3/products/batch").mock(side_effect=shop)
    trigger = SyncListing(channel="woocommerce", sku="MUG").model_dump_json()
    assert sync_woo(sqs_event(trigger), context("sync-woocommerce")) == {
        "batchItemFailures": [{"itemIdentifier": "m0"}]  # the shop refuses the only key it has
    }
    # The operator rotates the key; the function's cache (5 min) still holds the old one.
    boto3_client("secretsmanager").put_secret_value(
        SecretId=deployed.secrets["woocommerce"],
        SecretString=json.dumps({**SECRETS["woocommerce"], "consumer_key": "ck_new"}),
    )
    assert sync_woo(sqs_event(trigger), context("sync-woocommerce")) == {"batchItemFailures": []}
    assert route.calls.last.request.headers["authorization"] == new_auth
    assert drain(sqs, deployed.dlq_urls["sync-woocommerce"]) == []


@respx.mock
def test_a_credential_refused_on_every_receive_ends_in_the_dlq_as_auth(
    deployed: Provisioned, catalog: CatalogStore, inventory: InventoryStore, sqs: Any
) -> None:
    seed(catalog, inventory)
    respx.post(f"{WOO_BASE}/wp-json/wc/v3/products/batch").mock(
        return_value=httpx.Response(403, json={"code": "forbidden", "message": "no"})
    )
    trigger = SyncListing(channel="woocommerce", sku="MUG").model_dump_json()
    url = deployed.queue_urls["sync-woocommerce"]
    for receive in (1, 2, 3):
        sqs.send_message(QueueUrl=url, MessageBody=trigger)
        (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
        event = sqs_event(trigger)
        event["Records"][0]["receiptHandle"] = message["ReceiptHandle"]
        event["Records"][0]["attributes"]["ApproximateReceiveCount"] = str(receive)
        result = sync_woo(event, context("sync-woocommerce"))
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if receive < 3:
            assert result == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert result == {"batchItemFailures": []}
    (dead,) = drain(sqs, deployed.dlq_urls["sync-woocommerce"])
    attrs = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert attrs["error_class"] == "AuthError" and attrs["error_message"].startswith("auth:")


# --- what a hostile but validly signed body becomes ---


def order_with(**changes: Any) -> bytes:
    payload = shopify.order_payload([SandboxLine(44, "MUG", "Mug", 5, Decimal("12.50"))])
    for path, value in changes.items():
        target: Any = payload
        keys = path.split("__")
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target[key]
        target[keys[-1]] = value
    return json.dumps(payload).encode()


@pytest.mark.parametrize(
    ("body", "held_as"),
    [
        (order_with(line_items__0__quantity=10**39 + 1), "delivery"),
        (order_with(line_items__0__quantity=True), "delivery"),
        (order_with(line_items__0__price_set__shop_money__amount="1E+999999999"), "delivery"),
        (
            order_with(
                currency="USD",
                total_price_set__shop_money__currency_code="USD",
                current_total_price_set__shop_money__currency_code="USD",
            ),
            "order",
        ),
        (
            order_with(
                total_price_set__shop_money__amount="0.01",
                current_total_price_set__shop_money__amount="0.01",
            ),
            "order",
        ),
        (order_with(line_items__0__price_set__shop_money__amount="-12.50"), "either"),
    ],
    ids=["huge-quantity", "bool-quantity", "huge-price", "usd-in-eur-shop", "total", "negative"],
)
def test_implausible_signed_orders_are_held_with_a_reason_never_reserved(
    catalog: CatalogStore,
    inventory: InventoryStore,
    orders: OrderStore,
    body: bytes,
    held_as: str,
) -> None:
    seed(catalog, inventory, on_hand=50)
    assert ingest(sqs_event(envelope(body, "hostile")), context("ingest")) == {
        "batchItemFailures": []
    }
    assert inventory.get("MUG").reserved == 0  # type: ignore[union-attr]
    held_orders = [o for o in orders.orders() if o.status.value == "held"]
    held_deliveries = orders.held_deliveries()
    assert len(held_orders) + len(held_deliveries) == 1
    if held_as == "order":
        assert "implausible order" in (held_orders[0].hold_reason or "")
    elif held_as == "delivery":
        assert "unparseable" in held_deliveries[0].reason


def test_an_800_line_order_is_stored_not_lost(
    catalog: CatalogStore, inventory: InventoryStore, orders: OrderStore
) -> None:
    seed(catalog, inventory, on_hand=1000)
    lines = [
        SandboxLine(44, "MUG", f"Mug {n:04d} " + "with a long engraving text " * 9, 1, Decimal("1"))
        for n in range(800)
    ]
    body = shopify.encode(shopify.order_payload(lines))
    assert len(body) > 400_000
    assert ingest(sqs_event(envelope(body, "big")), context("ingest")) == {"batchItemFailures": []}
    (order,) = orders.orders()
    assert order.status.value == "reserved" and len(order.lines) == 800
    assert inventory.get("MUG").reserved == 800  # type: ignore[union-attr]


def test_log_keys_stay_with_their_own_delivery_under_concurrency(
    deployed: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local stack runs invocations of one function on several threads: a hold reason must
    never be logged under another delivery's keys."""
    import logging
    import threading

    import functions.ingest.handler as module

    lines: list[dict[str, Any]] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(self.format(record)))

    collect = Collect()
    collect.setFormatter(module.logger.registered_formatter)
    python_logger = logging.getLogger(module.logger.name)
    python_logger.addHandler(collect)
    module.logger.setLevel(logging.INFO)
    try:
        barrier = threading.Barrier(6)

        def run(n: int) -> None:
            barrier.wait()
            body = json.dumps(
                {
                    "channel": f"unknown{n}",
                    "delivery_id": f"delivery-{n}",
                    "topic": "t",
                    "received_at": NOW.isoformat(),
                    "body": "{}",
                }
            )
            for _ in range(5):
                ingest(sqs_event(body), context("ingest"))

        threads = [threading.Thread(target=run, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        python_logger.removeHandler(collect)
        module.logger.setLevel(logging.ERROR)
    held = [line for line in lines if line.get("message") == "delivery held"]
    assert len(held) == 30
    for line in held:
        n = line["channel"].removeprefix("unknown")
        assert line["delivery_id"] == f"delivery-{n}"
        assert f"'unknown{n}'" in line["reason"]
