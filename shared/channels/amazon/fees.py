"""Amazon's fees for a listing at a price: `getMyFeesEstimateForSKU` (Product Fees v0), merchant
fulfilled. The referral fee is a percentage of the price (read back as one); every other fee
in the estimate (closing fees, ...) is an amount per item."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from shared.channels.amazon.client import CHANNEL, SpApiClient
from shared.channels.amazon.secret import AmazonSecret
from shared.channels.amazon.stock import quote_sku
from shared.channels.errors import PermanentError, RetryableError
from shared.channels.port import ChannelFee
from shared.domain.listings import Listing

FEES = "/products/fees/v0/listings"
REFERRAL = "ReferralFee"


def fees_request(marketplace: str, price: Decimal, currency: str) -> dict[str, Any]:
    """GetMyFeesEstimateRequest (validated against the model by the sandbox)."""
    return {
        "FeesEstimateRequest": {
            "MarketplaceId": marketplace,
            "IsAmazonFulfilled": False,
            "PriceToEstimateFees": {
                "ListingPrice": {"CurrencyCode": currency, "Amount": float(price)}
            },
            "Identifier": str(uuid.uuid4()),
        }
    }


def _amount(value: Any) -> Decimal:
    try:
        return Decimal(str(value["Amount"]))
    except (KeyError, TypeError, InvalidOperation):
        raise RetryableError(
            f"Amazon's fee estimate has no amount: {value}", channel=CHANNEL
        ) from None


class AmazonFees:
    """port.EstimatesFees for one seller."""

    channel = CHANNEL

    def __init__(self, api: SpApiClient) -> None:
        self._api = api

    def fee(self, listing: Listing, price: Decimal, currency: str) -> ChannelFee:
        sku = listing.refs.get("sku")
        if not sku:
            raise PermanentError(f"listing {listing.sku} has no seller SKU", channel=CHANNEL)
        marketplace = (
            listing.marketplace
            or listing.refs.get("marketplace_id")
            or self._api.secret.marketplace_id
        )
        answer = self._api.call(
            "getMyFeesEstimateForSKU",
            "POST",
            f"{FEES}/{quote_sku(sku)}/feesEstimate",
            json=fees_request(marketplace, price, currency),
        ).json()
        result = (answer.get("payload") or {}).get("FeesEstimateResult") or {}
        if result.get("Status") != "Success":
            error = result.get("Error") or {}
            message = f"Amazon estimated no fees: {error.get('Code')}: {error.get('Message')}"
            raise PermanentError(message, channel=CHANNEL)
        details = (result.get("FeesEstimate") or {}).get("FeeDetailList") or []
        referral, fixed = Decimal(0), Decimal(0)
        for detail in details:
            if detail.get("FeeType") == REFERRAL:
                referral += _amount(detail.get("FinalFee"))
            else:
                fixed += _amount(detail.get("FinalFee"))
        # Amazon rounds each fee to the cent: read back as a percentage to a tenth (1.88 of
        # 12.50 is 15.0 %, not 15.04 %); referral rates are set in whole or half percents.
        percent = (referral / price * 100).quantize(Decimal("0.1")) if price > 0 else Decimal(0)
        said = ", ".join(f"{d.get('FeeType')} {_amount(d.get('FinalFee'))}" for d in details)
        return ChannelFee(percent, fixed.quantize(Decimal("0.01")), f"at {price}: {said}")


def fees(secret: AmazonSecret, http: httpx.Client) -> AmazonFees:
    """The registry's fee-estimator factory."""
    return AmazonFees(SpApiClient(secret, http))
