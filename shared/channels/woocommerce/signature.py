"""WooCommerce webhook signature: base64(HMAC-SHA256(webhook secret, raw body)), as
WC_Webhook::generate_signature computes it. Stdlib only: the webhook ack path imports this."""

from __future__ import annotations

import re
from collections.abc import Mapping

from shared.channels.hmac_signature import sign, verify

__all__ = ["is_ping", "sign", "verify", "verify_headers"]

SIGNATURE_HEADER = "x-wc-webhook-signature"
DELIVERY_ID_HEADER = "x-wc-webhook-delivery-id"
TOPIC_HEADER = "x-wc-webhook-topic"
SOURCE_HEADER = "x-wc-webhook-source"  # the shop's home URL, e.g. https://example.com/
_PING = re.compile(rb"webhook_id=\d{1,20}")


def verify_headers(secret: str, raw_body: bytes, headers: Mapping[str, str]) -> bool:
    return verify(secret, raw_body, headers.get(SIGNATURE_HEADER))


def is_ping(headers: Mapping[str, str], raw_body: bytes) -> bool:
    """The activation ping: form-encoded `webhook_id=N`, unsigned, sent when a webhook is saved
    as active. WooCommerce disables a webhook whose ping does not get a 2xx."""
    return SIGNATURE_HEADER not in headers and _PING.fullmatch(raw_body.strip()) is not None
