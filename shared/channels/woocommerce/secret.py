"""The WooCommerce secret's JSON: one pydantic model for the functions, the local stack and the
CDK placeholder alike."""

from __future__ import annotations

from pydantic import Field, field_validator

from shared.channels.secrets import ChannelSecret, Currency, https_unless_loopback


class WooSecret(ChannelSecret):
    base_url: str = Field(description="the shop's home URL, e.g. https://shop.example")
    consumer_key: str = Field(min_length=1, description="REST API key (ck_...)")
    consumer_secret: str = Field(min_length=1, description="REST API secret (cs_...)")
    webhook_secret: str = Field(min_length=1, description="the order webhooks' secret")
    currency: str = Currency

    @field_validator("base_url")
    @classmethod
    def _safe_url(cls, value: str) -> str:
        return https_unless_loopback(value, "WooCommerce Basic auth")
