"""The in-process Lambda hook: run a wiring function's real handler in this process.

Each invocation gets a Lambda-like context (name, ARN, memory, request id, remaining time).
Handlers are imported once, as Lambda keeps a warm container; `cold_start` forgets that state.
"""

from __future__ import annotations

import importlib
import io
import json
import sys
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.settings import FUNCTION_ENV
from shared.wiring import Function

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    timeout_s: int = 30

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_s * 1000


@dataclass
class Invocation:
    function: str
    ok: bool
    error: str | None = None


class LambdaRuntime:
    def __init__(self, functions: tuple[Function, ...], region: str, account: str) -> None:
        self._functions = {f.name: f for f in functions}
        self._handlers: dict[str, Handler] = {}
        self._region = region
        self._account = account
        self._lock = threading.Lock()
        self.invocations: list[Invocation] = []
        # Called after every invocation with (function, event, milliseconds): benchmarks count.
        self.observers: list[Callable[[str, dict[str, Any], float], None]] = []

    def _handler(self, name: str) -> Handler:
        with self._lock:
            if name not in self._handlers:
                module, attr = self._functions[name].handler.split(":")
                self._handlers[name] = getattr(importlib.import_module(module), attr)
            return self._handlers[name]

    def cold_start(self) -> None:
        """Forget warm state (clients, settings, cached secrets), as a new container would:
        the local stack's endpoints change from one start to the next."""
        from shared.runtime import reset

        reset()
        # Handlers and the modules they share (functions.workflow.steps) keep warm state too.
        for name, module in list(sys.modules.items()):
            if name == "functions" or name.startswith("functions."):
                _clear_module_caches(module)

    def invoke(self, name: str, event: dict[str, Any]) -> Any:
        """Exceptions propagate, as Lambda reports a function error to its caller."""
        function = self._functions[name]
        handler = self._handler(name)
        context = LambdaContext(
            function_name=f"keel-{name}",
            memory_limit_in_mb=function.memory_mb,
            invoked_function_arn=(
                f"arn:aws:lambda:{self._region}:{self._account}:function:keel-{name}"
            ),
            timeout_s=function.timeout_s,
        )
        token = FUNCTION_ENV.set(function.env or None)  # this function's own variables
        started = time.perf_counter()
        try:
            result = handler(event, context)
        except Exception as exc:
            self.invocations.append(Invocation(name, False, f"{type(exc).__name__}: {exc}"))
            raise
        finally:
            FUNCTION_ENV.reset(token)
            for observe in self.observers:
                observe(name, event, (time.perf_counter() - started) * 1000)
        self.invocations.append(Invocation(name, True))
        return result


def _clear_module_caches(module: Any) -> None:
    for value in vars(module).values():
        clear = getattr(value, "cache_clear", None)
        if callable(clear) and getattr(value, "__module__", None) == module.__name__:
            clear()


# --- moto's Lambda, running the real handlers ---------------------------------------------
# Every invocation path in moto (Invoke API, Step Functions tasks, event source mappings) goes
# through LambdaFunction._invoke_lambda, which wants Docker. Replacing that one method routes
# the functions the local stack registered to LambdaRuntime; any other function keeps moto's.

_REGISTERED: dict[str, tuple[LambdaRuntime, str]] = {}  # moto function name -> (runtime, name)
_hook_lock = threading.Lock()
_original: dict[str, Any] = {}  # "invoke" -> moto's own _invoke_lambda


def _moto_invoke(self: Any, event: Any = None) -> tuple[str, bool, str]:
    entry = _REGISTERED.get(self.function_name)
    if entry is None:
        result: tuple[str, bool, str] = _original["invoke"](self, event)
        return result
    runtime, name = entry
    payload = json.loads(event) if isinstance(event, (str, bytes)) else (event or {})
    try:
        response = runtime.invoke(name, payload)
    except Exception as exc:
        error = {"errorMessage": str(exc), "errorType": type(exc).__name__}
        return json.dumps(error), True, traceback.format_exc()
    return json.dumps(response, default=str), False, ""


def install_moto_hook() -> None:
    from moto.awslambda.models import LambdaFunction

    with _hook_lock:
        if "invoke" not in _original:
            _original["invoke"] = LambdaFunction._invoke_lambda
            LambdaFunction._invoke_lambda = _moto_invoke  # type: ignore[method-assign]


def register_in_moto(
    runtime: LambdaRuntime,
    functions: tuple[Function, ...],
    prefix: str,
    env: dict[str, str],
    lambda_client: Any,
    iam_client: Any,
) -> dict[str, str]:
    """Create the wiring's functions in moto so `lambda invoke` (and later Step Functions)
    runs them here. Returns logical name -> function ARN."""
    install_moto_hook()
    role = iam_client.create_role(
        RoleName=f"{prefix}-lambda",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    placeholder = io.BytesIO()
    with zipfile.ZipFile(placeholder, "w") as archive:
        archive.writestr("README.txt", "Runs in-process: see local_stack/lambda_runtime.py\n")
    arns = {}
    for function in functions:
        moto_name = f"{prefix}-{function.name}"
        module, attr = function.handler.split(":")
        arns[function.name] = lambda_client.create_function(
            FunctionName=moto_name,
            Runtime="python3.12",
            Role=role,
            Handler=f"{module}.{attr}",
            Code={"ZipFile": placeholder.getvalue()},
            Timeout=function.timeout_s,
            MemorySize=function.memory_mb,
            Architectures=["arm64"],
            Environment={"Variables": env},
        )["FunctionArn"]
        _REGISTERED[moto_name] = (runtime, function.name)
    return arns


def unregister_from_moto(prefix: str) -> None:
    for moto_name in [n for n in _REGISTERED if n.startswith(f"{prefix}-")]:
        del _REGISTERED[moto_name]
