"""Prices out to bol.com: `PUT /retailer/offers/{offer-id}/price` per offer with one bundle
price for quantity 1 (`unitPrice`, VAT included, 1..9999, two decimals). bol answers 202 with a
process status, like stock: a price counts as shown only once it reads SUCCESS (check_prices).
bol has no struck-through price of the seller's own: during a sale the sale price is the price.

The endpoint is marked deprecated in the v10 spec (bol folds prices into the offer update); it
is the one the spec still documents for a price alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from functools import partial

import httpx

from shared.channels.bol import process
from shared.channels.bol.client import CHANNEL, BolClient
from shared.channels.bol.secret import BolSecret
from shared.channels.bol.stock import ATTEMPTS, MAX_WAIT_S, pending_check, read_statuses
from shared.channels.errors import ChannelError, PermanentError
from shared.channels.port import PendingCheck, PendingStock, PriceResult, PriceUpdate
from shared.channels.retry import with_retries

ENDPOINT = "/retailer/offers/{offer-id}/price"
LOWEST, HIGHEST = Decimal(1), Decimal(9999)  # BundlePrice.unitPrice bounds


def price_body(update: PriceUpdate) -> dict[str, object]:
    """UpdateOfferPriceRequest (validated against the spec in a test). JSON numbers: bol takes
    `unitPrice` as a number with two decimals."""
    return {"pricing": {"bundlePrices": [{"quantity": 1, "unitPrice": float(update.price)}]}}


class BolPrices:
    """Outbound price half of the bol.com adapter (port.SetsPrices and port.ConfirmsPrices)."""

    channel = CHANNEL

    def __init__(
        self, secret: BolSecret, http: httpx.Client, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.client = BolClient(secret, http, sleep=sleep)
        self._sleep = sleep

    def set_prices(self, items: Sequence[PriceUpdate]) -> list[PriceResult]:
        return [self._one(item) for item in items]

    def _one(self, item: PriceUpdate) -> PriceResult:
        offer_id = item.listing.refs.get("offer_id")
        if not offer_id:
            message = f"listing has no bol offer_id {item.listing.refs}"
            return PriceResult(item.listing, PermanentError(message, channel=CHANNEL))
        if not LOWEST <= item.price <= HIGHEST or item.currency != "EUR":
            message = f"bol.com takes 1..9999 EUR a unit, not {item.price} {item.currency}"
            return PriceResult(item.listing, PermanentError(message, channel=CHANNEL))
        put = partial(
            self.client.call,
            "PUT",
            f"/retailer/offers/{offer_id}/price",
            json=price_body(item),
            endpoint=ENDPOINT,
        )
        try:
            response = with_retries(
                put, attempts=ATTEMPTS, max_wait_s=MAX_WAIT_S, sleep=self._sleep
            )
            status = process.accepted(response)
        except ChannelError as exc:
            return PriceResult(item.listing, exc)
        if status.status == "SUCCESS":
            return PriceResult(item.listing)
        return PriceResult(item.listing, pending=PendingStock(status.id))

    def check_prices(
        self, pending: Sequence[tuple[PriceUpdate, PendingStock]]
    ) -> list[PendingCheck]:
        statuses = read_statuses(self.client, [w.reference for _, w in pending], self._sleep)
        return [pending_check(statuses[write.reference]) for _, write in pending]


def prices(secret: BolSecret, http: httpx.Client) -> BolPrices:
    """The registry's outbound price factory."""
    return BolPrices(secret, http)
