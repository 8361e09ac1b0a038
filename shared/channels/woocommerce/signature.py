"""WooCommerce webhook signature: base64(HMAC-SHA256(webhook secret, raw body)), as
WC_Webhook::generate_signature computes it. Stdlib only: the webhook ack path imports this."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping

SIGNATURE_HEADER = "x-wc-webhook-signature"
DELIVERY_ID_HEADER = "x-wc-webhook-delivery-id"
TOPIC_HEADER = "x-wc-webhook-topic"
SOURCE_HEADER = "x-wc-webhook-source"  # the shop's home URL, e.g. https://example.com/
_PING = re.compile(rb"webhook_id=\d{1,20}")


def sign(secret: str, raw_body: bytes) -> str:
    digest = hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(secret: str, raw_body: bytes, header_value: str | None) -> bool:
    """Constant-time comparison over the exact bytes received."""
    if not header_value or not secret:
        return False
    return hmac.compare_digest(sign(secret, raw_body).encode(), header_value.strip().encode())


def verify_headers(secret: str, raw_body: bytes, headers: Mapping[str, str]) -> bool:
    return verify(secret, raw_body, headers.get(SIGNATURE_HEADER))


def is_ping(headers: Mapping[str, str], raw_body: bytes) -> bool:
    """The activation ping: form-encoded `webhook_id=N`, unsigned, sent when a webhook is saved
    as active. WooCommerce disables a webhook whose ping does not get a 2xx."""
    return SIGNATURE_HEADER not in headers and _PING.fullmatch(raw_body.strip()) is not None
