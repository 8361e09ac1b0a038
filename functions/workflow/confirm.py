"""Workflow state Confirm: tell the channel the order shipped, with the carrier and tracking
number, through the channel's own adapter (the registry names it). Idempotent on the order key
(a retry finds it told, or the channel showing it: NothingToDo). Its retries run for hours (the
ASL's budget); a confirmation that never succeeds fails the workflow visibly, the stock long
committed."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

import httpx
from aws_lambda_powertools import Logger

from functions.workflow.steps import run, settings, stores
from shared.channels.errors import PermanentError
from shared.channels.registry import BY_NAME
from shared.channels.spec import load
from shared.domain.orders import Order
from shared.domain.shipments import Shipment
from shared.secret_cache import get_json
from shared.services.workflow import confirm
from shared.settings import SecretName, env_prefix

logger = Logger(service="keel-workflow-confirm")


@cache
def _http() -> httpx.Client:
    return httpx.Client(timeout=httpx.Timeout(20.0, connect=3.0))


def _tell(order: Order, shipment: Shipment) -> None:
    from shared.channels.port import ShipmentConfirmation

    spec = BY_NAME[order.channel]
    if spec.confirm_shipment is None:
        raise PermanentError(f"{order.channel} cannot be told of shipments", channel=order.channel)
    name = SecretName(_env_prefix=env_prefix(order.channel)).secret_name  # type: ignore[call-arg]
    secret = get_json(name, settings().secret_cache_seconds)
    adapter = load(spec.confirm_shipment)(load(spec.secret_schema).model_validate(secret), _http())
    adapter.confirm_shipment(
        order,
        ShipmentConfirmation(
            carrier=shipment.carrier_service or shipment.carrier,
            tracking_number=shipment.tracking_number,
            tracking_url=shipment.tracking_url,
            lines=tuple((ln.line_id, ln.quantity) for ln in order.lines if ln.stock),
        ),
    )


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, str | bool]:
    told = run(
        logger, "Confirm", event, lambda key: confirm(stores(), key, _tell, datetime.now(UTC))
    )
    return {"confirmed": told}
