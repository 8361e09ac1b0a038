"""Shopify webhook subscriptions Keel needs, through Admin GraphQL: listed, created, and pointed
at the environment's endpoint again. Shopify has no "disabled" state: a subscription whose
deliveries keep failing is removed, so a missing one is created anew.

Keel names topics as deliveries carry them (`X-Shopify-Topic: orders/create`); the API's enum
spells them `ORDERS_CREATE`.
"""

from __future__ import annotations

from typing import Any

import httpx

from shared.channels.errors import PermanentError
from shared.channels.port import Subscription
from shared.channels.shopify import CHANNEL as SPEC
from shared.channels.shopify import graphql as documents
from shared.channels.shopify.admin import AdminClient
from shared.channels.shopify.secret import ShopifySecret

CHANNEL = "shopify"
PAGE = 100
_DELIVERED_AS = {t.replace("/", "_").upper(): t for t in SPEC.subscriptions}


def topic_enum(topic: str) -> str:
    """`orders/create` -> `ORDERS_CREATE`."""
    return topic.replace("/", "_").upper()


class ShopifyWebhooks:
    channel = CHANNEL

    def __init__(self, secret: ShopifySecret, http: httpx.Client) -> None:
        self._client = AdminClient(secret, http)

    def subscriptions(self) -> list[Subscription]:
        found: list[Subscription] = []
        variables: dict[str, Any] = {"first": PAGE, "after": None}
        while True:
            data = self._client.post(documents.WEBHOOKS_QUERY, variables) or {}
            page = data.get("webhookSubscriptions") or {}
            found.extend(_subscription(node) for node in page.get("nodes") or [])
            info = page.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                return found
            variables = {**variables, "after": info.get("endCursor")}

    def subscribe(self, topic: str, address: str) -> Subscription:
        variables = {"topic": topic_enum(topic), "input": {"uri": address, "format": "JSON"}}
        data = self._client.post(documents.WEBHOOK_CREATE_MUTATION, variables) or {}
        return _made(data.get("webhookSubscriptionCreate") or {}, topic)

    def repair(self, subscription: Subscription, address: str) -> Subscription:
        variables = {"id": subscription.id, "input": {"uri": address, "format": "JSON"}}
        data = self._client.post(documents.WEBHOOK_UPDATE_MUTATION, variables) or {}
        return _made(data.get("webhookSubscriptionUpdate") or {}, subscription.topic)


def _made(payload: dict[str, Any], topic: str) -> Subscription:
    errors = payload.get("userErrors") or []
    if errors or not payload.get("webhookSubscription"):
        said = "; ".join(str(e.get("message")) for e in errors) or "no subscription returned"
        raise PermanentError(f"Shopify refused the {topic} webhook: {said}", channel=CHANNEL)
    return _subscription(payload["webhookSubscription"])


def _subscription(node: dict[str, Any]) -> Subscription:
    topic = str(node.get("topic", ""))
    return Subscription(
        id=str(node["id"]),
        topic=_DELIVERED_AS.get(topic, topic.lower()),
        address=str(node.get("uri", "")),
        active=True,  # listed: it exists, and Shopify delivers to every subscription it has
        detail="subscribed",
    )


def webhooks(secret: ShopifySecret, http: httpx.Client) -> ShopifyWebhooks:
    """The registry's subscription manager factory."""
    return ShopifyWebhooks(secret, http)
