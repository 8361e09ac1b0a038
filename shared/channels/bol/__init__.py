"""bol.com: signed thin pushes in (orders fetched in ingest) and a poll behind them; stock out
with process-status confirmation; shipments confirmed; cancellation requests accepted.
Declared as data here (stdlib only: the webhook path imports this)."""

from shared.channels.bol import signature
from shared.channels.spec import (
    BodyDigest,
    Channel,
    ChannelKeys,
    FromBody,
    PollPolicy,
    SyncPolicy,
    WebhookReceiver,
)

CHANNEL = Channel(
    name="bol",
    secret_schema="shared.channels.bol.secret:BolSecret",
    sandbox="local_stack.sandboxes.bol:BolSandbox",
    account_field="retailer_id",
    account_in_body=FromBody(("retailerId",)),  # a push names its retailer
    receiver=WebhookReceiver(
        verify=signature.verify,
        secret_field="client_secret",  # the key fetch's credential (keys below)
        # No delivery-id header: the body names the delivery (a retry is byte-identical);
        # reordered or distinct pushes of one order are deduped by the order's key in ingest.
        delivery_id=BodyDigest(),
        topic=FromBody(("event", "resource")),
        keys=ChannelKeys(
            fetch="shared.channels.bol.keys:signature_keys",
            key_id=signature.key_id,
        ),
    ),
    subscriptions=("ORDER",),  # the push's event.resource; Keel reads the order it names
    inbound="shared.channels.bol.orders:BolOrdersInbound",
    fetch_order="shared.channels.bol.orders:fetch_order",
    # Lines match listings by offer id, then by EAN (the listing's `sku` ref).
    line_item_ref="offer_id",
    outbound_stock="shared.channels.bol.stock:publisher",
    outbound_prices="shared.channels.bol.prices:prices",
    read_competition="shared.channels.bol.competition:competition",
    estimate_fees="shared.channels.bol.fees:fees",
    read_listings="shared.channels.bol.listings:listings",
    manage_subscriptions="shared.channels.bol.subscriptions:subscriptions",
    offer_ref="ean",
    confirm_shipment="shared.channels.bol.fulfillment:fulfillment",
    accept_cancellation="shared.channels.bol.cancellation:cancellations",
    # bol retries a push 10 times in ~10 minutes, then disables the subscription.
    poll_orders="shared.channels.bol.poll:poll",
    poll=PollPolicy(rate_minutes=10, overlap_minutes=15),
    reconcile_minutes=60,
    # One PUT per offer, answered 202: the rate budget is per endpoint, so few concurrent
    # batches; process statuses are checked 2 s after the write, then backing off (~30 min).
    sync=SyncPolicy(
        batch_size=100,  # <= 100 offers a batch: ~4 s of PUTs at bol's 25/s
        max_batching_window_s=1,
        # Rises of a SKU still changing wait until it is quiet (falls never): each listing is
        # its own call here, so a burst of receipts costs one call per SKU, not one per batch.
        hold_quiet_s=2,
        max_hold_s=5,
        rows_per_call=1,  # PUT /retailer/offers/{offer-id}/stock: one offer a call
        max_quantity=999,  # UpdateOfferStockRequest.amount maximum
        timeout_s=120,
        max_concurrency=2,
        confirm_delays_s=(2, 5, 15, 30, 60, 120, 300, 600, 900),
        publish_attempts=3,
    ),
)
