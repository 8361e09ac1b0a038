"""Every GraphQL document Keel sends is valid against the published 2026-10 Admin schema."""

from __future__ import annotations

import pytest
from graphql import GraphQLSchema, parse, validate

from shared.channels.shopify import graphql as documents


@pytest.mark.parametrize("name", sorted(documents.DOCUMENTS))
def test_document_validates_against_the_2026_10_schema(schema: GraphQLSchema, name: str) -> None:
    errors = validate(schema, parse(documents.DOCUMENTS[name]))
    assert errors == [], [e.message for e in errors]


def test_the_mutation_sends_an_idempotency_key_and_asks_for_user_error_codes() -> None:
    text = documents.SET_QUANTITIES_MUTATION
    assert "@idempotent(key: $key)" in text
    assert "changeFromQuantity" not in text  # a row field, sent in the variables on every row
    assert "code" in text.split("userErrors", 1)[1]


@pytest.mark.parametrize(
    "wrong",
    [
        # ignoreCompareQuantity was removed in 2026-04
        "mutation($i: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $i, "
        'ignoreCompareQuantity: true) @idempotent(key: "k") { userErrors { code } } }',
        # the directive needs its key
        "mutation($i: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $i) "
        "@idempotent { userErrors { code } } }",
        # InventoryLevel has no `available` field any more: quantities(names:) instead
        "query($ids: [ID!]!, $l: ID!) { nodes(ids: $ids) { ... on InventoryItem { "
        "inventoryLevel(locationId: $l) { available } } } }",
    ],
)
def test_a_document_the_real_api_would_reject_fails_validation(
    schema: GraphQLSchema, wrong: str
) -> None:
    assert validate(schema, parse(wrong)) != []
