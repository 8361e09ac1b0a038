"""Read an Amazon seller's listings per marketplace: the `GET_MERCHANT_LISTINGS_ALL_DATA` report
through the Reports API (createReport -> getReport until DONE -> getReportDocument -> the
document, tab-separated, perhaps gzipped), and one listing now through getListingsItem.

A report is Amazon's snapshot, often hours old when read: its rows are candidates
(`confirmed=False`), read again with getListingsItem before anything acts on a difference, and
it lacks the product type a patch needs (the point read has it). One seller SKU in several
marketplaces is one listing per marketplace; they share the ASIN, Amazon's product id.
"""

from __future__ import annotations

import csv
import gzip
import io
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx

from shared.channels import shown
from shared.channels.amazon.client import CHANNEL, SpApiClient
from shared.channels.amazon.prices import shown_price
from shared.channels.amazon.secret import AmazonSecret
from shared.channels.amazon.stock import LISTINGS, MERCHANT_FULFILLED, quote_sku
from shared.channels.errors import PermanentError, RetryableError
from shared.channels.http import request
from shared.domain.gtin import gtin_or_none
from shared.domain.matching import ChannelListing

REPORTS = "/reports/2021-06-30"
REPORT_TYPE = "GET_MERCHANT_LISTINGS_ALL_DATA"
REPORT_WAIT_S = 1800.0  # Amazon: minutes, sometimes more; the caller may run again later
POLL_EVERY_S = 1.0
GTIN_TYPES = {"2", "3", "4"}  # product-id-type: 1 ASIN, 2 ISBN, 3 UPC, 4 EAN


class AmazonListings:
    channel = CHANNEL

    def __init__(
        self,
        secret: AmazonSecret,
        http: httpx.Client,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = SpApiClient(secret, http, sleep=sleep)
        self._http = http
        self._secret = secret
        self._sleep, self._clock = sleep, clock

    def read_listings(self, marketplace: str = "") -> Iterator[ChannelListing]:
        market = marketplace or self._secret.marketplace_id
        spec = {"reportType": REPORT_TYPE, "marketplaceIds": [market]}
        made = self._api.call("createReport", "POST", f"{REPORTS}/reports", json=spec, ok=(202,))
        document_id = self._wait(str(made.json()["reportId"]))
        if document_id is None:
            return  # CANCELLED: Amazon had nothing to report
        document = self._api.call(
            "getReportDocument", "GET", f"{REPORTS}/documents/{document_id}"
        ).json()
        raw = request(self._http, "GET", document["url"], channel=CHANNEL, what="report").content
        if document.get("compressionAlgorithm") == "GZIP":
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8-sig", errors="replace")
        for row in csv.DictReader(io.StringIO(text), delimiter="\t"):
            if row.get("seller-sku"):
                yield _from_report(row, market)

    def read_listing(self, refs: Mapping[str, str], marketplace: str = "") -> ChannelListing | None:
        market = marketplace or refs.get("marketplace_id") or self._secret.marketplace_id
        sku = refs["sku"]
        try:
            body = self._api.call(
                "getListingsItem",
                "GET",
                f"{LISTINGS}/{self._secret.seller_id}/{quote_sku(sku)}",
                params={"marketplaceIds": market,
                        "includedData": "summaries,attributes,fulfillmentAvailability"},
            ).json()  # fmt: skip
        except PermanentError as exc:
            if exc.status == 404:
                return None
            raise
        return _from_item(body, sku, market)

    def _wait(self, report_id: str) -> str | None:
        deadline = self._clock() + REPORT_WAIT_S
        while True:
            report = self._api.call("getReport", "GET", f"{REPORTS}/reports/{report_id}").json()
            status = report.get("processingStatus")
            if status == "DONE":
                return str(report["reportDocumentId"])
            if status == "CANCELLED":
                return None
            if status == "FATAL":
                raise RetryableError(f"listings report {report_id} FATAL", channel=CHANNEL)
            if self._clock() > deadline:
                raise RetryableError(f"listings report {report_id} still {status}", channel=CHANNEL)
            self._sleep(POLL_EVERY_S)


def _refs(sku: str, market: str, asin: str | None, product_type: str | None) -> dict[str, str]:
    refs = {"sku": sku, "marketplace_id": market, "marketplace_sku": f"{market}/{sku}",
            "listing_id": f"{market}/{sku}"}  # fmt: skip
    if asin:
        refs["asin"] = asin
    if product_type:
        refs["product_type"] = product_type
    return refs


def _from_report(row: Mapping[str, str], market: str) -> ChannelListing:
    sku, asin = row["seller-sku"], row.get("asin1") or None
    gtin = gtin_or_none(row.get("product-id")) if row.get("product-id-type") in GTIN_TYPES else None
    return ChannelListing(
        listing_id=f"{market}/{sku}",
        refs=_refs(sku, market, asin, None),
        sku=sku,
        gtin=gtin,
        product_id=asin,
        quantity=shown.count(row.get("quantity")),
        price=shown.amount(row.get("price")),
        status=(row.get("status") or "Active").lower(),
        marketplace=market,
        title=row.get("item-name") or "",
        confirmed=False,
    )


def _from_item(body: dict[str, Any], sku: str, market: str) -> ChannelListing:
    summary = next(
        (s for s in body.get("summaries") or [] if s.get("marketplaceId") == market),
        (body.get("summaries") or [{}])[0],
    )
    attributes = body.get("attributes") or {}
    quantity = next(
        (a.get("quantity") for a in body.get("fulfillmentAvailability") or []
         if a.get("fulfillmentChannelCode") == MERCHANT_FULFILLED),
        None,
    )  # fmt: skip
    identifiers = attributes.get("externally_assigned_product_identifier") or []
    gtin = next((gtin_or_none(str(i.get("value"))) for i in identifiers if i.get("value")), None)
    asin = summary.get("asin")
    statuses = summary.get("status") or []
    return ChannelListing(
        listing_id=f"{market}/{sku}",
        refs=_refs(sku, market, asin, summary.get("productType")),
        sku=sku,
        gtin=gtin,
        product_id=asin,
        quantity=shown.count(quantity),
        price=shown_price(attributes.get("purchasable_offer") or [], market),
        status="active" if "BUYABLE" in statuses else "inactive",
        marketplace=market,
        title=str(summary.get("itemName") or ""),
    )


def listings(secret: AmazonSecret, http: httpx.Client) -> AmazonListings:
    """The registry's listing reader factory."""
    return AmazonListings(secret, http)
