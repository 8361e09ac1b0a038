"""Shopify webhook HMAC: base64(HMAC-SHA256(app secret, raw body)). Stdlib only: webhook path."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

HMAC_HEADER = "x-shopify-hmac-sha256"
WEBHOOK_ID_HEADER = "x-shopify-webhook-id"
TOPIC_HEADER = "x-shopify-topic"
SHOP_HEADER = "x-shopify-shop-domain"


def sign(secret: str, raw_body: bytes) -> str:
    digest = hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(secret: str, raw_body: bytes, header_value: str | None) -> bool:
    """Constant-time comparison over the exact bytes received; never re-serialize the JSON."""
    if not header_value or not secret:
        return False
    return hmac.compare_digest(sign(secret, raw_body).encode(), header_value.strip().encode())


def verify_headers(secret: str, raw_body: bytes, headers: Mapping[str, str]) -> bool:
    """The registry's verifier: headers lower-cased."""
    return verify(secret, raw_body, headers.get(HMAC_HEADER))
