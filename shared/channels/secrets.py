"""Pieces every channel's secret schema shares: credentials never echoed, URLs safe to send to."""

from __future__ import annotations

from ipaddress import ip_address
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

Currency = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code the shop sells in")


class ChannelSecret(BaseModel):
    """A channel's Secrets Manager JSON. Errors never show the values (hide_input_in_errors)."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True, extra="ignore")


def https_unless_loopback(value: str, what: str) -> str:
    """Credentials travel only over HTTPS, except to loopback (the local sandboxes)."""
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return value.rstrip("/")
    host = parts.hostname or ""
    if parts.scheme == "http" and (host == "localhost" or _is_loopback(host)):
        return value.rstrip("/")
    raise ValueError(f"{what} needs an https:// URL")


def _is_loopback(host: str) -> bool:
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False
