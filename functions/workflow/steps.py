"""What every task function of the order workflow shares: its stores, its Step Functions
client, and the runner that names the order in logs and remembers where a failure stopped."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from aws_lambda_powertools import Logger

from shared.aws import client
from shared.services.workflow import Stores, step
from shared.settings import WorkflowSettings

T = TypeVar("T")


@cache
def settings() -> WorkflowSettings:
    return WorkflowSettings()  # type: ignore[call-arg]  # values come from the environment


@cache
def stores() -> Stores:
    s = settings()
    # Only the commit step writes stock; the others never touch the inventory table.
    return Stores.connect(s.orders_table, s.inventory_table, client("dynamodb"))


def run(logger: Logger, name: str, event: dict[str, Any], work: Callable[[str], T]) -> T:
    order_key = str(event["order_key"])
    logger.append_keys(correlation_id=order_key, step=name)
    result: T = step(name, stores(), order_key, lambda: work(order_key))
    logger.info("step done", extra={"result": str(result)[:200]})
    return result
