"""base64(HMAC-SHA256(secret, raw body)): how Shopify and WooCommerce both sign webhooks.
Stdlib only: the webhook ack path imports this."""

from __future__ import annotations

import base64
import hashlib
import hmac


def sign(secret: str, raw_body: bytes) -> str:
    digest = hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(secret: str, raw_body: bytes, header_value: str | None) -> bool:
    """Constant-time comparison over the exact bytes received; never re-serialize the JSON."""
    if not header_value or not secret:
        return False
    return hmac.compare_digest(sign(secret, raw_body).encode(), header_value.strip().encode())
