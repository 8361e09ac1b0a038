"""Stock out to Amazon: `patchListingsItem` with a JSON Patch `merge` of
`/attributes/fulfillment_availability` (merge, not replace: the listing's handling time and
other fulfillment fields survive) for merchant-fulfilled listings, one call per listing; a
large burst goes as one `JSON_LISTINGS_FEED` per marketplace instead (see FEED_THRESHOLD).

Amazon answers ACCEPTED: accepted, not applied. Each such write is a `PendingStock`, confirmed
later by `check_stock` (port.ConfirmsStock): a read of the listing back for a patch, the
feed's processing report for a feed.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import httpx

from shared.channels.amazon.client import CHANNEL, SpApiClient
from shared.channels.amazon.secret import AmazonSecret
from shared.channels.errors import ChannelError, PermanentError, RetryableError
from shared.channels.http import request
from shared.channels.port import (
    PendingCheck,
    PendingState,
    PendingStock,
    StockResult,
    StockUpdate,
)

LISTINGS = "/listings/2021-08-01/items"
FEEDS = "/feeds/2021-06-30"
MERCHANT_FULFILLED = "DEFAULT"  # fulfillment_channel_code of merchant-fulfilled offers
DEFAULT_PRODUCT_TYPE = "PRODUCT"  # for patches of offer attributes when the type is unknown
FEED_TYPE = "JSON_LISTINGS_FEED"
FEED_CONTENT_TYPE = "application/json; charset=UTF-8"
# Where one feed beats many patches. patchListingsItem runs at 5 calls/s (burst 5): 25 patches
# take ~5 s, well inside a sync batch's 60 s even with QuotaExceeded backoff. A feed costs
# three calls, but createFeed allows one every two minutes (burst 15) and Amazon takes minutes
# to process it, so it pays only for bursts (a resync of every listing, a big receipt): above
# 25 listings in one sync batch, they go as one feed per marketplace.
FEED_THRESHOLD = 25
# searchListingsItems reads up to 20 listings by seller SKU a call (identifiers and pageSize
# maxima): a batch's patch checks cost one read per 20 listings, not one each.
SEARCH_LIMIT = 20


def patch_body(update: StockUpdate) -> dict[str, Any]:
    """The ListingsItemPatchRequest Keel sends (validated against the model in a test)."""
    return {
        "productType": update.listing.refs.get("product_type") or DEFAULT_PRODUCT_TYPE,
        "patches": [
            {
                "op": "merge",
                "path": "/attributes/fulfillment_availability",
                "value": [
                    {"fulfillment_channel_code": MERCHANT_FULFILLED, "quantity": update.quantity}
                ],
            }
        ],
    }


def feed_document(seller_id: str, updates: Sequence[StockUpdate]) -> dict[str, Any]:
    """A JSON_LISTINGS_FEED document (listings-feed-schema-v2): one PATCH message per listing,
    messageId = position + 1."""
    return {
        "header": {"sellerId": seller_id, "version": "2.0", "issueLocale": "en_US"},
        "messages": [
            {
                "messageId": n,
                "sku": _seller_sku(update),
                "operationType": "PATCH",
                "productType": update.listing.refs.get("product_type") or DEFAULT_PRODUCT_TYPE,
                "patches": patch_body(update)["patches"],
            }
            for n, update in enumerate(updates, 1)
        ],
    }


def _seller_sku(update: StockUpdate) -> str:
    sku = update.listing.refs.get("sku")
    if not sku:
        raise PermanentError(f"listing {update.listing.sku} has no seller SKU", channel=CHANNEL)
    return sku


class AmazonStock:
    """port.SetsStock + port.ConfirmsStock for one seller."""

    channel = CHANNEL

    def __init__(self, api: SpApiClient, http: httpx.Client) -> None:
        self._api = api
        self._http = http  # feed documents travel to and from pre-signed URLs, not SP-API
        self._seller = api.secret.seller_id

    def _marketplace(self, update: StockUpdate) -> str:
        return update.listing.refs.get("marketplace_id") or self._api.secret.marketplace_id

    # --- SetsStock ----------------------------------------------------------------------------
    def set_stock(self, items: Sequence[StockUpdate]) -> list[StockResult]:
        results: dict[int, StockResult] = {}
        writable = []
        for item in items:
            refused = _refusal(item)
            if refused is not None:
                results[id(item)] = StockResult(item.listing, refused)
            else:
                writable.append(item)
        if len(writable) > FEED_THRESHOLD:
            by_marketplace: dict[str, list[StockUpdate]] = defaultdict(list)
            for item in writable:
                by_marketplace[self._marketplace(item)].append(item)
            for marketplace, group in by_marketplace.items():
                for item, result in zip(group, self._feed(marketplace, group), strict=True):
                    results[id(item)] = result
        else:
            for item in writable:
                results[id(item)] = self._patch(item)
        return [results[id(item)] for item in items]

    def _patch(self, update: StockUpdate) -> StockResult:
        sku = _seller_sku(update)
        try:
            response = self._api.call(
                "patchListingsItem",
                "PATCH",
                f"{LISTINGS}/{self._seller}/{quote_sku(sku)}",
                params={"marketplaceIds": self._marketplace(update)},
                json=patch_body(update),
            )
        except ChannelError as exc:  # retryable ones after the client's backoff: this item only
            return StockResult(update.listing, exc)
        answer = response.json()
        status = answer.get("status")
        if status == "ACCEPTED":
            reference = f"patch:{answer.get('submissionId', '')}"
            return StockResult(update.listing, pending=PendingStock(reference))
        issues = "; ".join(f"{i.get('code')}: {i.get('message')}" for i in answer.get("issues", []))
        return StockResult(
            update.listing,
            PermanentError(f"listing {sku} patch {status}: {issues}"[:1000], channel=CHANNEL),
        )

    def _feed(self, marketplace: str, group: Sequence[StockUpdate]) -> list[StockResult]:
        """createFeedDocument, upload, createFeed: every listing pending on the one feed."""
        document = self._api.call(
            "createFeedDocument",
            "POST",
            f"{FEEDS}/documents",
            json={"contentType": FEED_CONTENT_TYPE},
            ok=(201,),
        ).json()
        content = json.dumps(feed_document(self._seller, group)).encode()
        uploaded = request(
            self._http,
            "PUT",
            document["url"],
            channel=CHANNEL,
            what="feed upload",
            content=content,
            headers={"content-type": FEED_CONTENT_TYPE},
        )
        if uploaded.status_code >= 300:
            raise RetryableError(f"feed upload: HTTP {uploaded.status_code}", channel=CHANNEL)
        feed = self._api.call(
            "createFeed",
            "POST",
            f"{FEEDS}/feeds",
            json={
                "feedType": FEED_TYPE,
                "marketplaceIds": [marketplace],
                "inputFeedDocumentId": document["feedDocumentId"],
            },
            ok=(202,),
        ).json()
        return [
            StockResult(item.listing, pending=PendingStock(f"feed:{feed['feedId']}:{n}"))
            for n, item in enumerate(group, 1)
        ]

    # --- ConfirmsStock ------------------------------------------------------------------------
    def check_stock(
        self, pending: Sequence[tuple[StockUpdate, PendingStock]]
    ) -> list[PendingCheck]:
        reports: dict[str, tuple[str, dict[int, str]]] = {}  # feed id -> (status, errors)
        checks: dict[int, PendingCheck] = {}
        patched: dict[str, list[int]] = defaultdict(list)  # marketplace -> positions
        for n, (update, handle) in enumerate(pending):
            kind, _, rest = handle.reference.partition(":")
            if kind == "feed":
                feed_id, _, message = rest.partition(":")
                if feed_id not in reports:
                    reports[feed_id] = self._feed_outcome(feed_id)
                checks[n] = _feed_check(update, reports[feed_id], int(message or 0))
            elif "," in _seller_sku(update):  # cannot travel in a comma-separated list
                checks[n] = self._read_back(update)
            else:
                patched[self._marketplace(update)].append(n)
        for marketplace, positions in patched.items():
            for start in range(0, len(positions), SEARCH_LIMIT):
                chunk = positions[start : start + SEARCH_LIMIT]
                shown = self._read_many(marketplace, [pending[n][0] for n in chunk])
                for n in chunk:
                    checks[n] = _read_check(pending[n][0], shown)
        return [checks[n] for n in range(len(pending))]

    def _read_many(self, marketplace: str, updates: Sequence[StockUpdate]) -> dict[str, int | None]:
        """Seller SKU -> the merchant-fulfilled quantity shown, for the listings found (one
        searchListingsItems call, <= SEARCH_LIMIT SKUs)."""
        skus = list(dict.fromkeys(_seller_sku(u) for u in updates))
        response = self._api.call(
            "searchListingsItems",
            "GET",
            f"{LISTINGS}/{self._seller}",
            params={
                "marketplaceIds": marketplace,
                "identifiers": ",".join(skus),
                "identifiersType": "SKU",
                "pageSize": SEARCH_LIMIT,
                "includedData": "fulfillmentAvailability",
            },
        )
        return {
            str(item.get("sku")): _merchant_quantity(item)
            for item in response.json().get("items", [])
            if isinstance(item, dict)
        }

    def _read_back(self, update: StockUpdate) -> PendingCheck:
        """APPLIED once the listing shows the quantity (merchant-fulfilled availability)."""
        try:
            response = self._api.call(
                "getListingsItem",
                "GET",
                f"{LISTINGS}/{self._seller}/{quote_sku(_seller_sku(update))}",
                params={
                    "marketplaceIds": self._marketplace(update),
                    "includedData": "fulfillmentAvailability,issues",
                },
            )
        except PermanentError as exc:
            if exc.status == 404:
                return PendingCheck(PendingState.FAILED, reason=f"listing not found: {exc}")
            raise
        return _read_check(update, {_seller_sku(update): _merchant_quantity(response.json())})

    def _feed_outcome(self, feed_id: str) -> tuple[str, dict[int, str]]:
        feed = self._api.call("getFeed", "GET", f"{FEEDS}/feeds/{feed_id}").json()
        status = str(feed.get("processingStatus"))
        if status != "DONE" or not feed.get("resultFeedDocumentId"):
            return status, {}
        document = self._api.call(
            "getFeedDocument", "GET", f"{FEEDS}/documents/{feed['resultFeedDocumentId']}"
        ).json()
        raw = request(
            self._http, "GET", document["url"], channel=CHANNEL, what="feed report download"
        )
        content = raw.content
        if document.get("compressionAlgorithm") == "GZIP":
            content = gzip.decompress(content)
        report = json.loads(content)
        errors: dict[int, str] = {}
        for issue in report.get("issues", []):
            if issue.get("severity") == "ERROR":
                errors.setdefault(
                    int(issue.get("messageId", 0)), f"{issue.get('code')}: {issue.get('message')}"
                )
        return status, errors


def _merchant_quantity(item: dict[str, Any]) -> int | None:
    return next(
        (
            a.get("quantity")
            for a in item.get("fulfillmentAvailability", [])
            if isinstance(a, dict) and a.get("fulfillmentChannelCode") == MERCHANT_FULFILLED
        ),
        None,
    )


def _read_check(update: StockUpdate, shown: dict[str, int | None]) -> PendingCheck:
    """APPLIED once the listing shows the quantity; a listing not found never will."""
    sku = _seller_sku(update)
    if sku not in shown:
        return PendingCheck(PendingState.FAILED, reason=f"listing {sku} not found")
    if shown[sku] == update.quantity:
        return PendingCheck(PendingState.APPLIED, shown=shown[sku])
    return PendingCheck(PendingState.PENDING, shown=shown[sku])


def _feed_check(
    update: StockUpdate, outcome: tuple[str, dict[int, str]], message: int
) -> PendingCheck:
    status, errors = outcome
    if status in ("IN_QUEUE", "IN_PROGRESS"):
        return PendingCheck(PendingState.PENDING)
    if status != "DONE":
        return PendingCheck(PendingState.FAILED, reason=f"feed {status}")
    if message in errors:
        return PendingCheck(PendingState.FAILED, reason=errors[message][:1000])
    return PendingCheck(PendingState.APPLIED, shown=update.quantity)


def _refusal(update: StockUpdate) -> ChannelError | None:
    refs = update.listing.refs
    if not refs.get("sku"):
        return PermanentError(f"listing {update.listing.sku} has no seller SKU", channel=CHANNEL)
    channel_code = refs.get("fulfillment_channel_code", MERCHANT_FULFILLED)
    if channel_code != MERCHANT_FULFILLED:
        return PermanentError(
            f"listing {refs['sku']} is fulfilled by Amazon ({channel_code}): Amazon counts "
            "its stock, Keel does not set it",
            channel=CHANNEL,
        )
    return None


def quote_sku(sku: str) -> str:
    """Seller SKUs may hold spaces and slashes: one path segment, percent-encoded."""
    from urllib.parse import quote

    return quote(sku, safe="")


def publisher(secret: AmazonSecret, http: httpx.Client) -> AmazonStock:
    """The registry's outbound_stock factory."""
    return AmazonStock(SpApiClient(secret, http), http)
