"""Workflow step after a cancellation: undo in reverse what was done (the parcel, unless the
carrier has it: then the goods left and are committed; the reservation went with the
cancellation itself)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from functions.workflow.carrier import carrier
from functions.workflow.steps import run, stores
from shared.services.workflow import compensate

logger = Logger(service="keel-workflow-compensate")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    done = run(
        logger,
        "Compensate",
        event,
        lambda key: compensate(stores(), key, carrier(), datetime.now(UTC)),
    )
    return {"compensated": done}
