"""One function's Lambda environment, for `first_call.py`: run as a script by the bundle's
interpreter (stdlib only here), it imports the handler (its init: Lambda's runtime bootstrap
first, as in Lambda), says how long that took, then answers invocations one per line.

Protocol: the worker's first line is `{"import_ms": ...}`; then the parent writes one JSON line
per invocation (`{"event": ..., "request_id": ...}`) and the worker answers one JSON line
(`{"result": ..., "error": ..., "call_ms": ...}`), on the stdout it was started with. The
handler's own stdout (logs, EMF metrics) goes to stderr, as everything a function prints goes
to its log stream. Arguments: function name, handler ("module:function"), memory MB, timeout s.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import secrets
import sys
import time
import traceback
from typing import Any

if sys.path and sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]  # the benchmarks folder is not part of the bundle


class Context:
    def __init__(self, name: str, memory_mb: int, timeout_s: int, request_id: str) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:eu-west-1:123456789012:function:{name}"
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "bench"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def main() -> None:
    name, handler_path, memory_mb, timeout_s = sys.argv[1:5]
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # the handler's prints and logs go to the log stream (stderr)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    with contextlib.suppress(ImportError):  # Lambda's runtime imports the handler from it
        importlib.import_module("awslambdaric.bootstrap")
    module_name, _, attribute = handler_path.partition(":")
    started = time.perf_counter()
    handler = getattr(importlib.import_module(module_name), attribute)
    import_ms = (time.perf_counter() - started) * 1000
    answers.write(json.dumps({"import_ms": import_ms}) + "\n")
    answers.flush()
    for line in sys.stdin:
        request = json.loads(line)
        # As Lambda's runtime does per invocation: the trace the X-Ray SDK continues.
        os.environ["_X_AMZN_TRACE_ID"] = (
            f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};"
            f"Parent={secrets.token_hex(8)};Sampled=1"
        )
        context = Context(name, int(memory_mb), int(timeout_s), request["request_id"])
        result: Any = None
        error = None
        started = time.perf_counter()
        try:
            result = handler(request["event"], context)
        except Exception as exc:  # reported to the caller, as Lambda reports a function error
            error = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        call_ms = (time.perf_counter() - started) * 1000
        answer = {"result": result, "error": error, "call_ms": call_ms}
        answers.write(json.dumps(answer, default=str) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
