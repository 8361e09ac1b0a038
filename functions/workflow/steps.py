"""What every task function of the order workflow shares: the runner that names the order in
logs and remembers where a failure stopped. Stores, clients and the carrier come from the
composition root (shared/runtime.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger

from shared.runtime import runtime
from shared.services.workflow import step

T = TypeVar("T")


def run(logger: Logger, name: str, event: dict[str, Any], work: Callable[[str], T]) -> T:
    order_key = str(event["order_key"])
    logger.append_keys(correlation_id=order_key, step=name)
    result: T = step(name, runtime().workflow_stores, order_key, lambda: work(order_key))
    logger.info("step done", extra={"result": str(result)[:200]})
    return result
