"""Part 4: import cost of each function's handler module, the part of a cold start Keel controls.

Method: for each function in the wiring, run a fresh `python -X importtime -c "import <module>"`
RUNS times and take the median of the module's cumulative import time, in three ways:
- `source`: the repo as it runs here (site-packages and the repo with their `.pyc`);
- `bundle`: as Lambda loads the bundle: the dependency layer (pip, as infra/bundling.py builds
  it, for this machine's Python and CPU since Lambda's 3.14 is not here) and the staged code,
  first on the path, with no `.pyc` and none written (Lambda's file system is read-only), boto3
  from site-packages (Lambda's runtime ships it compiled);
- `bundle_pyc`: the same bundle with `.pyc` compiled as infra/bundling.py now does.
The bundle is built once into .cache/bench-bundle/. Numbers are this machine's CPU, not
Graviton's, and noisy on a shared machine: compare the columns, not other runs.
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

from infra import bundling
from shared.wiring import WIRING

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "bench-bundle"
# `make bench QUICK=1`: the webhook and the heaviest handlers only.
QUICK = ("webhook", "ingest", "relay", "resync")


def import_time_ms(module: str, runs: int, path: list[Path] | None = None) -> float:
    env = dict(os.environ)
    if path is not None:
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in path)
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # read-only, as Lambda's /var/task and /opt
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            cwd=path[0] if path else ROOT,
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stderr
        for line in out.splitlines():
            parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
            if len(parts) == 3 and parts[2] == module:
                samples.append(int(parts[1]) / 1000)
    return round(statistics.median(samples), 1)


def _bundle(compiled: bool) -> list[Path]:
    """[code, layer] for this machine's Python, built once (the layer by pip, as for Lambda)."""
    version = "{}.{}".format(*sys.version_info[:2])
    key = hashlib.sha256(
        (ROOT / "requirements.lock").read_bytes() + bundling._RECIPE_VERSION.encode()
    ).hexdigest()[:12]
    base = CACHE / f"{key}-{version}"
    layer = base / "layer" / "python"
    if not layer.is_dir():
        shutil.rmtree(base, ignore_errors=True)
        bundling._pip_install(layer, version, platform.machine())
        bundling._prune_layer(layer)
    target = base / ("code-pyc" if compiled else "code")
    shutil.rmtree(target, ignore_errors=True)
    for package in bundling.CODE_PACKAGES:
        shutil.copytree(
            ROOT / package,
            target / package,
            ignore=shutil.ignore_patterns(*bundling._CODE_IGNORED),
        )
    layer_copy = base / ("layer-pyc" if compiled else "layer-plain")
    if not layer_copy.is_dir():
        shutil.copytree(layer, layer_copy, ignore=shutil.ignore_patterns("__pycache__"))
        if compiled:
            bundling._compile(layer_copy, Path(sys.executable))
    if compiled:
        bundling._compile(target, Path(sys.executable))
    return [target, layer_copy]


def run(runs: int = 5, bundle: bool = True, only: tuple[str, ...] | None = None) -> dict[str, Any]:
    paths: dict[str, list[Path] | None] = {"source": None}
    if bundle:
        paths.update({"bundle": _bundle(False), "bundle_pyc": _bundle(True)})
    rows: dict[str, dict[str, float]] = {}
    for function in WIRING.functions:
        if only is not None and function.name not in only:
            continue
        module = function.handler.split(":")[0]
        row = {mode: import_time_ms(module, runs, path) for mode, path in paths.items()}
        rows[function.name] = row
        print(f"  cold start {function.name:<18} {row}", flush=True)
    return {"runs": runs, "python": sys.version.split()[0], "ms": rows}


def main() -> None:
    result = run(runs=5, bundle="--source" not in sys.argv)
    print(f"Handler import time, median of {result['runs']} fresh interpreters")
    for name, row in result["ms"].items():
        print(f"  {name:<18} " + "  ".join(f"{k} {v:7.1f} ms" for k, v in row.items()))


if __name__ == "__main__":
    main()
