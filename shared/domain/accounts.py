"""How an account (a shop, a store) is spelled in order keys. Apart from the order model: the
webhook's path compares accounts at every delivery and loads nothing else of the domain."""

from __future__ import annotations


def normalize_account(value: str) -> str:
    """One spelling per account, whether it comes from a secret or a header: no scheme, no
    trailing slash, lower case ("https://Shop.example/" -> "shop.example")."""
    v = value.strip().lower()
    for scheme in ("https://", "http://"):
        v = v.removeprefix(scheme)
    return v.rstrip("/")
