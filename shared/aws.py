"""AWS clients, created once per process and reused across invocations (warm starts).

botocore's, not boto3's: Keel uses clients only, and `boto3.client` is botocore's client behind
boto3's session, whose import adds s3transfer and the resource layer to every cold start. One
botocore session per process, so clients share its loaded endpoint and model data.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import botocore.session


@cache
def _session() -> Any:
    return botocore.session.get_session()


@cache
def client(service: str) -> Any:
    """botocore honours AWS_ENDPOINT_URL, which is how the local stack points functions at moto."""
    return _session().create_client(service)


def reset_clients() -> None:
    """Tests start and stop moto; clients made before a mock started would miss it."""
    client.cache_clear()
    _session.cache_clear()


def invoke_json(lam: Any, function: str, event: dict[str, Any]) -> tuple[Any, str | None]:
    """Invoke a function synchronously with a JSON event, as its schedule would (`keel poll`,
    `keel resync`, `keel reconcile`, the demo): (its JSON answer, None), or (the error payload,
    its message) when the function raised."""
    import json

    answer = lam.invoke(FunctionName=function, Payload=json.dumps(event).encode())
    payload = json.loads(answer["Payload"].read() or b"{}")
    if "FunctionError" in answer:
        error = payload.get("errorMessage") if isinstance(payload, dict) else None
        return payload, str(error or answer["FunctionError"])
    return payload, None
