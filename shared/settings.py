"""Environment settings per function, validated once at cold start (names match infra/wiring).

Channel-specific names (`SYNC_<CHANNEL>_QUEUE_URL`, `<CHANNEL>_SECRET_NAME`) are read with an
env prefix per channel, so one generic handler serves every channel the registry declares.
"""

from __future__ import annotations

import json
import os
import types
from contextvars import ContextVar
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.oversell import OversellPolicy

FUNCTION_ENV: ContextVar[dict[str, str] | None] = ContextVar("keel_function_env", default=None)
"""The invoked function's own variables, over the process environment. In Lambda each function
has its own process and this stays None; the local stack runs every function in one process and
sets it per invocation (the wiring's `Function.env`, e.g. KEEL_CHANNEL)."""


class _Settings(BaseModel):
    """Fields read from the environment by name (case-insensitive; `_env_prefix` before the
    name), the function's own variables over the process's, keyword arguments over both; a
    dict, list or model field is JSON. Validated by pydantic, as any edge. Plain pydantic, not
    pydantic-settings: that package's import (its sources, dotenv, asyncio) cost every
    function's cold start ~60 ms for reading a few variables (issue #11)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    def __init__(self, _env_prefix: str = "", **values: Any) -> None:
        super().__init__(**{**_from_env(type(self), _env_prefix), **values})


def _from_env(model: type[BaseModel], prefix: str) -> dict[str, Any]:
    env = {k.lower(): v for k, v in os.environ.items()}
    env.update({k.lower(): v for k, v in (FUNCTION_ENV.get() or {}).items()})
    values: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        raw = env.get(f"{prefix}{name}".lower())
        if raw is not None:
            values[name] = json.loads(raw) if _is_json(field.annotation) else raw
    return values


def _is_json(annotation: Any) -> bool:
    """Complex fields (dict, list, models) come as JSON, as pydantic-settings reads them."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return any(_is_json(a) for a in get_args(annotation) if a is not type(None))
    if origin in (dict, list, tuple, set, frozenset):
        return True
    return isinstance(annotation, type) and issubclass(annotation, (BaseModel, dict, list))


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
    ingest_dlq_url: str | None = None  # a delivery failing on its last receive goes here


class CompetitorSettings(_Settings):
    # The most listings one competitors run reads offers for (the channels' rate budgets).
    competitor_reads_per_run: int = Field(default=200, gt=0)


class ReconcileSettings(_Settings):
    # KEEL_DELIVERY_ADDRESSES (JSON, channel -> where its deliveries must arrive: the webhook
    # URL, or the notification queue's ARN): set by the stack once the API exists. A channel
    # not named: its subscriptions are not checked.
    keel_delivery_addresses: dict[str, str] = Field(default_factory=dict)


class QueueUrls(_Settings):
    """A queue's URLs: read with `_env_prefix=env_prefix(queue name)`."""

    queue_url: str
    dlq_url: str | None = None


class SecretName(_Settings):
    """A channel secret's name: read with `_env_prefix=env_prefix(channel)`. A channel with
    several accounts (shops, stores, sellers) has one secret each: the first account's is
    `<CHANNEL>_SECRET_NAME`, the others' `<CHANNEL>_ACCOUNT_SECRET_NAMES` (a JSON list)."""

    secret_name: str
    account_secret_names: list[str] = []


class RelaySettings(_Settings):
    """The relays' and the resync's: they read the catalog and trigger channel syncs. The
    inventory relay also reads which orders wait for stock, and wakes them (held-orders)."""

    catalog_table: str
    inventory_table: str | None = None
    held_orders_queue_url: str | None = None


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
    keel_carrier: str | None = None  # who parcels are booked with (None: the only carrier)
