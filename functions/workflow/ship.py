"""Workflow state ValidateAndShip: can this order be shipped as it is (SKUs, address, channel,
reservation)? Then announce its parcel with the carrier (the order key as the external
reference, so a retry after a lost answer finds the parcel instead of making a second). Two
steps in one task (one state transition): both are idempotent on the order key, so a retry or
a redrive runs them again safely."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from functions.workflow.steps import run
from shared.channels.registry import BY_NAME
from shared.runtime import runtime
from shared.services.workflow import ship, validate

logger = Logger(service="keel-workflow-ship")


def _check(order_key: str) -> str:
    spec = BY_NAME.get(order_key.split("#", 1)[0])
    can_confirm = spec is not None and spec.confirm_shipment is not None
    validate(runtime().workflow_stores, order_key, can_confirm)
    return "valid"


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    run(logger, "Validate", event, _check)
    rt = runtime()
    shipment = run(
        logger, "Ship", event, lambda key: ship(rt.workflow_stores, key, rt.carrier(), rt.clock())
    )
    return {"parcel_id": shipment.parcel_id, "tracking_number": shipment.tracking_number}
