"""Powertools as the local stack runs it: metrics are disabled there (POWERTOOLS_METRICS_DISABLED,
nothing collects EMF locally), but Powertools' flush then neither prints nor clears the metric
set, and `add_metric` prints the set whenever one metric reaches 100 values, disabled or not:
every process that handled 100 changes printed a line of EMF JSON into the demo's and the
bench's output. Locally, a disabled flush clears the set, as an enabled one does after printing.
In Lambda metrics are on and nothing here runs."""

from __future__ import annotations

import functools
import threading
from typing import Any

_lock = threading.Lock()
_applied: set[str] = set()


def disabled_metrics_are_cleared() -> None:
    """Install the mend (idempotent, process-wide)."""
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
        AmazonCloudWatchEMFProvider,
    )

    with _lock:
        if "metrics" in _applied:
            return
        flush = AmazonCloudWatchEMFProvider.flush_metrics

        @functools.wraps(flush)
        def flush_metrics(self: Any, raise_on_empty_metrics: bool = False) -> None:
            if is_metrics_disabled():
                self.clear_metrics()
                return
            flush(self, raise_on_empty_metrics)

        AmazonCloudWatchEMFProvider.flush_metrics = flush_metrics  # type: ignore[method-assign]
        _applied.add("metrics")


# What a person watching `keel local up` needs of a log record; the rest (Lambda context,
# sampling, X-Ray) is for CloudWatch.
_DROPPED = frozenset(
    {
        "timestamp",
        "location",
        "xray_trace_id",
        "sampling_rate",
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "service",
        "message",
        "level",
        "exception",
        "exception_name",
        "stack_trace",
    }
)


def readable(document: str, created: float) -> str:
    """One Powertools JSON log document as one line for a person."""
    import json
    import time

    try:
        fields = json.loads(document)
    except ValueError:
        return document
    if not isinstance(fields, dict):
        return document
    when = time.strftime("%H:%M:%S", time.localtime(created))
    service = str(fields.get("service", "")).removeprefix("keel-")
    level = "" if fields.get("level") == "INFO" else f"{fields.get('level')} "
    extras = " ".join(f"{k}={v}" for k, v in fields.items() if k not in _DROPPED)
    line = f"{when} {service:<16} {level}{fields.get('message', '')}"
    if extras:
        line += f"  {extras}"
    if fields.get("exception_name"):
        last = str(fields.get("exception", "")).strip().splitlines()[-1:] or [""]
        line += f"  ({fields['exception_name']}: {last[0][:200]})"
    return line


def readable_log_lines() -> None:
    """`keel local up`: one readable line per event (`12:01:02 ingest  order taken
    outcome=reserved correlation_id=...`), not a JSON document; an exception as its class and
    last line. Only the local CLI installs it; handlers in Lambda log JSON."""
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    with _lock:
        if "readable" in _applied:
            return
        original = LambdaPowertoolsFormatter.format

        @functools.wraps(original)
        def format(self: Any, record: Any) -> str:  # the method it replaces
            return readable(original(self, record), record.created)

        LambdaPowertoolsFormatter.format = format  # type: ignore[method-assign]
        _applied.add("readable")
