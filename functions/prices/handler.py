"""Prices (scheduled): sales start and end on time on every channel. Every SKU with a sale to
start or end is decided again (shared/services/pricing.run_sales); what changes is published
through the price book like any decision. WooCommerce's own scheduled sales run on a daily
cron, up to a day late: Keel does not use them."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from shared.runtime import runtime
from shared.services.pricing import pricing_of, run_sales

logger = Logger(service="keel-prices")
metrics = Metrics(namespace="Keel", service="keel-prices")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    rt = runtime()
    run = run_sales(pricing_of(rt.prices, rt.catalog.listings_for, now=rt.clock))
    held = len(run.held)
    metrics.add_metric(name="SalePriceDecisions", unit=MetricUnit.Count, value=len(run.decisions))
    logger.info(
        "sales decided",
        extra={"schedule": event.get("schedule"), "decisions": len(run.decisions), "held": held,
               "problems": run.problems},
    )  # fmt: skip
    return {"decisions": len(run.decisions), "held": held, "problems": len(run.problems)}
