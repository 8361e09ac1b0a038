"""Competitors (scheduled): for every listing that reprices on a channel Keel reads offers from
(bol.com), the offers beside it are read and the repricer decides
(shared/services/repricer.watch_competition). Amazon's offers come as notifications instead."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from shared.channels.port import ReadsCompetition
from shared.domain.listings import Listing
from shared.runtime import runtime
from shared.services.pricing import pricing_of
from shared.services.repricer import watch_competition
from shared.settings import CompetitorSettings

logger = Logger(service="keel-competitors")
metrics = Metrics(namespace="Keel", service="keel-competitors")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    rt = runtime()
    pricing = pricing_of(rt.prices, rt.catalog.listings_for, now=rt.clock)

    def reader(listing: Listing) -> tuple[ReadsCompetition, str] | None:
        kit = rt.channel(listing.channel)
        if not kit.can("read_competition"):
            return None
        return kit.competition_reader(listing.account), kit.account_name(listing.account)

    limit = rt.settings(CompetitorSettings).competitor_reads_per_run
    said = watch_competition(pricing, rt.prices.repricing(), rt.catalog.listing, reader, limit)
    metrics.add_metric(name="CompetitorReads", unit=MetricUnit.Count, value=len(said))
    logger.info("competing offers read", extra={"schedule": event.get("schedule"), "said": said})
    return {"read": len(said)}
