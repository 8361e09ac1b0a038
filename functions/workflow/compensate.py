"""Workflow step after a cancellation: undo in reverse what was done (the parcel, unless the
carrier has it: then the goods left and are committed; the reservation went with the
cancellation itself)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from functions.workflow.steps import run
from shared.runtime import runtime
from shared.services.workflow import compensate

logger = Logger(service="keel-workflow-compensate")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    rt = runtime()
    done = run(
        logger,
        "Compensate",
        event,
        lambda key: compensate(rt.workflow_stores, key, rt.carrier(), rt.clock()),
    )
    return {"compensated": done}
