"""Workflow state Confirm: tell the channel the order shipped, with the carrier and tracking
number, through the channel's own adapter (the registry names it). Idempotent on the order key
(a retry finds it told, or the channel showing it: NothingToDo). Its retries run for hours (the
ASL's budget); a confirmation that never succeeds fails the workflow visibly, the stock long
committed."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from functions.workflow.steps import run
from shared.domain.orders import Order
from shared.domain.shipments import Shipment
from shared.runtime import runtime
from shared.services.workflow import confirm, shipment_confirmation

logger = Logger(service="keel-workflow-confirm")


def _tell(order: Order, shipment: Shipment) -> None:
    confirmer = runtime().channel(order.channel).shipment_confirmer(order.listing_account)
    confirmer.confirm_shipment(order, shipment_confirmation(order, shipment))


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, str | bool]:
    rt = runtime()
    told = run(
        logger, "Confirm", event, lambda key: confirm(rt.workflow_stores, key, _tell, rt.clock())
    )
    return {"confirmed": told}
