"""Sendcloud (API v3): parcels announced synchronously, status changes by signed webhook.
Declared as data here, like a channel."""

from shared.carriers.spec import CarrierSpec

# Sendcloud parcel status ids (v2 list, still what v3 webhooks send in parcel.status.id) that
# mean the carrier has the parcel: from here on an order cannot be called back. 3 "En route to
# sorting center", 4 "Delivery delayed", 5 "Sorted", 6 "Not sorted", 7 "Being sorted",
# 11 "Delivered", 12 "Awaiting customer pickup", 22 "Shipment picked up by driver". Not: 1
# "Ready to send", 13 "Announced: not collected", 1000+ (pre-announcement), 2000 "Cancelled".
HANDED_OVER = frozenset({3, 4, 5, 6, 7, 11, 12, 22})

CARRIER = CarrierSpec(
    name="sendcloud",
    secret_schema="shared.carriers.sendcloud.secret:SendcloudSecret",
    sandbox="local_stack.sandboxes.sendcloud:SendcloudSandbox",
    verify="shared.carriers.sendcloud.webhook:verify_headers",
    secret_field="webhook_secret",
    parse_event="shared.carriers.sendcloud.webhook:parse_event",
    handed_over=HANDED_OVER,
    client="shared.carriers.sendcloud.client:carrier",
)
