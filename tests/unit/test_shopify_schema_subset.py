"""The Shopify schema subset the sandbox runs on without the vendor specs is exactly what the
published 2026-10 schema and Keel's documents give, and serves every document Keel sends."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import build_schema, parse, validate

from local_stack.sandboxes.shopify_schema import (
    SUBSET_PATH,
    keel_documents,
    load_published,
    subset,
)


def test_the_subset_is_what_the_published_schema_gives_for_keels_documents(specs: Path) -> None:
    published = load_published(specs / "shopify/admin-graphql/admin_2026-10.introspection.json.gz")
    derived = subset(published, keel_documents())
    assert SUBSET_PATH.read_text() == derived, (
        "run `python -m local_stack.sandboxes.shopify_schema` and commit the subset"
    )


def test_every_document_keel_sends_is_valid_against_the_subset() -> None:
    schema = build_schema(SUBSET_PATH.read_text())
    documents = keel_documents()
    assert len(documents) >= 10
    for text in documents:
        assert validate(schema, parse(text)) == []


def test_a_field_shopify_does_not_have_is_refused_by_the_subset_too() -> None:
    schema = build_schema(SUBSET_PATH.read_text())
    problems = validate(schema, parse("{ nodes(ids: []) { id notAField } }"))
    assert problems and "notAField" in problems[0].message


def test_a_document_the_published_schema_refuses_makes_no_subset(specs: Path) -> None:
    published = load_published(specs / "shopify/admin-graphql/admin_2026-10.introspection.json.gz")
    with pytest.raises(ValueError, match="not valid against the published schema"):
        subset(published, ["{ shop { noSuchField } }"])
