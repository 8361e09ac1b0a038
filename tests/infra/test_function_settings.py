"""Each function starts with exactly the environment the stack gives it.

The local stack gives every function every variable (one process), so a variable missing from
a function's AWS environment would only show in AWS. This builds each function's environment
the way infra does and runs the function's own settings loading with nothing else set.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from infra.compute import function_environment
from infra.config import CONFIGS
from shared.wiring import WIRING


def _webhook() -> object:
    from functions.webhook import handler

    handler._env.cache_clear()
    try:
        return handler._env()
    finally:
        handler._env.cache_clear()


def _settings(name: str) -> Callable[[], object]:
    def load() -> object:
        from shared import settings

        return getattr(settings, name)()

    return load


LOADERS: dict[str, Callable[[], object]] = {
    "webhook": _webhook,
    "ingest": _settings("IngestSettings"),
    "relay": _settings("RelaySettings"),
    "sync-woocommerce": _settings("SyncWooSettings"),
}


def test_every_function_has_a_settings_loader() -> None:
    assert set(LOADERS) == {f.name for f in WIRING.functions}


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_settings_load_from_the_stack_environment_alone(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = WIRING.function(name)
    env = function_environment(
        spec,
        CONFIGS["prod"],
        table_names={t.name: f"t-{t.name}" for t in WIRING.tables},
        queue_urls={q.name: f"https://sqs/{q.name}" for q in WIRING.queues},
        dlq_urls={q.name: f"https://sqs/{q.name}-dlq" for q in WIRING.queues},
        secret_names={s: f"keel/prod/{s}" for s in WIRING.secrets},
        bucket_names={b.name: f"b-{b.name}" for b in WIRING.buckets},
    )
    for key in list(__import__("os").environ):
        if key.endswith(("_TABLE", "_QUEUE_URL", "_DLQ_URL", "_SECRET_NAME", "_BUCKET")):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert LOADERS[name]() is not None
