"""Shopify: signed order webhooks in (and a poll behind them), stock out through Admin GraphQL.
Declared as data here."""

from shared.channels.shopify import signature
from shared.channels.spec import Channel, FromHeader, PollPolicy, SyncPolicy, WebhookReceiver

CHANNEL = Channel(
    name="shopify",
    secret_schema="shared.channels.shopify.secret:ShopifySecret",
    sandbox="local_stack.sandboxes.shopify:ShopifySandbox",
    account_field="shop_domain",
    receiver=WebhookReceiver(
        verify=signature.verify_headers,
        secret_field="webhook_secret",
        delivery_id=FromHeader(signature.WEBHOOK_ID_HEADER),
        topic=FromHeader(signature.TOPIC_HEADER),
        kept_headers=(
            "x-shopify-topic",
            "x-shopify-shop-domain",
            "x-shopify-api-version",
            "x-shopify-webhook-id",
            "x-shopify-event-id",
            "x-shopify-triggered-at",
        ),
        account_header=signature.SHOP_HEADER,
    ),
    # Edits, refunds and fulfilments arrive as orders/updated; without it only the poll sees them.
    subscriptions=(
        "orders/create",
        "orders/updated",
        "orders/cancelled",
        # A hand edit in the admin (quantity, price): the listing is read again and compared.
        "inventory_levels/update",
        "products/update",
    ),
    inbound="shared.channels.shopify.orders:ShopifyOrdersInbound",
    line_item_ref="variant_id",
    news_refs=("inventory_item_id",),  # inventory_levels/update names the item, not the variant
    confirm_shipment="shared.channels.shopify.fulfillment:fulfillment",
    cancel_lines="shared.channels.shopify.oversell:line_canceller",
    outbound_stock="shared.channels.shopify.stock:publisher",
    outbound_prices="shared.channels.shopify.prices:prices",
    read_listings="shared.channels.shopify.listings:listings",
    manage_subscriptions="shared.channels.shopify.webhooks:webhooks",
    # Shopify retries a failed delivery for 4 hours, so the poll is for what is lost for good
    # (retries exhausted, a subscription removed): every 10 minutes, sparing the cost bucket
    # the stock sync needs.
    poll_orders="shared.channels.shopify.poll:poll",
    poll=PollPolicy(rate_minutes=10, overlap_minutes=15),
    reconcile_minutes=15,
    # inventorySetQuantities takes many rows a call; the cost bucket (1000 points, refilled at
    # 50/s on standard plans) is the budget, so two concurrent batches at most. 120 s: a chunk
    # may read, set, re-read and set again, with pacing, for up to three rounds.
    # A batch of up to 1,000 triggers (Lambda takes up to 10,000 with a window) is one SKU per
    # trigger at most: <= 4 calls, and a backlog of repeated triggers collapses into one.
    sync=SyncPolicy(
        batch_size=1000,
        max_batching_window_s=1,
        rows_per_call=250,  # inventorySetQuantities' quantities
        timeout_s=120,
        max_concurrency=2,
    ),
)
