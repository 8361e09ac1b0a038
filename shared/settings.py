"""Environment settings per function, validated once at cold start (names match infra/wiring)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class _Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore")


class IngestSettings(_Settings):
    catalog_table: str
    inventory_table: str
    orders_table: str
    raw_bodies_bucket: str


class RelaySettings(_Settings):
    """One queue URL per channel in shared.wiring.SYNC_CHANNELS (a test keeps them in step)."""

    catalog_table: str
    sync_woocommerce_queue_url: str

    def sync_queue_urls(self) -> dict[str, str]:
        return {"woocommerce": self.sync_woocommerce_queue_url}


class SyncWooSettings(_Settings):
    catalog_table: str
    inventory_table: str
    sync_woocommerce_dlq_url: str
    sync_woocommerce_queue_url: str  # its own trigger queue: to delay retries (Retry-After)
    woocommerce_secret_name: str
    secret_cache_seconds: int = 300
