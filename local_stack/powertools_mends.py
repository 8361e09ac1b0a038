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
