"""Fetch bol.com's push-signature public keys: a client-credentials token, then
`GET /retailer/subscriptions/signature-keys`. Stdlib only (urllib): it runs on the webhook
path, which must not import httpx or pydantic. The webhook function caches what this returns
(spec.ChannelKeys)."""

from __future__ import annotations

import base64
import json
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

MEDIA_TYPE = "application/vnd.retailer.v10+json"
TIMEOUT_S = 5.0


def _open(request: urllib.request.Request) -> Any:
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        return json.loads(response.read())


def _safe(url: str) -> str:
    """Credentials travel only over HTTPS, except to loopback (the local sandbox): the same
    rule as the secret's schema, which this stdlib path does not import."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" or (
        parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
    ):
        return url
    raise ValueError("bol.com credentials need an https:// URL")


def signature_keys(secret: Mapping[str, Any]) -> dict[str, str]:
    """{key id: base64 DER public key}. Raises (URLError, HTTPError, ValueError) on failure:
    the delivery gets a 5xx and bol.com delivers it again."""
    token_url = _safe(str(secret.get("token_url") or "https://login.bol.com/token"))
    api = _safe(str(secret.get("api_base_url") or "https://api.bol.com")).rstrip("/")
    basic = base64.b64encode(f"{secret['client_id']}:{secret['client_secret']}".encode())
    query = urllib.parse.urlencode({"grant_type": "client_credentials"})
    token = _open(
        urllib.request.Request(
            f"{token_url}?{query}",
            method="POST",
            headers={"Authorization": f"Basic {basic.decode()}", "Accept": "application/json"},
        )
    )["access_token"]
    answer = _open(
        urllib.request.Request(
            f"{api}/retailer/subscriptions/signature-keys",
            headers={"Authorization": f"Bearer {token}", "Accept": MEDIA_TYPE},
        )
    )
    return {
        str(k["id"]): str(k["publicKey"])
        for k in answer.get("signatureKeys", [])
        if isinstance(k, dict) and k.get("type", "RSA") == "RSA" and "id" in k
    }
