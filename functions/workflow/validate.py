"""Workflow step: can this order be shipped as it is (SKUs, address, channel, reservation)?"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from functions.workflow.steps import run, stores
from shared.channels.registry import BY_NAME
from shared.services.workflow import validate

logger = Logger(service="keel-workflow-validate")


def _check(order_key: str) -> str:
    spec = BY_NAME.get(order_key.split("#", 1)[0])
    can_confirm = spec is not None and spec.confirm_shipment is not None
    validate(stores(), order_key, can_confirm)
    return "valid"


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    return {"validated": run(logger, "Validate", event, _check)}
