"""bol.com push signatures: RSA-SHA256 (PKCS#1 v1.5) over the raw body, with the public key
whose id the `signature` header names (`keyId=0, algorithm="rsa-sha256", signature=<b64>`).

The webhook path imports this module: stdlib only at import; `cryptography` is imported inside
`verify`, so a cold start pays for it only when a bol delivery arrives.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

SIGNATURE_HEADER = "signature"
ALGORITHM = "rsa-sha256"


def parse_header(value: str | None) -> dict[str, str]:
    """`keyId=0, algorithm="rsa-sha256", signature=abc==` -> {"keyId": "0", ...}. Values may be
    quoted; base64 padding (`=`) stays with the value."""
    fields: dict[str, str] = {}
    for part in (value or "").split(","):
        name, sep, raw = part.strip().partition("=")
        if sep and name:
            fields[name.strip()] = raw.strip().strip('"')
    return fields


def key_id(headers: Mapping[str, str]) -> str | None:
    """The key a delivery names (lower-cased headers)."""
    return parse_header(headers.get(SIGNATURE_HEADER)).get("keyId") or None


def verify(public_key_b64: str, raw_body: bytes, headers: Mapping[str, str]) -> bool:
    """True when the body bytes were signed with the private half of this key (base64 DER
    SubjectPublicKeyInfo, as the signature-keys endpoint gives it). Never re-serializes."""
    fields = parse_header(headers.get(SIGNATURE_HEADER))
    if fields.get("algorithm", ALGORITHM).lower() != ALGORITHM or not fields.get("signature"):
        return False
    try:
        signature = base64.b64decode(fields["signature"], validate=True)
        der = base64.b64decode(public_key_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    try:
        key = load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm):
        return False
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    try:
        key.verify(signature, raw_body, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True
