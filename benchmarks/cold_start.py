"""Part 4: import cost of each function's handler module, the part of a cold start Keel controls.

Method: for every function in the wiring (functions that share a handler module share its
figure: the import is the same), run a fresh `python -X importtime -c "import <module>"` RUNS
times and take the median of the module's cumulative import time, in three ways:
- `source`: the repo as it runs here (the venv's interpreter and site-packages with their
  `.pyc`, this process's environment; outside Lambda, Powertools' Tracer is disabled but
  still builds the X-Ray recorder, whose sampler makes two botocore clients);
- `bundle`: as Lambda loads the bundle: Lambda's Python version (3.14, see `bench_python`)
  without site-packages (`-S`), `sys.path` = the staged code, the dependency layer (pip, as
  infra/bundling.py builds it, for that version and this machine's CPU), then what Lambda's
  runtime ships (boto3, botocore, s3transfer, compiled, and its runtime interface client
  awslambdaric, whose bootstrap is imported first, as Lambda's runtime imports the handler
  from it); no `.pyc` in the code or the layer and none written (Lambda's file system is
  read-only);
  Lambda's environment (`LAMBDA_TASK_ROOT`, the function's name, region, X-Ray daemon
  address, the function's Powertools variables and its own `env`), so the Tracer is enabled
  and patches what it patches in Lambda;
- `bundle_pyc`: the same bundle with `.pyc` compiled as infra/bundling.py does. The goals of
  issue #11 are read on this column.
The bundle is built once into .cache/bench-bundle/. Numbers are this machine's CPU, not
Graviton's, and noisy on a shared machine: compare the columns, not other runs.
What the figure leaves out: the runtime's own start (interpreter, Lambda's bootstrap) and
anything a handler does on its first call rather than at import; `first_call.py` measures
import + first call + a warm call of an order's flow, in fresh processes.
The webhook is the one Shopify times (5 s, cold start included), so it is listed first.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from infra import bundling, lambda_python
from shared.wiring import WIRING, Function

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "bench-bundle"
REGION = "eu-west-1"
# What Lambda's Python runtime ships: boto3 (left out of the layer by infra/bundling.py) and
# its runtime interface client, whose bootstrap imports the handler (it has loaded logging, json,
# decimal and traceback by then; the handler's import does not pay for them again).
RUNTIME_PACKAGES = (*bundling.EXCLUDED_FROM_LAYER, "awslambdaric==4.2.2")
BOOTSTRAP = "awslambdaric.bootstrap"


def handler_modules(functions: tuple[Function, ...] = WIRING.functions) -> dict[str, list[str]]:
    """Handler module -> the functions that run it, in wiring order (webhook first)."""
    modules: dict[str, list[str]] = {}
    for function in functions:
        modules.setdefault(function.handler.split(":")[0], []).append(function.name)
    return modules


def lambda_env(function: Function, code: Path, runtime: Path) -> dict[str, str]:
    """The variables Lambda sets for a function (its own from the wiring; resource names are
    left out: nothing reads them at import)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(code),
        "LAMBDA_RUNTIME_DIR": str(runtime),
        "_HANDLER": function.handler.replace(":", "."),
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{bundling.LAMBDA_PYTHON_VERSION}",
        "AWS_LAMBDA_FUNCTION_NAME": f"keel-dev-{function.name}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        # Lambda's is 169.254.79.129:2000; nothing is sent at import, loopback all the same.
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "POWERTOOLS_SERVICE_NAME": f"keel-{function.name}",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_METRICS_NAMESPACE": "Keel",
        "PYTHONDONTWRITEBYTECODE": "1",  # read-only, as Lambda's /var/task and /opt
    }
    env.update(function.env)
    return env


def bench_python() -> tuple[Path, str]:
    """(interpreter, its version) that loads the bundles: Lambda's Python version, fetched by
    the build from Debian's packages with its whole standard library (infra/lambda_python.py),
    run without site-packages (`-S`) as Lambda's sees only the bundle and the runtime's own
    packages; where it cannot be had, the interpreter under this venv."""
    version = bundling.LAMBDA_PYTHON_VERSION
    python = lambda_python.provision(version, full=True)
    if python is not None:
        return python, version
    base = getattr(sys, "_base_executable", None) or sys.executable
    return Path(base), "{}.{}".format(*sys.version_info[:2])


def import_time_ms(
    module: str,
    runs: int,
    path: list[Path] | None = None,
    env: dict[str, str] | None = None,
) -> float:
    """Median cumulative `-X importtime` of `module`: the repo as it runs here (path None), or
    a bundle (`path` first on sys.path, no site-packages, `env` only)."""
    if path is None:
        command = [sys.executable, "-X", "importtime", "-c", f"import {module}"]
        run_env = dict(os.environ)
    else:
        code = f"import {BOOTSTRAP}; import {module}"
        command = [str(bench_python()[0]), "-S", "-X", "importtime", "-c", code]
        run_env = {**(env or {}), "PYTHONPATH": os.pathsep.join(str(p) for p in path)}
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            command,
            cwd=path[0] if path else ROOT,
            capture_output=True,
            text=True,
            check=True,
            env=run_env,
        ).stderr
        for line in out.splitlines():
            parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
            if len(parts) == 3 and parts[2] == module:
                samples.append(int(parts[1]) / 1000)
    return round(statistics.median(samples), 1)


def _pip_target(into: Path, packages: list[str], version: str) -> None:
    """Wheels for `version` on this machine's CPU (as bundling builds the layer for Lambda's)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--target",
            str(into),
            "--platform",
            f"manylinux2014_{platform.machine()}",
            "--implementation",
            "cp",
            "--python-version",
            version,
            "--only-binary=:all:",
            "--constraint",
            str(ROOT / "requirements.lock"),
            *packages,
        ],
        check=True,
        capture_output=True,
    )


def bundle(compiled: bool, root: Path = ROOT) -> list[Path]:
    """[code, layer, runtime] for this machine's Python, built once (the layer by pip, as for
    Lambda; the runtime's boto3 always compiled, as Lambda ships it)."""
    python, version = bench_python()
    key = hashlib.sha256(
        (root / "requirements.lock").read_bytes() + bundling._RECIPE_VERSION.encode()
    ).hexdigest()[:12]
    base = CACHE / f"{key}-{version}"
    layer = base / "layer" / "python"
    if not layer.is_dir():
        shutil.rmtree(base, ignore_errors=True)
        bundling._pip_install(layer, version, platform.machine())
        bundling._prune_layer(layer)
    runtime = base / f"runtime-{hashlib.sha256(repr(RUNTIME_PACKAGES).encode()).hexdigest()[:8]}"
    if not runtime.is_dir():
        staging = runtime.with_name("runtime.building")
        shutil.rmtree(staging, ignore_errors=True)
        _pip_target(staging, list(RUNTIME_PACKAGES), version)
        bundling._compile(staging, python)
        staging.rename(runtime)
    target = base / ("code-pyc" if compiled else "code")
    shutil.rmtree(target, ignore_errors=True)
    for package in bundling.CODE_PACKAGES:
        shutil.copytree(
            root / package,
            target / package,
            ignore=shutil.ignore_patterns(*bundling._CODE_IGNORED),
        )
    layer_copy = base / ("layer-pyc" if compiled else "layer-plain")
    if not layer_copy.is_dir():
        shutil.copytree(layer, layer_copy, ignore=shutil.ignore_patterns("__pycache__"))
        if compiled:
            bundling._compile(layer_copy, python)
    if compiled:
        bundling._compile(target, python)
    return [target, layer_copy, runtime]


def run(
    runs: int = 5,
    modes: tuple[str, ...] = ("source", "bundle", "bundle_pyc"),
    runs_by_mode: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Every function of the wiring; each handler module measured once per mode
    (`runs_by_mode`: fewer runs for a mode the goals are not read on)."""
    runs_by_mode = runs_by_mode or {}
    paths: dict[str, list[Path] | None] = {}
    for mode in modes:
        paths[mode] = None if mode == "source" else bundle(compiled=mode == "bundle_pyc")
    by_name = {f.name: f for f in WIRING.functions}
    rows: dict[str, dict[str, float]] = {}
    for module, names in handler_modules().items():
        function = by_name[names[0]]
        row = {}
        for mode, path in paths.items():
            env = None if path is None else lambda_env(function, path[0], path[2])
            row[mode] = import_time_ms(module, runs_by_mode.get(mode, runs), path, env)
        for name in names:
            rows[name] = row
        print(f"  cold start {module:<34} {row}", flush=True)
    loads = subprocess.run(
        [str(bench_python()[0]), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    python = {"source": platform.python_version(), "bundle": loads}
    return {"runs": {m: runs_by_mode.get(m, runs) for m in modes}, "python": python, "ms": rows}


def main() -> None:
    modes = ("source",) if "--source" in sys.argv else ("source", "bundle", "bundle_pyc")
    result = run(runs=5, modes=modes)
    print(f"Handler import time, medians of fresh interpreters (runs: {result['runs']})")
    for name, row in result["ms"].items():
        print(f"  {name:<18} " + "  ".join(f"{k} {v:7.1f} ms" for k, v in row.items()))


if __name__ == "__main__":
    main()
