"""bol.com process statuses: every write (stock, shipment, cancellation) answers 202 with one,
and is done only when `GET /shared/process-status/{id}` says SUCCESS (FAILURE and TIMEOUT are
the other ends; PENDING means ask again)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from shared.channels.bol.client import CHANNEL, BolClient
from shared.channels.errors import PermanentError, RetryableError

ENDPOINT = "/shared/process-status/{process-status-id}"
BULK_ENDPOINT = "/shared/process-status"
BULK_LIMIT = 1000  # BulkProcessStatusRequest.processStatusQueries maxItems
TERMINAL = frozenset({"SUCCESS", "FAILURE", "TIMEOUT"})


@dataclass(frozen=True)
class ProcessStatus:
    id: str
    status: str  # PENDING, SUCCESS, FAILURE, TIMEOUT
    error: str = ""

    @property
    def reason(self) -> str:
        return f"{self.status}: {self.error}" if self.error else self.status


def accepted(response: httpx.Response) -> ProcessStatus:
    """The process status a 202 answered with (v10 `processStatusId`; older answers `id` or only
    the self link)."""
    try:
        body: dict[str, Any] = response.json()
    except ValueError as exc:
        raise RetryableError(
            "bol.com answered 202 without a process status", channel=CHANNEL
        ) from exc
    ref = body.get("processStatusId") or body.get("id")
    if ref is None:
        for link in body.get("links") or []:
            if isinstance(link, dict) and link.get("rel") == "self" and link.get("href"):
                ref = str(link["href"]).rstrip("/").rsplit("/", 1)[-1]
    if ref is None:
        raise RetryableError("bol.com's 202 names no process status", channel=CHANNEL)
    return ProcessStatus(
        str(ref), str(body.get("status", "PENDING")), str(body.get("errorMessage") or "")
    )


def read(client: BolClient, process_id: str) -> ProcessStatus:
    """The status now; a process bol does not know is a FAILURE (it will never succeed)."""
    try:
        response = client.call("GET", f"/shared/process-status/{process_id}", endpoint=ENDPOINT)
    except PermanentError as exc:
        if exc.status == 404:
            return ProcessStatus(process_id, "FAILURE", "process status not found")
        raise
    body = response.json()
    return ProcessStatus(process_id, str(body.get("status")), str(body.get("errorMessage") or ""))


def read_many(client: BolClient, process_ids: list[str]) -> dict[str, ProcessStatus]:
    """The statuses of up to BULK_LIMIT processes in one call (`POST /shared/process-status`).
    bol leaves out the ones it no longer keeps: those are FAILURE, as a 404 of one is."""
    if len(process_ids) > BULK_LIMIT:
        raise ValueError(f"at most {BULK_LIMIT} process statuses a call")
    response = client.call(
        "POST",
        BULK_ENDPOINT,
        json={"processStatusQueries": [{"processStatusId": p} for p in process_ids]},
        endpoint=BULK_ENDPOINT,
    )
    try:
        answered = response.json().get("processStatuses") or []
    except (ValueError, AttributeError) as exc:
        raise RetryableError("bol.com answered without process statuses", channel=CHANNEL) from exc
    found = {
        str(s.get("processStatusId")): ProcessStatus(
            str(s.get("processStatusId")), str(s.get("status")), str(s.get("errorMessage") or "")
        )
        for s in answered
        if isinstance(s, dict)
    }
    return {
        p: found.get(p, ProcessStatus(p, "FAILURE", "process status not found"))
        for p in process_ids
    }
