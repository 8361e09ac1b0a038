"""Stock out to bol.com: `PUT /retailer/offers/{offer-id}/stock` per offer, `amount` 0..999 (the
channel's cap, whatever the listing rules allow) and `managedByRetailer: true` (bol subtracts
only orders placed after this update: Keel's figure already holds every order it has seen).
bol answers 202 with a process status: the write is pending (port.PendingStock) until
`check_stock` finds it SUCCESS (applied) or FAILURE/TIMEOUT (failed)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial

import httpx

from shared.channels.bol import CHANNEL as SPEC
from shared.channels.bol import process
from shared.channels.bol.client import CHANNEL, BolClient
from shared.channels.bol.secret import BolSecret
from shared.channels.errors import ChannelError, PermanentError, RetryableError
from shared.channels.port import (
    PendingCheck,
    PendingState,
    PendingStock,
    StockResult,
    StockUpdate,
)
from shared.channels.retry import with_retries

MAX_AMOUNT = SPEC.sync.max_quantity or 999  # UpdateOfferStockRequest.amount maximum
ENDPOINT = "/retailer/offers/{offer-id}/stock"
# A 429 (or 5xx) is tried once more within the batch after its Retry-After (at most 3 s), so a
# burst that touches bol's per-endpoint budget costs seconds, not a queue backoff of minutes.
ATTEMPTS, MAX_WAIT_S = 2, 3.0


def amount(quantity: int) -> int:
    return max(0, min(MAX_AMOUNT, quantity))


class BolStockPublisher:
    """Outbound stock half of the bol.com adapter (port.SetsStock and port.ConfirmsStock)."""

    channel = CHANNEL

    def __init__(
        self, secret: BolSecret, http: httpx.Client, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.client = BolClient(secret, http, sleep=sleep)
        self._sleep = sleep

    def set_stock(self, items: Sequence[StockUpdate]) -> list[StockResult]:
        return [self._one(item) for item in items]

    def _one(self, item: StockUpdate) -> StockResult:
        offer_id = item.listing.refs.get("offer_id")
        if not offer_id:
            failure = PermanentError(
                f"listing has no bol offer_id {item.listing.refs}", channel=CHANNEL
            )
            return StockResult(item.listing, failure)
        body = {"amount": amount(item.quantity), "managedByRetailer": True}
        try:
            put = partial(
                self.client.call,
                "PUT",
                f"/retailer/offers/{offer_id}/stock",
                json=body,
                endpoint=ENDPOINT,
            )
            response = with_retries(
                put, attempts=ATTEMPTS, max_wait_s=MAX_WAIT_S, sleep=self._sleep
            )
            status = process.accepted(response)
        except ChannelError as exc:
            return StockResult(item.listing, exc)
        if status.status == "SUCCESS":
            return StockResult(item.listing, shown=body["amount"])
        return StockResult(item.listing, pending=PendingStock(status.id))

    def check_stock(
        self, pending: Sequence[tuple[StockUpdate, PendingStock]]
    ) -> list[PendingCheck]:
        """The writes' process statuses (read_statuses)."""
        statuses = read_statuses(self.client, [w.reference for _, w in pending], self._sleep)
        checks = []
        for update, write in pending:
            check = pending_check(statuses[write.reference])
            if check.state is PendingState.APPLIED:
                check = PendingCheck(PendingState.APPLIED, shown=amount(update.quantity))
            checks.append(check)
        return checks


def read_statuses(
    client: BolClient, references: Sequence[str], sleep: Callable[[float], None]
) -> dict[str, process.ProcessStatus]:
    """Process statuses in bulk reads (up to 1000 a call); an outage fails the whole call
    (RetryableError), so every check comes back through the queue."""
    ids = list(dict.fromkeys(references))
    statuses: dict[str, process.ProcessStatus] = {}
    for start in range(0, len(ids), process.BULK_LIMIT):
        chunk = ids[start : start + process.BULK_LIMIT]
        statuses |= with_retries(
            partial(process.read_many, client, chunk),
            attempts=ATTEMPTS,
            max_wait_s=MAX_WAIT_S,
            sleep=sleep,
        )
    return statuses


def pending_check(status: process.ProcessStatus) -> PendingCheck:
    """What a process status says of the write it follows."""
    if status.status == "SUCCESS":
        return PendingCheck(PendingState.APPLIED)
    if status.status in ("FAILURE", "TIMEOUT"):
        return PendingCheck(PendingState.FAILED, reason=status.reason)
    if status.status == "PENDING":
        return PendingCheck(PendingState.PENDING)
    raise RetryableError(f"unknown process status {status.status!r}", channel=CHANNEL)


def publisher(secret: BolSecret, http: httpx.Client) -> BolStockPublisher:
    """The registry's outbound factory."""
    return BolStockPublisher(secret, http)
