"""Competing offers on bol.com, read on a schedule: `GET /retailer/products/{ean}/offers` (the
first page: 50 offers, new items, in the listing's first country), each with its retailer, price
(VAT included) and whether it is the best offer (bol's Buy Box). The repricer's backstop for
bol's COMPETING_OFFER events (which bol delivers to a queue or Pub/Sub, not a webhook)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

import httpx

from shared.channels.bol.client import CHANNEL, BolClient
from shared.channels.bol.secret import BolSecret
from shared.channels.errors import PermanentError, RetryableError
from shared.channels.port import CompetingOffers
from shared.domain.listings import Listing
from shared.domain.pricing import Offer

ENDPOINT = "/retailer/products/{ean}/offers"


class BolCompetition:
    """port.ReadsCompetition for one retailer account."""

    channel = CHANNEL

    def __init__(
        self, secret: BolSecret, http: httpx.Client, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.client = BolClient(secret, http, sleep=sleep)

    def competing_offers(self, listing: Listing) -> CompetingOffers:
        ean = listing.refs.get("ean")
        if not ean:
            raise PermanentError(f"listing {listing.sku} has no EAN", channel=CHANNEL)
        country = (listing.countries or ("NL",))[0]
        response = self.client.call(
            "GET",
            f"/retailer/products/{ean}/offers",
            params={"country-code": country, "condition": "NEW"},
            endpoint=ENDPOINT,
        )
        offers = []
        for entry in response.json().get("offers") or []:
            try:
                offers.append(
                    Offer(
                        str(entry["retailerId"]),
                        Decimal(str(entry["price"])).quantize(Decimal("0.01")),
                        buy_box=bool(entry.get("bestOffer")),
                    )
                )
            except (KeyError, TypeError, InvalidOperation) as exc:
                raise RetryableError(f"bol answered an offer Keel cannot read: {exc}",
                                     channel=CHANNEL) from None  # fmt: skip
        return CompetingOffers(ean, "", tuple(offers), datetime.now(UTC))


def competition(secret: BolSecret, http: httpx.Client) -> BolCompetition:
    """The registry's competition-reader factory."""
    return BolCompetition(secret, http)
