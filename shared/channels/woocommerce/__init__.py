"""WooCommerce: signed order webhooks in, stock out through REST v3. Declared as data here."""

from shared.channels.spec import Channel, FromHeader, PollPolicy, SyncPolicy, WebhookReceiver
from shared.channels.woocommerce import signature

CHANNEL = Channel(
    name="woocommerce",
    secret_schema="shared.channels.woocommerce.secret:WooSecret",
    sandbox="local_stack.sandboxes.woocommerce:WooCommerceSandbox",
    account_field="base_url",
    receiver=WebhookReceiver(
        verify=signature.verify_headers,
        secret_field="webhook_secret",
        # Not stable across retries of one event: the order's business key dedupes (ingest).
        delivery_id=FromHeader(signature.DELIVERY_ID_HEADER),
        topic=FromHeader(signature.TOPIC_HEADER),
        kept_headers=(
            "x-wc-webhook-topic",
            "x-wc-webhook-resource",
            "x-wc-webhook-event",
            "x-wc-webhook-id",
            "x-wc-webhook-delivery-id",
            "x-wc-webhook-source",
        ),
        account_header=signature.SOURCE_HEADER,
        is_ping=signature.is_ping,
    ),
    # product.updated: a hand edit in wp-admin; the listing is read again and compared.
    subscriptions=("order.created", "order.updated", "order.deleted", "product.updated"),
    inbound="shared.channels.woocommerce.orders:WooOrdersInbound",
    # `order.deleted` carries only the id: the order is read again (trashed) or has ended.
    fetch_order="shared.channels.woocommerce.poll:fetch_order",
    line_item_ref="item_id",
    confirm_shipment="shared.channels.woocommerce.fulfillment:fulfillment",
    cancel_lines="shared.channels.woocommerce.oversell:line_canceller",
    outbound_stock="shared.channels.woocommerce.stock:publisher",
    outbound_prices="shared.channels.woocommerce.prices:prices",
    read_listings="shared.channels.woocommerce.listings:listings",
    manage_subscriptions="shared.channels.woocommerce.webhooks:webhooks",
    # WooCommerce never retries a failed delivery: the poll is how a lost order still lands.
    poll_orders="shared.channels.woocommerce.poll:poll",
    poll=PollPolicy(rate_minutes=5, overlap_minutes=15),
    reconcile_minutes=15,
    # Batch endpoints take <= 100 items; shared hosting is the budget: two batches at a time.
    # <= 500 triggers a batch: <= 5 batch calls, a backlog of repeated triggers collapsing.
    sync=SyncPolicy(
        batch_size=500,
        max_batching_window_s=1,
        rows_per_call=100,  # products/batch and variations/batch take <= 100 updates
        timeout_s=60,
        max_concurrency=2,
    ),
)
