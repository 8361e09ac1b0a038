"""The bol.com secret's JSON: one pydantic model for the functions, the local stack and the
CDK placeholder alike."""

from __future__ import annotations

from pydantic import Field, field_validator

from shared.channels.secrets import ChannelSecret, Currency, https_unless_loopback


class BolSecret(ChannelSecret):
    client_id: str = Field(min_length=1, description="Retailer API client id (API credentials)")
    client_secret: str = Field(min_length=1, description="Retailer API client secret")
    retailer_id: str = Field(
        min_length=1, description="the retailer id bol.com names in push messages (retailerId)"
    )
    currency: str = Currency
    api_base_url: str = Field(
        default="", description="blank: https://api.bol.com; the local sandbox sets its own"
    )
    token_url: str = Field(
        default="", description="blank: https://login.bol.com/token (client credentials)"
    )

    @field_validator("api_base_url", "token_url")
    @classmethod
    def _safe_url(cls, value: str) -> str:
        return https_unless_loopback(value, "bol.com credentials") if value else value

    @property
    def api_url(self) -> str:
        return self.api_base_url or "https://api.bol.com"

    @property
    def token_endpoint(self) -> str:
        return self.token_url or "https://login.bol.com/token"
