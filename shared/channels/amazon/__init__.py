"""Amazon (Selling Partner API): ORDER_CHANGE notifications on an SQS queue and a searchOrders
poll in, listings patched (or fed) out, shipments confirmed. Declared as data here."""

from shared.channels.spec import Channel, FromBody, PollPolicy, QueueReceiver, SyncPolicy

# Amazon's notification service: the AWS account SP-API's docs name as the principal that
# sends to a seller's queue, with SendMessage and GetQueueAttributes.
SP_API_NOTIFICATIONS_ACCOUNT = "437568002678"

CHANNEL = Channel(
    name="amazon",
    secret_schema="shared.channels.amazon.secret:AmazonSecret",
    sandbox="local_stack.sandboxes.amazon:AmazonSandbox",
    # The seller: Amazon order ids are unique per seller across its marketplaces. The
    # marketplace is in every listing's refs (the same seller SKU in two marketplaces is two
    # listings, matched by `marketplace_sku`) and in the secret, which the poll reads.
    account_field="seller_id",
    # An ORDER_CHANGE names its seller (one queue serves every seller Keel has a secret for).
    account_in_body=FromBody(("Payload", "OrderChangeNotification", "SellerId")),
    queue_receiver=QueueReceiver(
        senders=(SP_API_NOTIFICATIONS_ACCOUNT,),
        sender_actions=("sqs:SendMessage", "sqs:GetQueueAttributes"),
        delivery_id=FromBody(("NotificationMetadata", "NotificationId")),
        topic=FromBody(("NotificationType",)),
    ),
    # SP-API notification types, to the notifications queue (offers: the repricer)
    # The quantity change: a hand edit in Seller Central; the listing is read again and compared.
    subscriptions=("ORDER_CHANGE", "ANY_OFFER_CHANGED", "LISTINGS_ITEM_MFN_QUANTITY_CHANGE"),
    inbound="shared.channels.amazon.notifications:AmazonNotificationsInbound",
    fetch_order="shared.channels.amazon.orders:fetch_order",
    line_item_ref="marketplace_sku",
    # One seller sells in several marketplaces of a region: a seller SKU's quantity is one
    # number there (`fulfillment_availability` names no marketplace), its listings share it.
    marketplace_fields=("marketplace_id", "marketplace_ids"),
    # SP-API's marketplace ids (docs: "Marketplace IDs"), Europe's and North America's.
    marketplace_names=(
        ("A1PA6795UKMFR9", "de"),
        ("A1805IZSGTT6HS", "nl"),
        ("AMEN7PMS3EDWL", "be"),
        ("A13V1IB3VIYZZH", "fr"),
        ("APJ6JRA9NG5V4", "it"),
        ("A1RKKUPIHCS9HS", "es"),
        ("A1F83G8C2ARO7P", "uk"),
        ("A2NODRKZP88ZB9", "se"),
        ("A1C3SOZRARQ6R3", "pl"),
        ("A33AVAJ2PDY3EV", "tr"),
        ("ATVPDKIKX0DER", "us"),
        ("A2EUQ1WTGCTBG2", "ca"),
        ("A1AM78C64UM0Y8", "mx"),
    ),
    outbound_stock="shared.channels.amazon.stock:publisher",
    outbound_prices="shared.channels.amazon.prices:prices",
    offer_changes="shared.channels.amazon.notifications:AmazonOfferChanges",
    offer_ref="asin",
    estimate_fees="shared.channels.amazon.fees:fees",
    read_listings="shared.channels.amazon.listings:listings",
    manage_subscriptions="shared.channels.amazon.subscriptions:subscriptions",
    confirm_shipment="shared.channels.amazon.shipments:fulfillment",
    poll_orders="shared.channels.amazon.poll:poll",
    # searchOrders refills one call every 3 minutes: every 10 minutes leaves the burst for
    # catching up after an outage.
    poll=PollPolicy(rate_minutes=10, overlap_minutes=15),
    reconcile_minutes=60,
    # patchListingsItem: 5 calls/s, burst 5; batches above stock.FEED_THRESHOLD go as a feed.
    # One listing a patch (a feed carries many, but takes minutes: for bursts only).
    sync=SyncPolicy(
        batch_size=50,
        max_batching_window_s=1,
        # Rises of a SKU still changing wait until it is quiet (falls never): each listing is
        # its own call here, so a burst of receipts costs one call per SKU, not one per batch.
        hold_quiet_s=2,
        max_hold_s=5,
        rows_per_call=1,
        timeout_s=60,
        max_concurrency=2,
    ),
)
