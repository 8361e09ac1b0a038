"""Workflow state Replan: the order was edited (or held) after its parcel was labelled. Cancel
that parcel, so Ship announces the order as it is now; if the carrier took it first, the commit
ships what the label carried or refuses with the reason."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from functions.workflow.steps import run
from shared.runtime import runtime
from shared.services.workflow import replan

logger = Logger(service="keel-workflow-replan")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, bool]:
    rt = runtime()
    again = run(logger, "Replan", event, lambda key: replan(rt.workflow_stores, key, rt.carrier()))
    return {"replanned": again}
