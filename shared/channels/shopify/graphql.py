"""The Admin GraphQL (2026-10) documents Keel sends to Shopify, kept as plain strings.

Plain strings so the Lambda bundle needs no GraphQL library; the unit tests validate every
document here against the published 2026-10 schema, so a field Shopify would reject fails a test
rather than a sync.
"""

from __future__ import annotations

API_VERSION = "2026-10"

# `inventoryLevel(locationId:)` takes one location, so one read per location Keel publishes to
# (a shop usually has one). A null node: no such inventory item; a null level: the item is not
# stocked at that location yet.
INVENTORY_LEVELS_QUERY = """
query KeelInventoryLevels($ids: [ID!]!, $locationId: ID!) {
  nodes(ids: $ids) {
    ... on InventoryItem {
      id
      inventoryLevel(locationId: $locationId) {
        quantities(names: ["available"]) {
          name
          quantity
        }
      }
    }
  }
}
"""

# Absolute quantities with compare-and-set: `changeFromQuantity` on every row (mandatory since
# 2026-04, null only where no level exists yet) and an idempotency key (also mandatory since
# 2026-04) so a retried delivery of the same request cannot apply twice.
SET_QUANTITIES_MUTATION = """
mutation KeelSetAvailable($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup {
      id
      changes(quantityNames: ["available"]) {
        name
        delta
        quantityAfterChange
        item {
          id
        }
        location {
          id
        }
      }
    }
    userErrors {
      field
      message
      code
    }
  }
}
"""

QUANTITY_NAME = "available"
REASON = "correction"


# The order's fulfillment orders and what is left to fulfil on each (the confirm step's read).
FULFILLMENT_ORDERS_QUERY = """
query KeelFulfillmentOrders($id: ID!) {
  order(id: $id) {
    id
    fulfillmentOrders(first: 20) {
      nodes {
        id
        status
        lineItems(first: 250) {
          nodes {
            id
            remainingQuantity
            lineItem {
              id
            }
          }
        }
      }
    }
  }
}
"""

# One fulfillment for what left, with the carrier's tracking (the buyer is notified).
FULFILLMENT_CREATE_MUTATION = """
mutation KeelFulfill($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment {
      id
      status
      trackingInfo {
        company
        number
        url
      }
    }
    userErrors {
      field
      message
    }
  }
}
"""

DOCUMENTS: dict[str, str] = {
    "inventory_levels": INVENTORY_LEVELS_QUERY,
    "set_quantities": SET_QUANTITIES_MUTATION,
    "fulfillment_orders": FULFILLMENT_ORDERS_QUERY,
    "fulfillment_create": FULFILLMENT_CREATE_MUTATION,
}
"""Every document Keel sends, by name (the schema test walks this)."""
