"""One EMF count, flushed at once with its own buffer: for metrics whose dimensions differ per
call (the channel). Powertools' `Metrics` shares one buffer per process, which invocations of
different functions share in the local stack; `single_metric` ignores POWERTOOLS_METRICS_DISABLED.
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)

NAMESPACE = "Keel"


def count(name: str, value: int, service: str, **dimensions: str) -> None:
    provider = AmazonCloudWatchEMFProvider(
        namespace=NAMESPACE, default_dimensions={"service": service, **dimensions}
    )
    provider.add_metric(name=name, unit=MetricUnit.Count, value=value)
    provider.flush_metrics()
