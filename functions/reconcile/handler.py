"""Reconcile (scheduled, per channel; `keel reconcile`): what the channel shows against what
Keel derives, drift repaired through the sync queue, subscriptions re-armed, the poll run
(shared/services/reconcile.py). Its channel comes from configuration (`KEEL_CHANNEL`)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from shared.metrics import count
from shared.runtime import runtime
from shared.services.reconcile import ChannelReport, reconcile_channel

logger = Logger(service="keel-reconcile")
SERVICE = "keel-reconcile"


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """`{"dry_run": true}` reads and compares only."""
    rt = runtime()
    kit = rt.channel(rt.channel_name())
    logger.thread_safe_append_keys(channel=kit.name)
    report = reconcile_channel(kit.reconciler(), dry_run=bool((event or {}).get("dry_run")))
    if not report.dry_run:
        _count(report)
    said = report.as_dict()
    logger.info("reconciled", extra={"schedule": (event or {}).get("schedule"), **said})
    return said


def _count(report: ChannelReport) -> None:
    """Found and repaired per field; what survived two runs and how old the oldest is (alarmed);
    subscriptions re-armed and orders found only now (alarmed: a webhook was dead)."""
    channel = report.channel
    for field in ("quantity", "price"):
        found = sum(1 for d in report.drift if d.field == field)
        count("DriftFound", found, SERVICE, channel=channel, field=field)
    count("DriftRepaired", report.repaired, SERVICE, channel=channel)
    count("DriftPersisting", len(report.persisting), SERVICE, channel=channel)
    count("OldestDriftAgeSeconds", report.oldest_drift_s, SERVICE, channel=channel)
    count("SubscriptionsRearmed", report.subscriptions_rearmed, SERVICE, channel=channel)
    count("ReconcileErrors", len(report.errors), SERVICE, channel=channel)
    if report.orders_found:
        count("OrdersMissedByWebhooks", len(report.orders_found), "keel-poll", channel=channel)
    for problem in report.errors:
        logger.warning("reconciliation could not finish a part", extra={"problem": problem})
