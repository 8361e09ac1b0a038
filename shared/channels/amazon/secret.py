"""The Amazon SP-API secret's JSON: Login with Amazon app credentials and the seller's refresh
token, and the (seller, marketplace) the secret serves."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, field_validator

from shared.channels.secrets import ChannelSecret, Currency, https_unless_loopback

LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"


class AmazonSecret(ChannelSecret):
    lwa_client_id: str = Field(
        min_length=1, description="LWA app client id (amzn1.application-oa2-client...)"
    )
    lwa_client_secret: str = Field(min_length=1, description="LWA app client secret")
    refresh_token: str = Field(
        min_length=1, description="the seller's LWA refresh token (Atzr|...)"
    )
    seller_id: str = Field(pattern=r"^[A-Z0-9]{6,20}$", description="merchant token (seller id)")
    marketplace_id: str = Field(
        pattern=r"^[A-Z0-9]{6,20}$", description="the marketplace this account sells in"
    )
    marketplace_ids: list[Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{6,20}$")]] = Field(
        default_factory=list,
        description="further marketplaces of the region it sells in (one quantity for all)",
    )
    endpoint: str = Field(
        description="SP-API regional endpoint, e.g. https://sellingpartnerapi-eu.amazon.com"
    )
    lwa_token_url: str = Field(
        default="", description=f"LWA token endpoint; empty: {LWA_TOKEN_URL}"
    )
    currency: str = Currency

    @field_validator("endpoint", "lwa_token_url")
    @classmethod
    def _safe_url(cls, value: str) -> str:
        return https_unless_loopback(value or LWA_TOKEN_URL, "SP-API credentials")
