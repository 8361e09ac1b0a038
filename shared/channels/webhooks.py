"""How each channel's webhooks are received: where the signature, delivery id and topic are,
and which secret signs them. Stdlib only: this is imported on the webhook ack path."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shared.channels.shopify import signature as shopify


@dataclass(frozen=True)
class WebhookReceiver:
    channel: str
    secret_env: str  # env var holding the Secrets Manager name
    secret_field: str  # field of the secret's JSON that signs deliveries
    signature_header: str  # lower-case
    delivery_id_header: str
    topic_header: str
    kept_headers: tuple[str, ...]  # passed on to ingest with the raw body
    verify: Callable[[str, bytes, str | None], bool]


RECEIVERS: dict[str, WebhookReceiver] = {
    "shopify": WebhookReceiver(
        channel="shopify",
        secret_env="SHOPIFY_SECRET_NAME",
        secret_field="webhook_secret",
        signature_header=shopify.HMAC_HEADER,
        delivery_id_header=shopify.WEBHOOK_ID_HEADER,
        topic_header=shopify.TOPIC_HEADER,
        kept_headers=(
            "x-shopify-topic",
            "x-shopify-shop-domain",
            "x-shopify-api-version",
            "x-shopify-webhook-id",
            "x-shopify-event-id",
            "x-shopify-triggered-at",
        ),
        verify=shopify.verify,
    ),
}
