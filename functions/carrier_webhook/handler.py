"""Carriers' webhooks (`POST /carriers/{carrier}`): a parcel's status changed. Verified on the
exact bytes; "handed to the carrier" resumes the order's workflow once (a repeated event finds
the parcel already handed over); any other status is a heartbeat of the wait. Answers 200 to
whatever it verified (carriers retry anything else), 401 to what it did not."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from shared.aws import client
from shared.carriers.registry import CARRIER_SPECS
from shared.channels.spec import load
from shared.secret_cache import get_json
from shared.services.workflow import Stores, carrier_progress, carrier_took
from shared.settings import SecretName, WorkflowSettings, env_prefix

logger = Logger(service="keel-carrier-webhook")


@cache
def _sfn() -> Any:
    return client("stepfunctions")


def _secret(carrier: str) -> dict[str, Any]:
    name = SecretName(_env_prefix=env_prefix(carrier)).secret_name  # type: ignore[call-arg]
    secret = get_json(name, 300)
    if not isinstance(secret, dict):
        raise RuntimeError(f"secret for {carrier} is not a JSON object")
    return secret


def _respond(status: int, message: str) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "text/plain"}, "body": message}


@cache
def _settings() -> WorkflowSettings:
    return WorkflowSettings()  # type: ignore[call-arg]  # values come from the environment


@cache
def stores() -> Stores:
    """The workflow's stores, on the same table (a parcel taken after its wait ended is
    committed here: the inventory table too)."""
    s = _settings()
    return Stores.connect(s.orders_table, s.inventory_table, client("dynamodb"))


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    carrier = (event.get("pathParameters") or {}).get("carrier", "")
    spec = CARRIER_SPECS.get(carrier)
    if spec is None:
        return _respond(404, f"no carrier {carrier!r}")
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    if not load(spec.verify)(str(_secret(carrier)[spec.secret_field]), raw, headers):
        logger.warning("rejected carrier webhook: bad signature", extra={"carrier": carrier})
        return _respond(401, "invalid signature")
    try:
        parcel = load(spec.parse_event)(raw)
    except ValueError as exc:  # signed but unreadable: a retry would not fix it
        logger.warning("carrier webhook not understood", extra={"error": str(exc)[:300]})
        return _respond(200, "not understood")
    if parcel is None:
        return _respond(200, "not a parcel status")
    logger.append_keys(parcel_id=parcel.parcel_id, status_id=parcel.status_id)
    if parcel.status_id in spec.handed_over:
        order_key = carrier_took(stores(), carrier, parcel.parcel_id, _sfn(), datetime.now(UTC))
        logger.info(
            "carrier took the parcel", extra={"order": order_key, "resumed": bool(order_key)}
        )
    else:
        beat = carrier_progress(stores(), carrier, parcel.parcel_id, _sfn())
        logger.info("parcel status", extra={"heartbeat": beat})
    return _respond(200, "ok")
