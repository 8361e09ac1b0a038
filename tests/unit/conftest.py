"""Fixtures for unit tests of channel sandboxes."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from graphql import GraphQLSchema, build_client_schema

from local_stack.http import LocalHttpServer, Request, Response


@pytest.fixture
def gateway_stand_in() -> Iterator[tuple[str, list[Request]]]:
    """A tiny local endpoint standing in for Keel's webhook gateway: (base URL, received)."""
    received: list[Request] = []

    def app(request: Request) -> Response:
        received.append(request)
        return Response(200)

    server = LocalHttpServer("webhook-receiver", app)
    server.start()
    try:
        yield server.url, received
    finally:
        server.stop()


@pytest.fixture(scope="session")
def schema(specs: Path) -> GraphQLSchema:
    """Shopify's published 2026-10 Admin GraphQL schema: what every document Keel sends, and
    every variable it binds, must be valid against."""
    path = specs / "shopify/admin-graphql/admin_2026-10.introspection.json.gz"
    with gzip.open(path) as raw:
        return build_client_schema(json.load(raw)["data"])
