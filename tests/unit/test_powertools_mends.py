"""Disabled metrics (the local stack) print nothing, however many invocations add them."""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from local_stack.powertools_mends import disabled_metrics_are_cleared


def _invocations(metrics: Metrics, count: int) -> None:
    for _ in range(count):  # each invocation adds one value, then log_metrics flushes
        metrics.add_metric(name="SyncTriggers", unit=MetricUnit.Count, value=1)
        metrics.flush_metrics()


def test_disabled_metrics_do_not_pile_up_into_a_printed_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    disabled_metrics_are_cleared()
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    _invocations(Metrics(namespace="Keel", service="keel-test-off"), 150)
    assert capsys.readouterr().out == ""  # before: one EMF line at the 100th value


def test_enabled_metrics_are_still_printed_once_per_flush(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    disabled_metrics_are_cleared()
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    _invocations(Metrics(namespace="Keel", service="keel-test-on"), 3)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all('"SyncTriggers":[1.0]' in line for line in lines)


def test_keel_local_up_prints_one_readable_line_per_log_record() -> None:
    """#21: its console mixed JSON documents with moto tracebacks."""
    from local_stack.powertools_mends import readable

    document = json.dumps(
        {
            "level": "INFO",
            "location": "record_handler:210",
            "message": "order taken",
            "timestamp": "2026-12-05 12:00:00,000+0000",
            "service": "keel-ingest",
            "cold_start": False,
            "function_name": "ingest",
            "xray_trace_id": "1-abc",
            "outcome": "reserved",
            "correlation_id": "shopify#shop#1",
        }
    )
    line = readable(document, 0.0)
    assert "\n" not in line and "{" not in line
    assert line.endswith(
        "ingest           order taken  outcome=reserved correlation_id=shopify#shop#1"
    )
    failed = json.dumps(
        {
            "level": "ERROR",
            "message": "delivery failed",
            "service": "keel-ingest",
            "exception_name": "RuntimeError",
            "exception": "Traceback (most recent call last):\n  ...\nRuntimeError: on fire",
        }
    )
    assert readable(failed, 0.0).endswith(
        "ERROR delivery failed  (RuntimeError: RuntimeError: on fire)"
    )
    assert readable("not json", 0.0) == "not json"
