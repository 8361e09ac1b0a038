"""Carriers' webhooks (`POST /carriers/{carrier}`): a parcel's status changed. Verified on the
exact bytes; "handed to the carrier" resumes the order's workflow once (a repeated event finds
the parcel already handed over); any other status is a heartbeat of the wait. Answers 200 to
whatever it verified (carriers retry anything else), 401 to what it did not."""

from __future__ import annotations

import base64
from typing import Any

from aws_lambda_powertools import Logger

from shared.carriers.registry import CARRIER_SPECS
from shared.channels.spec import load
from shared.runtime import runtime
from shared.services.workflow import carrier_progress, carrier_took

logger = Logger(service="keel-carrier-webhook")


def _respond(status: int, message: str) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "text/plain"}, "body": message}


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    carrier = (event.get("pathParameters") or {}).get("carrier", "")
    spec = CARRIER_SPECS.get(carrier)
    if spec is None:
        return _respond(404, f"no carrier {carrier!r}")
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    rt = runtime()
    secret = rt.secret(carrier)
    if not load(spec.verify)(str(secret[spec.secret_field]), raw, headers):
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
        sfn, stores = rt.aws("stepfunctions"), rt.workflow_stores
        order_key = carrier_took(stores, carrier, parcel.parcel_id, sfn, rt.clock())
        logger.info(
            "carrier took the parcel", extra={"order": order_key, "resumed": bool(order_key)}
        )
    else:
        beat = carrier_progress(
            rt.workflow_stores, carrier, parcel.parcel_id, rt.aws("stepfunctions")
        )
        logger.info("parcel status", extra={"heartbeat": beat})
    return _respond(200, "ok")
