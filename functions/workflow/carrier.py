"""The carrier the workflow books parcels with, built from its registry record and secret."""

from __future__ import annotations

from functools import cache
from typing import Any

import httpx

from functions.workflow.steps import settings
from shared.carriers.registry import workflow_carrier
from shared.channels.spec import load
from shared.secret_cache import get_json
from shared.services.workflow import Carrier
from shared.settings import SecretName, env_prefix


@cache
def _http() -> httpx.Client:
    return httpx.Client(timeout=httpx.Timeout(20.0, connect=3.0))


def carrier() -> Carrier:
    """The environment's carrier (configuration: KEEL_CARRIER, else the only one registered)."""
    spec = workflow_carrier(settings().keel_carrier)
    name = SecretName(_env_prefix=env_prefix(spec.name)).secret_name  # type: ignore[call-arg]
    secret: Any = get_json(name, settings().secret_cache_seconds)
    built: Carrier = load(spec.client)(load(spec.secret_schema).model_validate(secret), _http())
    return built
