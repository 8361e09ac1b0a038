"""The functions' Powertools Tracer: X-Ray for the handler and every AWS call, and for a
channel's HTTP calls where the function makes them.

Tracer() patches every library X-Ray supports by default, which in Lambda imports httpx and
sqlite3 at every cold start, whether the invocation calls a channel or not. botocore is patched
at once (every function calls AWS); httpx by `trace_http` where a function builds its client.
"""

from __future__ import annotations

from aws_lambda_powertools import Tracer


def new_tracer(service: str) -> Tracer:
    return Tracer(service=service, patch_modules=("botocore",))


def trace_http(tracer: Tracer | None = None) -> None:
    """Trace the httpx clients built from here on (X-Ray replaces `httpx.Client`): call it
    before building the client. Tracers share their configuration, so any one patches."""
    (tracer or Tracer(auto_patch=False)).patch(("httpx",))
