"""Workflow step after a failure it could not get past: the reason goes on the order."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from shared.runtime import runtime
from shared.services.workflow import record_failure

logger = Logger(service="keel-workflow-record-failure")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    order_key = str(event["order_key"])
    error = event.get("error") or {}
    logger.append_keys(correlation_id=order_key)
    rt = runtime()
    record_failure(rt.workflow_stores, order_key, error, rt.clock())
    logger.warning("order workflow failed", extra={"error": str(error.get("Error", ""))})
    return {"recorded": order_key}
