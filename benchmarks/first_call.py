"""Part 4, second figure: a cold start with its first invocation, not only the import.

The import figure (cold_start.py) leaves out what a handler does on its first call: its AWS
clients and their service models, secrets, settings, modules imported where they are used.
Those are paid by the first request as surely as the import is, so a trim that only moved
work from import to first call would show here.

Method. One local stack (as `make demo`, schedules off), a few SKUs seeded in process. Then,
ROUNDS times: every function of the wiring gets a worker process of its own
(`lambda_worker.py`), as one Lambda environment: the bundle with `.pyc` on the path, Lambda's
environment (cold_start.lambda_env: Tracer on, a trace id per invocation) plus the local
stack's endpoints and resource names. Each worker imports its handler when it starts (its
init), one at a time while the stack is idle, and says how long that took. Then ORDERS orders
are placed one after the other through the channel sandboxes (round-robin over the channels
that send webhooks), each run until the stack is idle, every invocation going to its
function's worker; then the workers end. Later rounds start only the functions that ran in
the first (one that runs anyway is started when first called). Per function that ran:
medians over the rounds of `import_ms`, `first_call_ms` (its first invocation),
`warm_call_ms` (its later ones; None if it ran once a round) and `cold_ms` (import + first
call, per round). Calls include their requests to moto and the sandboxes, served by this
process meanwhile (a few ms each; a first call in AWS makes its requests too). Which
functions run depends on the flow: webhook, ingest, relay, sync per channel, the workflow's
first steps. Noisy on a shared machine: compare a function's first call with its warm call,
not runs on other days.
"""

from __future__ import annotations

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

ORDERS = 2
ROUNDS = 3
WORKER = Path(__file__).with_name("lambda_worker.py")


@dataclass
class _Worker:
    function: Function
    process: subprocess.Popen[str]
    import_ms: float = 0.0
    calls_ms: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        return stdin, stdout

    def _answer(self) -> Any:
        line = self._pipes()[1].readline()
        if not line:
            raise RuntimeError(f"worker for {self.function.name} died")
        return json.loads(line)

    def ready(self) -> None:
        """Wait for the worker's init (the handler's import)."""
        self.import_ms = self._answer()["import_ms"]

    def invoke(self, event: dict[str, Any]) -> Any:
        stdin = self._pipes()[0]
        with self.lock:
            stdin.write(json.dumps({"event": event, "request_id": str(uuid.uuid4())}) + "\n")
            stdin.flush()
            answer = self._answer()
            self.calls_ms.append(answer["call_ms"])
        if answer["error"]:
            raise RuntimeError(answer["error"])
        return answer["result"]

    def stop(self) -> None:
        self._pipes()[0].close()
        self.process.wait(timeout=30)


def _start(function: Function, env: dict[str, str], code: Path) -> _Worker:
    process = subprocess.Popen(
        [
            str(cold_start.bench_python()[0]),
            "-S",
            str(WORKER),
            f"keel-{function.name}",
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
    return _Worker(function, process)


def run(orders: int = ORDERS, rounds: int = ROUNDS) -> dict[str, Any]:
    code, layer, runtime = cold_start.bundle(compiled=True)
    samples: dict[str, list[tuple[float, float, float | None]]] = {}
    config = LocalConfig(prefix="bench-cold", log_level="CRITICAL", timed_schedules=False)
    with LocalStack(config) as stack:
        bench = Bench(stack, skus=5)
        bench.seed()
        assert stack.resources is not None
        stack_env = {**stack._base_env(), **stack.resources.function_env()}
        for key in ("POWERTOOLS_TRACE_DISABLED", "POWERTOOLS_METRICS_DISABLED"):
            stack_env.pop(key)  # on, as in AWS
        path = ":".join(str(p) for p in (code, layer, runtime))
        placed = 0
        by_name = {f.name: f for f in WIRING.functions}
        ran = set(by_name)  # the first round starts every function; later ones what ran
        for _ in range(rounds):
            workers: dict[str, _Worker] = {}
            starting = threading.Lock()

            def start(name: str, workers: dict[str, _Worker] = workers) -> _Worker:
                function = by_name[name]
                env = {**stack_env, **cold_start.lambda_env(function, code, runtime)}
                worker = workers[name] = _start(function, {**env, "PYTHONPATH": path}, code)
                worker.ready()
                return worker

            for name in by_name:  # one init at a time, the stack idle
                if name in ran:
                    start(name)

            def in_worker(
                name: str,
                workers: dict[str, _Worker] = workers,
                starting: threading.Lock = starting,
                start: Any = start,
            ) -> Any:
                with starting:  # one that did not run in the first round: started when called
                    worker = workers.get(name) or start(name)
                return lambda event, context: worker.invoke(event)

            # The runtime looks each handler up per invocation: from here on, the workers'.
            stack.runtime._handler = in_worker  # type: ignore[method-assign]
            try:
                for _ in range(orders):
                    bench.place(placed)
                    placed += 1
                    stack.wait_idle(120, settle_s=1.0)
            finally:
                del stack.runtime._handler  # the runtime's own again
                for worker in workers.values():
                    worker.stop()
            ran = {name for name, worker in workers.items() if worker.calls_ms}
            for name, worker in workers.items():
                if worker.calls_ms:
                    first, later = worker.calls_ms[0], worker.calls_ms[1:]
                    warm = statistics.median(later) if later else None
                    samples.setdefault(name, []).append((worker.import_ms, first, warm))
    rows = {name: _row(runs) for name, runs in samples.items()}
    for name, row in rows.items():
        print(f"  first call {name:<24} {row}", flush=True)
    return {"orders": orders, "rounds": rounds, "ms": rows}


def _row(runs: list[tuple[float, float, float | None]]) -> dict[str, float | None]:
    warm = [w for _, _, w in runs if w is not None]
    return {
        "import_ms": round(statistics.median(i for i, _, _ in runs), 1),
        "first_call_ms": round(statistics.median(f for _, f, _ in runs), 1),
        "warm_call_ms": round(statistics.median(warm), 1) if warm else None,
        "cold_ms": round(statistics.median(i + f for i, f, _ in runs), 1),
        "rounds": len(runs),
    }


def main() -> None:
    result = run()
    print(f"Cold start with the first call, {result['rounds']} rounds of {result['orders']} orders")
    for name, row in result["ms"].items():
        print(f"  {name:<24} " + "  ".join(f"{k} {v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
