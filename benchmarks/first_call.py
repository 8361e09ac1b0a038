"""Part 4, second figure: a cold start with its first invocation, not only the import.

The import figure (cold_start.py) leaves out what a handler does on its first call: its AWS
clients and their service models, secrets, settings, modules imported where they are used.
Those are paid by the first request as surely as the import is, so a trim that only moved
work from import to first call would show here.

Method. One local stack (as `make demo`, schedules off), a few SKUs seeded in process. Then
every function invocation is sent to a worker process of its own (`lambda_worker.py`), one per
function, as one Lambda environment: the bundle with `.pyc` on the path, Lambda's environment
(cold_start.lambda_env, Tracer on, a trace id per invocation) plus the local stack's endpoints
and resource names. ORDERS orders are placed one after the other through the channel
sandboxes, round-robin over the channels that send webhooks, each run until the stack is idle.
Per function that ran: `import_ms` (the handler's import in its worker), `first_call_ms` (its
first invocation), `warm_call_ms` (median of the later ones; None if it ran once), and
`cold_ms` = import + first call. Calls include their requests to moto and the sandboxes on this
machine (a few ms each), as a first call in AWS includes its requests. Which functions run
depends on the flow (webhook, ingest, relay, sync per channel, the workflow's first steps).
"""

from __future__ import annotations

import contextlib
import json
import statistics
import subprocess
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from benchmarks import cold_start
from benchmarks.propagation import Bench
from local_stack.stack import LocalConfig, LocalStack
from shared.wiring import WIRING, Function

ORDERS = 3
WORKER = Path(__file__).with_name("lambda_worker.py")
_COLD = threading.Lock()


@dataclass
class _Worker:
    function: Function
    process: subprocess.Popen[str]
    lock: threading.Lock = field(default_factory=threading.Lock)
    imports_ms: float | None = None
    calls_ms: list[float] = field(default_factory=list)

    def invoke(self, event: dict[str, Any]) -> Any:
        stdin: IO[str] | None = self.process.stdin
        stdout: IO[str] | None = self.process.stdout
        assert stdin is not None and stdout is not None
        # One cold start at a time (import and first call), as each Lambda environment has its
        # own CPU: on this 2-core machine concurrent ones would time each other.
        with self.lock, _COLD if not self.calls_ms else contextlib.nullcontext():
            stdin.write(json.dumps({"event": event, "request_id": str(uuid.uuid4())}) + "\n")
            stdin.flush()
            line = stdout.readline()
            if not line:
                raise RuntimeError(f"worker for {self.function.name} died")
            answer = json.loads(line)
            if answer["import_ms"] is not None:
                self.imports_ms = answer["import_ms"]
            self.calls_ms.append(answer["call_ms"])
        if answer["error"]:
            raise RuntimeError(answer["error"])
        return answer["result"]

    def row(self) -> dict[str, float | None]:
        first = self.calls_ms[0]
        warm = statistics.median(self.calls_ms[1:]) if len(self.calls_ms) > 1 else None
        return {
            "import_ms": round(self.imports_ms or 0.0, 1),
            "first_call_ms": round(first, 1),
            "warm_call_ms": None if warm is None else round(warm, 1),
            "cold_ms": round((self.imports_ms or 0.0) + first, 1),
        }


def run(orders: int = ORDERS) -> dict[str, Any]:
    code, layer, runtime = cold_start.bundle(compiled=True)
    by_name = {f.name: f for f in WIRING.functions}
    workers: dict[str, _Worker] = {}
    workers_lock = threading.Lock()
    config = LocalConfig(prefix="bench-cold", log_level="CRITICAL", timed_schedules=False)
    with LocalStack(config) as stack:
        bench = Bench(stack, skus=5)
        bench.seed()
        assert stack.resources is not None
        stack_env = {**stack._base_env(), **stack.resources.function_env()}
        for key in ("POWERTOOLS_TRACE_DISABLED", "POWERTOOLS_METRICS_DISABLED"):
            stack_env.pop(key)  # on, as in AWS

        def worker(name: str) -> _Worker:
            with workers_lock:
                if name not in workers:
                    function = by_name[name]
                    env = {
                        **stack_env,
                        **cold_start.lambda_env(function, code, runtime),
                        "PYTHONPATH": ":".join(str(p) for p in (code, layer, runtime)),
                    }
                    process = subprocess.Popen(
                        [
                            cold_start._base_python(),
                            "-S",
                            str(WORKER),
                            f"keel-{name}",
                            function.handler,
                            str(function.memory_mb),
                            str(function.timeout_s),
                        ],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL,
                        text=True,
                        env=env,
                        cwd=code,
                    )
                    workers[name] = _Worker(function, process)
                return workers[name]

        def in_worker(name: str) -> Any:
            return lambda event, context: worker(name).invoke(event)

        # The runtime looks each handler up per invocation: from here on, it is the worker's.
        stack.runtime._handler = in_worker  # type: ignore[method-assign]
        try:
            for n in range(orders):
                bench.place(n)
                stack.wait_idle(120, settle_s=1.0)
        finally:
            for w in workers.values():
                if w.process.stdin is not None:
                    w.process.stdin.close()
                w.process.wait(timeout=30)
    rows = {name: w.row() for name, w in workers.items() if w.calls_ms}
    for name, row in rows.items():
        print(f"  first call {name:<24} {row}", flush=True)
    return {"orders": orders, "ms": rows}


def main() -> None:
    result = run()
    print(f"Cold start with the first call, {result['orders']} orders")
    for name, row in result["ms"].items():
        print(f"  {name:<24} " + "  ".join(f"{k} {v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
