"""The composition root: one per function environment, settings that name what is missing,
adapters by capability from the registry."""

from __future__ import annotations

import pytest

from shared.channels.errors import PermanentError
from shared.runtime import MissingSetting, Runtime, reset, runtime
from shared.settings import FUNCTION_ENV, IngestSettings


@pytest.fixture(autouse=True)
def fresh() -> None:
    reset()


def test_each_function_environment_has_its_own_runtime_kept_while_warm() -> None:
    first = runtime()
    token = FUNCTION_ENV.set({"KEEL_CHANNEL": "bol"})
    try:
        assert runtime() is runtime() is not first
        assert runtime().channel_name() == "bol"
    finally:
        FUNCTION_ENV.reset(token)
    assert runtime() is first
    reset()
    assert runtime() is not first


def test_a_setting_a_function_was_not_given_is_named() -> None:
    with pytest.raises(MissingSetting, match="CATALOG_TABLE"):
        Runtime().settings(IngestSettings)
    with pytest.raises(MissingSetting, match="ORDERS_TABLE"):
        _ = Runtime().orders
    with pytest.raises(MissingSetting, match="KEEL_CHANNEL"):
        Runtime().channel_name()


def test_settings_are_read_once() -> None:
    rt = Runtime()
    token = FUNCTION_ENV.set({"ORDERS_TABLE": "o1"})
    try:
        assert rt.config.orders_table == "o1"
    finally:
        FUNCTION_ENV.reset(token)
    assert rt.config.orders_table == "o1"  # as a warm container keeps its configuration


def test_a_capability_the_registry_does_not_give_a_channel_is_a_permanent_error() -> None:
    kit = Runtime().channel("shopify")
    assert not kit.can("fetch_order") and kit.can("outbound_stock")
    with pytest.raises(PermanentError, match="shopify cannot fetch an order"):
        kit.order_fetcher()
    with pytest.raises(PermanentError, match="no channel 'etsy'"):
        Runtime().channel("etsy")


def test_the_clock_is_the_runtimes_own_when_given() -> None:
    from datetime import UTC, datetime

    at = datetime(2026, 1, 2, tzinfo=UTC)
    assert Runtime(clock=lambda: at).clock() == at
    assert Runtime().clock().tzinfo is UTC


def test_a_tool_builds_its_runtime_from_given_variables_and_clients() -> None:
    """`keel` (and the local stack) point the functions' root at a stack of their choosing."""
    made: list[str] = []

    def aws(service: str) -> str:
        made.append(service)
        return f"client:{service}"

    rt = Runtime(env={"ORDERS_TABLE": "t-orders"}, aws=aws)
    assert rt.config.orders_table == "t-orders"
    assert rt.aws("dynamodb") == "client:dynamodb" and made == ["dynamodb"]
    assert rt.orders.table == "t-orders"
    assert Runtime().config.orders_table is None  # nothing leaks into other runtimes
