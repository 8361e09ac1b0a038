"""Environment settings per function, validated once at cold start (names match infra/wiring).

Channel-specific names (`SYNC_<CHANNEL>_QUEUE_URL`, `<CHANNEL>_SECRET_NAME`) are read with an
env prefix per channel, so one generic handler serves every channel the registry declares.
"""

from __future__ import annotations

from contextvars import ContextVar

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from shared.domain.oversell import OversellPolicy

FUNCTION_ENV: ContextVar[dict[str, str] | None] = ContextVar("keel_function_env", default=None)
"""The invoked function's own variables, over the process environment. In Lambda each function
has its own process and this stays None; the local stack runs every function in one process and
sets it per invocation (the wiring's `Function.env`, e.g. KEEL_CHANNEL)."""


class _FunctionEnvSource(EnvSettingsSource):
    def _load_env_vars(self) -> dict[str, str | None]:
        own = FUNCTION_ENV.get() or {}
        values: dict[str, str | None] = {k.lower(): v for k, v in own.items()}
        return values


class _Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        prefix = env_settings.env_prefix if isinstance(env_settings, EnvSettingsSource) else ""
        own = _FunctionEnvSource(settings_cls, env_prefix=prefix)
        return (init_settings, own, env_settings)


def env_prefix(name: str) -> str:
    return name.upper().replace("-", "_") + "_"


class IngestSettings(_Settings):
    catalog_table: str
    inventory_table: str
    orders_table: str
    raw_bodies_bucket: str
    # RAW_BODY_RETENTION_DAYS (the environment's config): held deliveries expire after it.
    # No default: a function that keeps raw bodies without being told how long fails loudly.
    raw_body_retention_days: int = Field(gt=0)
    secret_cache_seconds: int = 300


class QueueUrls(_Settings):
    """A queue's URLs: read with `_env_prefix=env_prefix(queue name)`."""

    queue_url: str
    dlq_url: str | None = None


class SecretName(_Settings):
    """A channel secret's name: read with `_env_prefix=env_prefix(channel)`."""

    secret_name: str


class RelaySettings(_Settings):
    """The relays' and the resync's: they read the catalog and trigger channel syncs. The
    inventory relay also reads which orders wait for stock, and wakes them (held-orders)."""

    catalog_table: str
    inventory_table: str | None = None
    held_orders_queue_url: str | None = None

    def sync_queue_urls(self) -> dict[str, str]:
        """Channel -> its sync queue URL, for every channel the registry says publishes stock."""
        from shared.channels.registry import CHANNELS
        from shared.wiring import sync_queue

        return {
            c.name: QueueUrls(_env_prefix=env_prefix(sync_queue(c.name))).queue_url  # type: ignore[call-arg]
            for c in CHANNELS
            if c.publishes_stock
        }


class ChannelOfFunction(_Settings):
    keel_channel: str


class ReleaseHeldSettings(_Settings):
    """release-held's, and the polls' (they take orders in, as ingest does, without bodies)."""

    catalog_table: str
    inventory_table: str
    orders_table: str


class SyncSettings(_Settings):
    catalog_table: str
    inventory_table: str
    secret_cache_seconds: int = 300


class OversellSettings(_Settings):
    orders_table: str
    inventory_table: str
    # OVERSELL_POLICY: JSON, channel -> policy; a channel not named holds (waits for a person).
    oversell_policy: dict[str, OversellPolicy] = Field(default_factory=dict)
    secret_cache_seconds: int = 300


class WorkflowSettings(_Settings):
    """The order workflow's task functions, its starter and the carriers' webhook."""

    orders_table: str
    inventory_table: str | None = None  # the commit step's
    order_workflow_arn: str | None = None  # the starter's and whoever answers task tokens
    secret_cache_seconds: int = 300
