"""Which stream records each stream consumer acts on, as Lambda event filter patterns.

A record no pattern of its function matches never reaches the function: Lambda drops it in the
event source mapping, free, and a batch left empty costs no invocation (in AWS through the
mapping's FilterCriteria, locally through the stream reader, `local_stack/event_filters.py`).
Each pattern is a superset of what its handler acts on (the handler still decides):
tests/unit/test_stream_filters.py checks it against the handlers' own decisions. Stream images
are typed (`{"S": ...}`), as Lambda matches them.

Stdlib only, literal values: `shared.wiring` imports this and the webhook imports the wiring.
"""

from __future__ import annotations

from typing import Any

# An order item (sk ORDER) stored accepted (the workflow may start), ended (a waiting
# execution stops) or held (an accepted order edited beyond its stock: its parcel is
# re-planned): shared.services.workflow_start.what_follows.
ORDERS_STARTING_OR_ENDING: dict[str, Any] = {
    "dynamodb": {
        "NewImage": {
            "sk": {"S": ["ORDER"]},
            "status": {"S": ["reserved", "partially_refunded", "cancelled", "refunded", "held"]},
        }
    }
}

# An order item stored held (its channel's oversell policy may apply):
# shared.services.oversell.policy_trigger.
ORDERS_HELD: dict[str, Any] = {
    "dynamodb": {"NewImage": {"sk": {"S": ["ORDER"]}, "status": {"S": ["held"]}}}
}

# A SKU's stock level, written or removed (what a channel must show, held orders to wake):
# shared.services.relay.stock_change / stock_arrived. Keys: present in every record.
STOCK_LEVELS: dict[str, Any] = {"dynamodb": {"Keys": {"sk": {"S": ["LEVEL"]}}}}

# A listing written (its ids or rules may have changed) or a channel id newly mapped to a SKU
# (held orders to wake), or a listing's price in force (shared.services.relay.price_change):
# shared.services.relay.listing_change / listing_found. Not what a
# sync records a channel was seen to show (SHOWN#, PENDING#), which changes nothing to publish.
LISTINGS: dict[str, Any] = {
    "dynamodb": {
        "NewImage": {"sk": {"S": [{"prefix": "LISTING#"}, "REF", {"prefix": "PRICETARGET#"}]}}
    }
}
