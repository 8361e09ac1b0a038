"""Fixtures for unit tests of channel sandboxes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
