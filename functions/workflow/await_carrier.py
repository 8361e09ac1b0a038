"""Workflow step (.waitForTaskToken): leave the execution's token with the parcel; the carrier's
webhook answers it when the carrier takes the parcel."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from functions.workflow.steps import run
from shared.runtime import runtime
from shared.services.workflow import await_carrier

logger = Logger(service="keel-workflow-await-carrier")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, str | None]:
    token = str(event["task_token"])
    rt = runtime()
    state = run(
        logger,
        "WaitForCarrier",
        event,
        lambda key: await_carrier(rt.workflow_stores, key, token, rt.aws("stepfunctions")),
    )
    return {"state": state.value if state else None}
