"""Books (scheduled, hourly; `keel reconcile`): Keel's levels against their reservations and
ledger, its orders against their reservations (shared/services/books.py). A mismatch is logged,
counted and alarmed; nothing is corrected."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from shared.metrics import count
from shared.runtime import runtime
from shared.services.books import check_books

logger = Logger(service="keel-books")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    rt = runtime()
    report = check_books(rt.inventory, rt.orders)
    count("BooksMismatches", len(report.problems), "keel-books")
    for problem in report.problems:
        logger.error("books mismatch", extra=problem.as_dict())
    said = report.as_dict()
    logger.info("books checked", extra={"schedule": (event or {}).get("schedule"), **said})
    return said
