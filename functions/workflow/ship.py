"""Workflow step: announce the order's parcel with the carrier (its key as the external
reference, so a retry after a lost answer finds the parcel instead of making a second)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from functions.workflow.carrier import carrier
from functions.workflow.steps import run, stores
from shared.services.workflow import ship

logger = Logger(service="keel-workflow-ship")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    shipment = run(
        logger, "Ship", event, lambda key: ship(stores(), key, carrier(), datetime.now(UTC))
    )
    return {"parcel_id": shipment.parcel_id, "tracking_number": shipment.tracking_number}
