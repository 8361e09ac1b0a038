"""The Sendcloud secret's JSON: API keys, the webhook signing key, and what every parcel shares
(the shipping option and the sender's address)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.channels.secrets import https_unless_loopback


class SendcloudSecret(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = Field(description="API v3 root: https://panel.sendcloud.sc/api/v3")
    public_key: str = Field(min_length=1, description="API public key (Basic auth user)")
    secret_key: str = Field(min_length=1, description="API secret key (Basic auth password)")
    webhook_secret: str = Field(
        min_length=1, description="the key Sendcloud signs webhooks with (Sendcloud-Signature)"
    )
    shipping_option_code: str = Field(
        min_length=1, description="ship_with: the carrier service parcels go with (postnl:standard)"
    )
    sender_name: str = Field(min_length=1)
    sender_company: str = ""
    sender_address_line_1: str = Field(min_length=1)
    sender_house_number: str = ""
    sender_postal_code: str = Field(min_length=1)
    sender_city: str = Field(min_length=1)
    sender_country_code: str = Field(pattern=r"^[A-Z]{2}$")
    sender_email: str = ""
    sender_phone: str = ""

    @field_validator("base_url")
    @classmethod
    def _safe_url(cls, value: str) -> str:
        return https_unless_loopback(value, "Sendcloud Basic auth")
