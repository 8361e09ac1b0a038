"""`keel demo`'s scenario on a fresh stack: its own checks must all pass."""

from __future__ import annotations

import pytest

from local_stack.demo import run_demo
from local_stack.stack import LocalConfig, LocalStack

pytestmark = pytest.mark.e2e


def test_the_demo_passes_its_own_checks() -> None:
    with LocalStack(LocalConfig(prefix="demo", log_level="CRITICAL")) as fresh:
        report = run_demo(fresh)
    assert report.problems == []
    assert {r.sku: r.reserved for r in report.skus} == {
        "KEEL-MUG-BLUE": 3,
        "KEEL-TEE-M": 1,
        "KEEL-LAMP": 1,
    }
