"""Workflow state Commit: the carrier took the parcel, so its goods left the shelf: on_hand and
reserved fall, the ledger records the shipment and the order is shipped, in one transaction
(the streams tell every channel) — exactly what the label carried, or a refusal with the reason.
It comes before the channel is told, and never waits for it."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from functions.workflow.steps import run
from shared.runtime import runtime
from shared.services.workflow import commit

logger = Logger(service="keel-workflow-commit")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, str | bool]:
    rt = runtime()
    done = run(logger, "Commit", event, lambda key: commit(rt.workflow_stores, key, rt.clock()))
    return {"committed": done}
