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
# 5 x 100 keeps the requested cost near 520 points, under the 1,000-point query limit.
FULFILLMENT_ORDERS_QUERY = """
query KeelFulfillmentOrders($id: ID!) {
  order(id: $id) {
    id
    fulfillmentOrders(first: 5) {
      nodes {
        id
        status
        lineItems(first: 100) {
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

# --- the orders poll (shopify/poll.py); what the REST order webhook carries, in GraphQL ---
# Selected as orders_graphql.py reads it. Only the `current*` amounts: GraphQL always has them
# (non-null), and the webhook parser reads the current amounts whenever they are there.
_BAG = "shopMoney { amount currencyCode } presentmentMoney { amount currencyCode }"

ORDER_LINE_FRAGMENT = f"""
fragment KeelOrderLine on LineItem {{
  id
  quantity
  currentQuantity
  sku
  title
  isGiftCard
  variant {{
    legacyResourceId
  }}
  originalUnitPriceSet {{ {_BAG} }}
}}
"""

# Oldest change first, by cursor. Requested cost is what the bucket must hold: a page of
# $first orders with $lines lines each (Shopify: 2 + first x node per connection). An order
# with more lines, or with refunds, is completed by the two reads below.
ORDERS_QUERY = f"""
query KeelOrdersChanged($first: Int!, $after: String, $query: String!, $lines: Int!) {{
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {{
    pageInfo {{
      hasNextPage
      endCursor
    }}
    nodes {{
      id
      legacyResourceId
      name
      createdAt
      updatedAt
      cancelledAt
      currencyCode
      presentmentCurrencyCode
      taxesIncluded
      displayFinancialStatus
      email
      currentTotalPriceSet {{ {_BAG} }}
      currentTotalDiscountsSet {{ {_BAG} }}
      currentShippingPriceSet {{ {_BAG} }}
      currentTotalTaxSet {{ {_BAG} }}
      totalTipReceivedSet {{ {_BAG} }}
      currentTotalDutiesSet {{ {_BAG} }}
      originalTotalDutiesSet {{ {_BAG} }}
      currentTotalAdditionalFeesSet {{ {_BAG} }}
      originalTotalAdditionalFeesSet {{ {_BAG} }}
      shippingAddress {{
        name
        firstName
        lastName
        company
        address1
        address2
        city
        zip
        provinceCode
        countryCodeV2
        phone
      }}
      lineItems(first: $lines) {{
        pageInfo {{
          hasNextPage
          endCursor
        }}
        nodes {{
          ...KeelOrderLine
        }}
      }}
      refunds(first: 1) {{
        id
      }}
    }}
  }}
}}
{ORDER_LINE_FRAGMENT}"""

# The rest of an order's lines, when a page carried only the first $lines.
ORDER_LINES_QUERY = f"""
query KeelOrderLines($id: ID!, $first: Int!, $after: String) {{
  order(id: $id) {{
    id
    updatedAt
    lineItems(first: $first, after: $after) {{
      pageInfo {{
        hasNextPage
        endCursor
      }}
      nodes {{
        ...KeelOrderLine
      }}
    }}
  }}
}}
{ORDER_LINE_FRAGMENT}"""

# An order's refunds, read only for orders that have one (most have none). Bounded so the
# call fits the 1000-point query limit; an order beyond the bounds is not read (poll.py).
ORDER_REFUNDS_QUERY = """
query KeelOrderRefunds($id: ID!, $refunds: Int!, $lines: Int!, $transactions: Int!) {
  order(id: $id) {
    id
    updatedAt
    refunds(first: $refunds) {
      legacyResourceId
      createdAt
      processedAt
      note
      refundLineItems(first: $lines) {
        pageInfo {
          hasNextPage
        }
        nodes {
          quantity
          restockType
          lineItem {
            id
          }
        }
      }
      transactions(first: $transactions) {
        pageInfo {
          hasNextPage
        }
        nodes {
          kind
          status
          amountSet {
            presentmentMoney {
              amount
              currencyCode
            }
          }
        }
      }
    }
  }
}
"""

# The oversell policy's cut (shopify/oversell.py): an order edit. The calculated order lists
# each line's current quantity; CalculatedLineItem ids carry the LineItem's numeric id.
ORDER_EDIT_BEGIN_MUTATION = """
mutation KeelOrderEditBegin($id: ID!) {
  orderEditBegin(id: $id) {
    calculatedOrder {
      id
      lineItems(first: 250) {
        nodes {
          id
          quantity
        }
      }
    }
    userErrors {
      field
      message
    }
  }
}
"""

ORDER_EDIT_SET_QUANTITY_MUTATION = """
mutation KeelOrderEditSetQuantity($id: ID!, $lineItemId: ID!, $quantity: Int!) {
  orderEditSetQuantity(id: $id, lineItemId: $lineItemId, quantity: $quantity, restock: true) {
    calculatedLineItem {
      id
      quantity
    }
    userErrors {
      field
      message
    }
  }
}
"""

# notifyCustomer: Shopify e-mails the buyer the edited order; the staff note says why.
ORDER_EDIT_COMMIT_MUTATION = """
mutation KeelOrderEditCommit($id: ID!, $staffNote: String) {
  orderEditCommit(id: $id, notifyCustomer: true, staffNote: $staffNote) {
    order {
      id
    }
    userErrors {
      field
      message
    }
  }
}
"""

# Prices: a variant's product (the bulk update is per product) and what it shows now.
VARIANT_PRICES_QUERY = """
query KeelVariantPrices($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on ProductVariant {
      id
      price
      compareAtPrice
      product {
        id
      }
    }
  }
}
"""

# One product's variants a call; allowPartialUpdates false (the default): a userError on one
# variant and nothing of the call is applied. compareAtPrice null ends a sale.
VARIANT_PRICES_MUTATION = """
mutation KeelSetPrices($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkUpdate(productId: $productId, variants: $variants) {
    productVariants {
      id
      price
      compareAtPrice
    }
    userErrors {
      field
      message
      code
    }
  }
}
"""

# Onboarding: every variant with its ids, barcode (GTIN), price and what the shop's primary
# location shows; 100 a page (requested cost ~ 2 + 100 x 4, under the 1000-point limit).
PRIMARY_LOCATION_QUERY = """
query KeelPrimaryLocation {
  location {
    id
    legacyResourceId
  }
}
"""

LISTINGS_QUERY = """
query KeelListings($first: Int!, $after: String, $locationId: ID!) {
  productVariants(first: $first, after: $after) {
    pageInfo {
      hasNextPage
      endCursor
    }
    nodes {
      legacyResourceId
      sku
      barcode
      price
      title
      product {
        legacyResourceId
        title
        status
      }
      inventoryItem {
        legacyResourceId
        tracked
        inventoryLevel(locationId: $locationId) {
          quantities(names: ["available"]) {
            name
            quantity
          }
        }
      }
    }
  }
}
"""

LISTING_QUERY = """
query KeelListing($id: ID!, $locationId: ID!) {
  productVariant(id: $id) {
    legacyResourceId
    sku
    barcode
    price
    title
    product {
      legacyResourceId
      title
      status
    }
    inventoryItem {
      legacyResourceId
      tracked
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

WEBHOOKS_QUERY = """
query KeelWebhooks($first: Int!, $after: String) {
  webhookSubscriptions(first: $first, after: $after) {
    pageInfo {
      hasNextPage
      endCursor
    }
    nodes {
      id
      topic
      uri
    }
  }
}
"""

WEBHOOK_CREATE_MUTATION = """
mutation KeelWebhookCreate($topic: WebhookSubscriptionTopic!, $input: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $input) {
    webhookSubscription {
      id
      topic
      uri
    }
    userErrors {
      field
      message
    }
  }
}
"""

WEBHOOK_UPDATE_MUTATION = """
mutation KeelWebhookUpdate($id: ID!, $input: WebhookSubscriptionInput!) {
  webhookSubscriptionUpdate(id: $id, webhookSubscription: $input) {
    webhookSubscription {
      id
      topic
      uri
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
    "orders_changed": ORDERS_QUERY,
    "order_lines": ORDER_LINES_QUERY,
    "order_refunds": ORDER_REFUNDS_QUERY,
    "order_edit_begin": ORDER_EDIT_BEGIN_MUTATION,
    "order_edit_set_quantity": ORDER_EDIT_SET_QUANTITY_MUTATION,
    "order_edit_commit": ORDER_EDIT_COMMIT_MUTATION,
    "variant_prices": VARIANT_PRICES_QUERY,
    "set_prices": VARIANT_PRICES_MUTATION,
    "primary_location": PRIMARY_LOCATION_QUERY,
    "listings": LISTINGS_QUERY,
    "listing": LISTING_QUERY,
    "webhooks": WEBHOOKS_QUERY,
    "webhook_create": WEBHOOK_CREATE_MUTATION,
    "webhook_update": WEBHOOK_UPDATE_MUTATION,
}
"""Every document Keel sends, by name (the schema test walks this)."""
