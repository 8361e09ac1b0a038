"""The Shopify secret's JSON: one pydantic model for the functions, the local stack and the CDK
placeholder alike."""

from __future__ import annotations

from pydantic import Field, field_validator

from shared.channels.secrets import ChannelSecret, Currency, https_unless_loopback


class ShopifySecret(ChannelSecret):
    webhook_secret: str = Field(min_length=1, description="the app's client secret (HMAC key)")
    shop_domain: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$",
        description="e.g. keel-demo.myshopify.com; deliveries from other shops are refused",
    )
    access_token: str = Field(min_length=1, description="Admin API access token (shpat_...)")
    currency: str = Currency
    api_base_url: str = Field(
        default="", description="blank: https://<shop_domain>; the local sandbox sets its own"
    )

    @field_validator("api_base_url")
    @classmethod
    def _safe_url(cls, value: str) -> str:
        return https_unless_loopback(value, "Shopify api_base_url") if value else value

    @property
    def admin_base_url(self) -> str:
        return self.api_base_url or f"https://{self.shop_domain}"
