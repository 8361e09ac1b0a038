"""Prices out to Amazon: `patchListingsItem` of `/attributes/purchasable_offer`, read-modify-
write. The attribute is a list of offers per marketplace and audience (ALL, B2B), each with its
`our_price`, `discounted_price`, `minimum_/maximum_seller_allowed_price`; a blind replace would
drop the B2B price and the seller's min/max band, so the listing is read first and only this
marketplace's consumer offer gets Keel's price (and, during a sale, a `discounted_price`; none
outside one). Keel's floor and ceiling are not written into the min/max band: Amazon cannot
remove those once set, and Keel's floor moves with cost and fees.

Amazon answers ACCEPTED: the write is pending until `check_prices` reads the price back.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from shared.channels.amazon.client import CHANNEL, SpApiClient
from shared.channels.amazon.secret import AmazonSecret
from shared.channels.amazon.stock import DEFAULT_PRODUCT_TYPE, LISTINGS, quote_sku
from shared.channels.errors import ChannelError, PermanentError
from shared.channels.port import (
    PendingCheck,
    PendingState,
    PendingStock,
    PriceResult,
    PriceUpdate,
)

CONSUMER = "ALL"  # purchasable_offer.audience of the offer every buyer sees


def _schedule(value: Decimal) -> list[dict[str, Any]]:
    return [{"schedule": [{"value_with_tax": float(value)}]}]


def offers_with_price(
    current: list[dict[str, Any]], marketplace: str, update: PriceUpdate
) -> list[dict[str, Any]]:
    """The listing's purchasable offers with this marketplace's consumer offer priced (created
    when there is none); every other offer and field kept as it was."""
    offers = copy.deepcopy(current)
    mine = next(
        (
            o
            for o in offers
            if o.get("marketplace_id") == marketplace and o.get("audience", CONSUMER) == CONSUMER
        ),
        None,
    )
    if mine is None:
        mine = {"marketplace_id": marketplace, "audience": CONSUMER}
        offers.append(mine)
    mine["currency"] = update.currency
    on_sale = update.compare_at is not None and update.compare_at > update.price
    mine["our_price"] = _schedule(
        update.compare_at if on_sale and update.compare_at else update.price
    )
    if on_sale:
        mine["discounted_price"] = _schedule(update.price)
    else:
        mine.pop("discounted_price", None)
    return offers


def shown_price(offers: list[dict[str, Any]], marketplace: str) -> Decimal | None:
    """What a buyer in the marketplace pays: the discounted price when there is one."""
    for offer in offers:
        if (
            offer.get("marketplace_id") != marketplace
            or offer.get("audience", CONSUMER) != CONSUMER
        ):
            continue
        for name in ("discounted_price", "our_price"):
            try:
                value = offer[name][0]["schedule"][0]["value_with_tax"]
                return Decimal(str(value)).quantize(Decimal("0.01"))
            except (KeyError, IndexError, TypeError, InvalidOperation):
                continue
    return None


class AmazonPrices:
    """port.SetsPrices + port.ConfirmsPrices for one seller."""

    channel = CHANNEL

    def __init__(self, api: SpApiClient) -> None:
        self._api = api
        self._seller = api.secret.seller_id

    def _marketplace(self, update: PriceUpdate) -> str:
        return (
            update.listing.marketplace
            or update.listing.refs.get("marketplace_id")
            or self._api.secret.marketplace_id
        )

    def set_prices(self, items: Sequence[PriceUpdate]) -> list[PriceResult]:
        return [self._one(item) for item in items]

    def _read(self, update: PriceUpdate) -> dict[str, Any]:
        sku = update.listing.refs.get("sku")
        if not sku:
            raise PermanentError(f"listing {update.listing.sku} has no seller SKU", channel=CHANNEL)
        response = self._api.call(
            "getListingsItem",
            "GET",
            f"{LISTINGS}/{self._seller}/{quote_sku(sku)}",
            params={"marketplaceIds": self._marketplace(update), "includedData": "attributes"},
        )
        body: dict[str, Any] = response.json()
        return body

    def _one(self, update: PriceUpdate) -> PriceResult:
        marketplace = self._marketplace(update)
        try:
            current = self._read(update)
            offers = (current.get("attributes") or {}).get("purchasable_offer") or []
            response = self._api.call(
                "patchListingsItem",
                "PATCH",
                f"{LISTINGS}/{self._seller}/{quote_sku(update.listing.refs['sku'])}",
                params={"marketplaceIds": marketplace},
                json={
                    "productType": update.listing.refs.get("product_type") or DEFAULT_PRODUCT_TYPE,
                    "patches": [
                        {
                            "op": "replace",
                            "path": "/attributes/purchasable_offer",
                            "value": offers_with_price(offers, marketplace, update),
                        }
                    ],
                },
            )
        except ChannelError as exc:
            return PriceResult(update.listing, exc)
        answer = response.json()
        status = answer.get("status")
        if status == "ACCEPTED":
            return PriceResult(
                update.listing, pending=PendingStock(str(answer.get("submissionId")))
            )
        issues = "; ".join(str(i.get("message")) for i in answer.get("issues") or [])
        message = f"Amazon answered {status}: {issues or 'no issues given'}"
        return PriceResult(update.listing, PermanentError(message, channel=CHANNEL))

    def check_prices(
        self, pending: Sequence[tuple[PriceUpdate, PendingStock]]
    ) -> list[PendingCheck]:
        """APPLIED once the listing shows the price (read back); a listing that is gone FAILED."""
        checks = []
        for update, _ in pending:
            try:
                offers = (self._read(update).get("attributes") or {}).get("purchasable_offer") or []
            except PermanentError as exc:
                if exc.status == 404:
                    checks.append(
                        PendingCheck(PendingState.FAILED, reason=f"listing not found: {exc}")
                    )
                    continue
                raise
            shown = shown_price(offers, self._marketplace(update))
            applied = shown == update.price
            checks.append(PendingCheck(PendingState.APPLIED if applied else PendingState.PENDING))
        return checks


def prices(secret: AmazonSecret, http: httpx.Client) -> AmazonPrices:
    """The registry's outbound price factory."""
    return AmazonPrices(SpApiClient(secret, http))
