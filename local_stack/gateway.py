"""The local API Gateway: HTTP requests -> REST API proxy events for the same handlers."""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from local_stack.http import Request, Response
from shared.wiring import Function, HttpRoute


def _route_pattern(path: str) -> re.Pattern[str]:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)
    return re.compile(f"^{regex}$")


class Gateway:
    """Routes come from the wiring; each request becomes one synchronous invocation."""

    def __init__(
        self,
        functions: tuple[Function, ...],
        invoke: Callable[[str, dict[str, Any]], Any],
        stage: str = "local",
    ) -> None:
        self._routes = [
            (f.trigger.method, f.trigger.path, _route_pattern(f.trigger.path), f.name)
            for f in functions
            if isinstance(f.trigger, HttpRoute)
        ]
        self._invoke = invoke
        self._stage = stage

    def __call__(self, request: Request) -> Response:
        for method, resource, pattern, function in self._routes:
            match = pattern.match(request.path)
            if match and request.method == method:
                event = self._event(request, resource, match.groupdict())
                try:
                    result = self._invoke(function, event)
                except Exception:
                    return Response.json(502, {"message": "Internal server error"})
                return self._response(result)
        return Response.json(404, {"message": "Missing Authentication Token"})

    def _event(self, request: Request, resource: str, params: dict[str, str]) -> dict[str, Any]:
        # The REST API declares binaryMediaTypes */*, so API Gateway hands every body over
        # base64-encoded, byte for byte: signatures are checked on exactly what was sent.
        body = base64.b64encode(request.body).decode() if request.body else None
        multi: dict[str, list[str]] = {}
        for key, value in request.headers.items():
            multi.setdefault(key, []).append(value)
        return {
            "resource": resource,
            "path": request.path,
            "httpMethod": request.method,
            "headers": dict(request.headers),
            "multiValueHeaders": multi,
            "queryStringParameters": {k: v[-1] for k, v in request.query.items()} or None,
            "multiValueQueryStringParameters": request.query or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "resourcePath": resource,
                "httpMethod": request.method,
                "path": f"/{self._stage}{request.path}",
                "stage": self._stage,
                "requestId": str(uuid.uuid4()),
                "requestTimeEpoch": int(time.time() * 1000),
                "identity": {"sourceIp": "127.0.0.1"},
            },
            "body": body,
            "isBase64Encoded": body is not None,
        }

    @staticmethod
    def _response(result: Any) -> Response:
        if not isinstance(result, dict) or "statusCode" not in result:
            return Response.json(502, {"message": "Internal server error"})
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
        return Response(int(result["statusCode"]), raw, dict(result.get("headers") or {}))
