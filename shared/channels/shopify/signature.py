"""Shopify webhook HMAC: base64(HMAC-SHA256(app secret, raw body)). Stdlib only: webhook path."""

from __future__ import annotations

from collections.abc import Mapping

from shared.channels.hmac_signature import sign, verify

__all__ = ["sign", "verify", "verify_headers"]

HMAC_HEADER = "x-shopify-hmac-sha256"
WEBHOOK_ID_HEADER = "x-shopify-webhook-id"
TOPIC_HEADER = "x-shopify-topic"
SHOP_HEADER = "x-shopify-shop-domain"


def verify_headers(secret: str, raw_body: bytes, headers: Mapping[str, str]) -> bool:
    """The registry's verifier: headers lower-cased."""
    return verify(secret, raw_body, headers.get(HMAC_HEADER))
