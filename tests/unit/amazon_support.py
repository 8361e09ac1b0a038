"""The Amazon adapter against its sandbox, in process: an httpx transport that hands each
request to the sandbox app (no server, no sockets)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs

import httpx

from local_stack.http import Request
from local_stack.sandboxes.amazon import AmazonSandbox
from shared.channels.amazon.client import SpApiClient
from shared.channels.amazon.secret import AmazonSecret
from shared.channels.pacing import Rate, TokenBucket

BASE = "http://127.0.0.1:9"


def transport(sandbox: AmazonSandbox) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        answer = sandbox(
            Request(
                method=request.method,
                path=request.url.path,
                query=parse_qs(request.url.query.decode()),
                headers=dict(request.headers),
                body=request.content,
            )
        )
        return httpx.Response(answer.status, content=answer.body, headers=answer.headers)

    return httpx.MockTransport(handle)


def fresh_buckets() -> Callable[[str, str], TokenBucket]:
    """Per-test buckets (the process-wide ones outlive a test)."""
    from shared.channels.amazon.client import RATES

    made: dict[tuple[str, str], TokenBucket] = {}

    def get(seller: str, operation: str) -> TokenBucket:
        rate: Rate = RATES[operation]
        return made.setdefault((seller, operation), TokenBucket(rate))

    return get


def connect(
    sandbox: AmazonSandbox, sleeps: list[float] | None = None
) -> tuple[SpApiClient, httpx.Client]:
    secret = AmazonSecret.model_validate(sandbox.keel_secret(BASE))
    http = httpx.Client(transport=transport(sandbox))
    recorded = sleeps if sleeps is not None else []
    api = SpApiClient(secret, http, sleep=recorded.append, buckets=fresh_buckets())
    return api, http
