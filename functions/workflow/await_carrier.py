"""Workflow step (.waitForTaskToken): leave the execution's token with the parcel; the carrier's
webhook answers it when the carrier takes the parcel."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from functions.workflow.steps import run, stores
from shared.aws import client
from shared.services.workflow import await_carrier

logger = Logger(service="keel-workflow-await-carrier")


@cache
def _sfn() -> Any:
    return client("stepfunctions")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, str | None]:
    token = str(event["task_token"])
    state = run(
        logger, "WaitForCarrier", event, lambda key: await_carrier(stores(), key, token, _sfn())
    )
    return {"state": state.value if state else None}
