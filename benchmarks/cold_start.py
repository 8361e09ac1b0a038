"""Import cost of each function's handler module: the part of a cold start Keel controls.

Method: for each function in the wiring, run a fresh `python -X importtime -c "import <module>"`
RUNS times and take the median of the module's cumulative import time (microseconds, as
importtime reports it). Run on an idle machine; numbers are for this machine's CPU, not Lambda's.
The webhook is the one Shopify times (5 s, cold start included), so it is listed first.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

from shared.wiring import WIRING

ROOT = Path(__file__).resolve().parents[1]
RUNS = 5


def import_time_ms(module: str) -> float:
    samples = []
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stderr
        for line in out.splitlines():
            parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
            if len(parts) == 3 and parts[2] == module:
                samples.append(int(parts[1]) / 1000)
    return statistics.median(samples)


def main() -> None:
    print(f"Handler import time, median of {RUNS} fresh interpreters ({sys.version.split()[0]})")
    for function in WIRING.functions:
        module = function.handler.split(":")[0]
        print(f"  {function.name:<18} {import_time_ms(module):8.1f} ms   {module}")


if __name__ == "__main__":
    main()
