"""bol.com's commission for an offer at a price: `GET /retailer/commission/{ean}` (unit price
VAT included, condition NEW): a percentage of the price and a fixed amount per item."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

import httpx

from shared.channels.bol.client import CHANNEL, BolClient
from shared.channels.bol.secret import BolSecret
from shared.channels.errors import PermanentError, RetryableError
from shared.channels.port import ChannelFee
from shared.domain.listings import Listing

ENDPOINT = "/retailer/commission/{ean}"


class BolFees:
    """port.EstimatesFees for one retailer account."""

    channel = CHANNEL

    def __init__(
        self, secret: BolSecret, http: httpx.Client, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.client = BolClient(secret, http, sleep=sleep)

    def fee(self, listing: Listing, price: Decimal, currency: str) -> ChannelFee:
        ean = listing.refs.get("ean")
        if not ean:
            raise PermanentError(f"listing {listing.sku} has no EAN", channel=CHANNEL)
        answer = self.client.call(
            "GET",
            f"/retailer/commission/{ean}",
            params={"unit-price": f"{price:.2f}", "condition": "NEW"},
            endpoint=ENDPOINT,
        ).json()
        try:
            percent = Decimal(str(answer["percentage"])).quantize(Decimal("0.01"))
            fixed = Decimal(str(answer["fixedAmount"])).quantize(Decimal("0.01"))
        except (KeyError, TypeError, InvalidOperation):
            raise RetryableError(f"bol answered a commission Keel cannot read: {answer}",
                                 channel=CHANNEL) from None  # fmt: skip
        said = f"at {price}: {percent} % + {fixed} (total {answer.get('totalCost')})"
        return ChannelFee(percent, fixed, said)


def fees(secret: BolSecret, http: httpx.Client) -> BolFees:
    """The registry's fee-estimator factory."""
    return BolFees(secret, http)
