"""Read a bol.com retailer's offers: `POST /retailer/offers/export` (CSV) -> the process status
until SUCCESS -> `GET /retailer/offers/export/{report-id}`; one offer now by
`GET /retailer/offers/{offer-id}`.

The export is a snapshot taken when bol gets to it (minutes, sometimes longer): its rows are
candidates (`confirmed=False`), read again one by one before anything acts on a difference.
An offer's GTIN is its EAN, which is also bol's product id; the merchant's SKU is the offer's
`reference`.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx

from shared.channels import shown
from shared.channels.bol import process
from shared.channels.bol.client import CHANNEL, CSV_MEDIA_TYPE, BolClient
from shared.channels.bol.secret import BolSecret
from shared.channels.errors import PermanentError, RetryableError
from shared.domain.gtin import gtin_or_none
from shared.domain.matching import ChannelListing

EXPORT_WAIT_S = 900.0  # bol: "usually a few minutes"; the caller may run again later
POLL_EVERY_S = 2.0


class BolListings:
    channel = CHANNEL

    def __init__(
        self,
        secret: BolSecret,
        http: httpx.Client,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = BolClient(secret, http, sleep=sleep)
        self._sleep, self._clock = sleep, clock

    def read_listings(self, marketplace: str = "") -> Iterator[ChannelListing]:
        started = process.accepted(
            self.client.call("POST", "/retailer/offers/export", json={"format": "CSV"})
        )
        report_id = self._wait(started.id)
        response = self.client.call(
            "GET",
            f"/retailer/offers/export/{report_id}",
            endpoint="/retailer/offers/export/{report-id}",
            accept=CSV_MEDIA_TYPE,
        )
        for row in csv.DictReader(io.StringIO(response.text)):
            yield _from_export(row)

    def read_listing(self, refs: Mapping[str, str], marketplace: str = "") -> ChannelListing | None:
        offer_id = refs.get("offer_id")
        if not offer_id:
            return None
        try:
            response = self.client.call(
                "GET", f"/retailer/offers/{offer_id}", endpoint="/retailer/offers/{offer-id}"
            )
        except PermanentError as exc:
            if exc.status == 404:
                return None
            raise
        return _from_offer(response.json())

    def _wait(self, process_id: str) -> str:
        """The export's report id (the process's `entityId`), once it ends in SUCCESS."""
        deadline = self._clock() + EXPORT_WAIT_S
        while True:
            body = self.client.call(
                "GET", f"/shared/process-status/{process_id}", endpoint=process.ENDPOINT
            ).json()
            status = str(body.get("status"))
            if status == "SUCCESS" and body.get("entityId"):
                return str(body["entityId"])
            if status in process.TERMINAL:
                reason = f"{status}: {body.get('errorMessage') or 'no report'}"
                raise RetryableError(f"offers export {reason}", channel=CHANNEL)
            if self._clock() > deadline:
                raise RetryableError("offers export still pending", channel=CHANNEL)
            self._sleep(POLL_EVERY_S)


def _refs(offer_id: str, ean: str) -> dict[str, str]:
    return {"offer_id": offer_id, "ean": ean, "sku": ean, "listing_id": offer_id}


def _from_export(row: Mapping[str, str]) -> ChannelListing:
    offer_id, ean = row["offerId"], row.get("ean", "")
    return ChannelListing(
        listing_id=offer_id,
        refs=_refs(offer_id, ean),
        sku=row.get("referenceCode") or None,
        gtin=gtin_or_none(ean),
        product_id=ean or None,
        quantity=shown.count(row.get("correctedStock") or row.get("stockAmount")),
        price=shown.amount(row.get("bundlePricesPrice")),
        status="on_hold" if row.get("onHoldByRetailer") == "true" else "active",
        confirmed=False,
    )


def _from_offer(body: dict[str, Any]) -> ChannelListing:
    offer_id, ean = str(body["offerId"]), str(body.get("ean", ""))
    prices = (body.get("pricing") or {}).get("bundlePrices") or []
    unit = next((p.get("unitPrice") for p in prices if p.get("quantity") == 1), None)
    stock = body.get("stock") or {}
    store = body.get("store") or {}
    return ChannelListing(
        listing_id=offer_id,
        refs=_refs(offer_id, ean),
        sku=str(body.get("reference") or "") or None,
        gtin=gtin_or_none(ean),
        product_id=ean or None,
        quantity=shown.count(stock.get("correctedStock", stock.get("amount"))),
        price=shown.amount(unit),
        status="on_hold" if body.get("onHoldByRetailer") else "active",
        countries=tuple(str(v["countryCode"]) for v in store.get("visible") or []),
        title=str(store.get("productTitle") or body.get("unknownProductTitle") or ""),
    )


def listings(secret: BolSecret, http: httpx.Client) -> BolListings:
    """The registry's listing reader factory."""
    return BolListings(secret, http)
