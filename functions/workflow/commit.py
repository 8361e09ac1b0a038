"""Workflow step: the goods left the shelf: on_hand and reserved fall, the ledger records the
shipment, the order is shipped, in one transaction (the streams tell every channel)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from functions.workflow.steps import run, stores
from shared.services.workflow import commit

logger = Logger(service="keel-workflow-commit")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, bool]:
    done = run(logger, "Commit", event, lambda key: commit(stores(), key, datetime.now(UTC)))
    return {"committed": done}
