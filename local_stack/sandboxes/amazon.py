"""An SP-API sandbox: Login with Amazon's token endpoint, Orders API 2026-01-01 (getOrder,
searchOrders), v0 confirmShipment, Listings Items 2021-08-01 (get, patch, search by seller
SKU), Feeds 2021-06-30 (documents, JSON_LISTINGS_FEED), and ORDER_CHANGE notifications sent to
Keel's SQS queue.

Faithful where Keel depends on it: `x-amz-access-token` from the refresh-token grant (1 h),
request bodies checked against Amazon's models (400 InvalidInput with the reasons), a token
bucket per operation at Amazon's default rates answering 429 QuotaExceeded (no Retry-After),
a patch answered ACCEPTED and applied only after `apply_delay_s` (as Amazon processes
submissions asynchronously), `merge` keeping the listing's other fulfillment fields where
`replace` drops them, orders lowering what a listing shows, feeds processed after the delay
with a processing report. The `/__sandbox/` control surface is in `sandboxes/base.py`; here:
`POST /__sandbox/orders` takes an order in the Orders API 2026-01-01 shape (missing ids and
times are filled in) and sends an ORDER_CHANGE (the envelope of the spec's example).
"""

from __future__ import annotations

import copy
import csv
import io
import itertools
import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local_stack.http import Request, Response
from local_stack.sandboxes import amazon_models
from local_stack.sandboxes.base import (
    SandboxLine,
    SandboxSubscription,
    SubscriptionBook,
)

CHANNEL = "amazon"
CONTROL = "/__sandbox"
SELLER_ID = "A2KEELDEMO0001"
MARKETPLACE_ID = "A1805IZSGTT6HS"  # Amazon.nl
# The seller's further marketplaces in the region (one quantity per seller SKU across them).
MORE_MARKETPLACE_IDS = ("A1PA6795UKMFR9",)  # Amazon.de
ORDERS_MODEL = "orders_2026-01-01"
V0_MODEL = "ordersV0"
LISTINGS_MODEL = "listingsItems_2021-08-01"
FEES_MODEL = "productFeesV0"
REFERRAL_PERCENT = Decimal(15)  # the fees estimate's referral fee, % of the price
FEEDS_MODEL = "feeds_2021-06-30"
REPORTS_MODEL = "reports_2021-06-30"
NOTIFICATIONS_MODEL = "notifications"
FEED_SCHEMA = "schemas/feeds/listings-feed-schema-v2.json"
TOKEN_TTL_S = 3600
SEARCH_IDENTIFIERS = 20  # searchListingsItems: identifiers maxItems, pageSize maximum
INCLUDED_DATA = frozenset(
    {"summaries", "attributes", "issues", "offers", "fulfillmentAvailability", "procurement",
     "relationships", "productTypes"}
)  # fmt: skip
MERCHANT = "DEFAULT"

# Amazon's default usage plans (rate per second, burst), from the models' descriptions.
RATES: dict[str, tuple[float, int]] = {
    "searchOrders": (0.0056, 20),
    "getOrder": (0.5, 30),
    "confirmShipment": (2.0, 10),
    "getListingsItem": (5.0, 10),
    "searchListingsItems": (5.0, 5),
    "patchListingsItem": (5.0, 5),
    "createFeedDocument": (0.5, 15),
    "createFeed": (0.0083, 15),
    "getFeed": (2.0, 15),
    "getFeedDocument": (0.0222, 10),
    "getMyFeesEstimateForSKU": (1.0, 2),
    "createReport": (0.0167, 15),
    "getReport": (2.0, 15),
    "getReportDocument": (0.0167, 15),
    "getDestinations": (1.0, 5),
    "createDestination": (1.0, 5),
    "getSubscription": (1.0, 5),
    "createSubscription": (1.0, 5),
    "deleteSubscriptionById": (1.0, 5),
}
GRANTLESS_SCOPE = "sellingpartnerapi::notifications"  # destinations need a grantless token
GRANTLESS = frozenset({"getDestinations", "createDestination", "deleteSubscriptionById"})
LISTINGS_REPORT = "GET_MERCHANT_LISTINGS_ALL_DATA"
# GET_MERCHANT_LISTINGS_ALL_DATA's columns, as Amazon's report type values page lists them.
REPORT_COLUMNS = (
    "item-name", "item-description", "listing-id", "seller-sku", "price", "quantity",
    "open-date", "image-url", "item-is-marketplace", "product-id-type", "zshop-shipping-fee",
    "item-note", "item-condition", "zshop-category1", "zshop-browse-path",
    "zshop-storefront-feature", "asin1", "asin2", "asin3", "will-ship-internationally",
    "expedited-shipping", "zshop-boldface", "product-id", "bid-for-featured-placement",
    "add-delete", "pending-quantity", "fulfillment-channel", "merchant-shipping-group", "status",
)  # fmt: skip


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _errors(status: int, code: str, message: str, details: str = "") -> Response:
    return Response.json(
        status,
        {"errors": [{"code": code, "message": message, "details": details}]},
        headers={"x-amzn-RequestId": str(uuid.uuid4())},
    )


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str, details: str = "") -> None:
        super().__init__(message)
        self.response = _errors(status, code, message, details)


@dataclass
class Bucket:
    rate: float
    burst: int
    tokens: float = 0.0
    at: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(float(self.burst), self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass
class AmazonListing:
    seller_sku: str
    marketplace_id: str
    title: str
    asin: str
    price: Decimal
    quantity: int | None  # merchant-fulfilled availability; None: none set
    product_type: str = "PRODUCT"
    gtin: str | None = None  # the EAN/UPC the offer was listed with (None: by ASIN)
    handling_time: int | None = 2  # lead_time_to_ship_max_days: survives a merge
    pending: list[tuple[float, dict[str, Any]]] = field(default_factory=list)  # (due, patch)
    # `purchasable_offer` as the seller last wrote it: the consumer offer ("ALL") and a business
    # price ("B2B") the seller set in Seller Central, which a blind replace would drop.
    offers: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.offers:
            self.offers = [
                {"marketplace_id": self.marketplace_id, "currency": "EUR", "audience": audience,
                 "our_price": [{"schedule": [{"value_with_tax": float(price)}]}]}
                for audience, price in (("ALL", self.price), ("B2B", self.price * Decimal("0.9")))
            ]  # fmt: skip

    def selling_price(self) -> Decimal | None:
        """What a consumer pays in this marketplace: the discounted price when there is one."""
        for offer in self.offers:
            if offer.get("audience", "ALL") != "ALL":
                continue
            for name in ("discounted_price", "our_price"):
                try:
                    value = offer[name][0]["schedule"][0]["value_with_tax"]
                except (KeyError, IndexError, TypeError):
                    continue
                return Decimal(str(value)).quantize(Decimal("0.01"))
        return None

    def availability(self) -> list[dict[str, Any]]:
        if self.quantity is None:
            return []
        return [{"fulfillmentChannelCode": MERCHANT, "quantity": self.quantity}]


@dataclass
class SentNotification:
    queue_url: str | None
    body: str
    error: str | None = None


@dataclass
class Feed:
    feed_id: str
    marketplace_ids: list[str]
    document_id: str
    created: datetime
    due: float
    status: str = "IN_QUEUE"
    result_document_id: str | None = None


class AmazonSandbox:
    """Thread-safe: the server is threaded. Notifications are sent after the state change,
    outside the lock, synchronously (the caller knows Keel's queue has it)."""

    channel = CHANNEL

    def __init__(
        self,
        seller_id: str = SELLER_ID,
        marketplace_id: str = MARKETPLACE_ID,
        more_marketplace_ids: tuple[str, ...] = MORE_MARKETPLACE_IDS,
        currency: str = "EUR",
        apply_delay_s: float = 1.0,
        rates: dict[str, tuple[float, int]] | None = None,
    ) -> None:
        self.seller_id = seller_id
        self.marketplace_id = marketplace_id
        self.more_marketplace_ids = more_marketplace_ids
        self.currency = currency
        self.apply_delay_s = apply_delay_s
        self.client_id = "amzn1.application-oa2-client." + secrets.token_hex(16)
        self.client_secret = "amzn1.oa2-cs.v1." + secrets.token_hex(32)
        self.refresh_token = "Atzr|" + secrets.token_urlsafe(48)
        self.base_url = "http://127.0.0.1"
        self.queue_url: str | None = None
        self._rates = {**RATES, **(rates or {})}
        self._buckets: dict[str, Bucket] = {}
        self._tokens: dict[str, float] = {}  # access token -> expiry (epoch)
        self._grantless: set[str] = set()  # tokens of the client-credentials grant
        self._listings: dict[tuple[str, str], AmazonListing] = {}
        # (marketplace, seller SKU) -> other sellers' offers: (seller, price, shipping, buy box)
        self._competitors: dict[tuple[str, str], list[tuple[str, Decimal, Decimal, bool]]] = {}
        self._orders: dict[str, dict[str, Any]] = {}
        self._documents: dict[str, bytes | None] = {}
        self._feeds: dict[str, Feed] = {}
        self._shipments: list[dict[str, Any]] = []
        self._order_numbers = itertools.count(1000001)
        self._asins = itertools.count(1)
        self._lock = threading.RLock()
        self.outage_remaining = 0
        self.outage_status = 503
        self.notifications: list[SentNotification] = []
        self.subscriptions = SubscriptionBook(first_id=3001, removed_when_disabled=True)
        self._destinations: dict[str, dict[str, Any]] = {}  # destination id -> Destination
        self._reports: dict[str, dict[str, Any]] = {}  # report id -> Report (+ its due time)
        self.report_delay_s = 0.3
        self.requests: list[tuple[str, str, int]] = []  # (operation, path, status)
        self.token_grants = 0

    # --- ChannelSandbox -------------------------------------------------------------------
    def keel_secret(self, base_url: str) -> dict[str, Any]:
        self.base_url = base_url.rstrip("/")
        return {
            "lwa_client_id": self.client_id,
            "lwa_client_secret": self.client_secret,
            "refresh_token": self.refresh_token,
            "seller_id": self.seller_id,
            "marketplace_id": self.marketplace_id,
            "marketplace_ids": list(self.more_marketplace_ids),
            "endpoint": self.base_url,
            "lwa_token_url": f"{self.base_url}/auth/o2/token",
            "currency": self.currency,
        }

    def local_only_secrets(self) -> dict[str, str]:
        return {
            "amazon_lwa_client_id": self.client_id,
            "amazon_lwa_client_secret": self.client_secret,
            "amazon_refresh_token": self.refresh_token,
        }

    def notify_to(self, webhook_url: str) -> None:
        """Amazon delivers to an SQS queue: this is the queue's URL (in moto)."""
        self.queue_url = webhook_url

    def add_listing(
        self,
        sku: str,
        title: str,
        price: Decimal,
        quantity: int | None,
        variant: bool = False,
        marketplace: str = "",
        gtin: str | None = None,
    ) -> dict[str, str]:
        return self.add_marketplace_listing(
            sku, title, price, quantity, marketplace or self.marketplace_id, gtin
        )

    def add_marketplace_listing(
        self,
        sku: str,
        title: str,
        price: Decimal,
        quantity: int | None,
        marketplace_id: str,
        gtin: str | None = None,
    ) -> dict[str, str]:
        """A merchant-fulfilled offer of `sku` in one marketplace (the same seller SKU in
        another marketplace is another listing, sharing its quantity). One GTIN is one ASIN:
        the seller's other listings of it, in any marketplace, share theirs."""
        if marketplace_id not in (self.marketplace_id, *self.more_marketplace_ids):
            raise ValueError(f"seller {self.seller_id} does not sell in {marketplace_id}")
        with self._lock:
            same = [
                x
                for x in self._listings.values()
                if x.seller_sku == sku or (gtin and x.gtin == gtin)
            ]
            asin = same[0].asin if same else f"B0KEEL{next(self._asins):04d}"
            self._listings[(marketplace_id, sku)] = AmazonListing(
                sku, marketplace_id, title, asin, price, quantity, gtin=gtin
            )
        return {
            "sku": sku,
            "marketplace_id": marketplace_id,
            "marketplace_sku": f"{marketplace_id}/{sku}",
            "listing_id": f"{marketplace_id}/{sku}",  # as GET /__sandbox/listings names it
            "asin": asin,
            "product_type": "PRODUCT",
        }

    def edit_listing(
        self, listing_id: str, quantity: int | None, price: Decimal | None, notify: bool
    ) -> dict[str, Any] | None:
        """A hand edit in Seller Central of `marketplace/SKU`: the seller SKU's quantity (one
        number across the region's marketplaces) and/or its consumer price in that marketplace.
        A quantity change sends LISTINGS_ITEM_MFN_QUANTITY_CHANGE to its subscriber (`notify`
        False: nothing is sent). Amazon has no notification for a seller's own price edit."""
        marketplace_id, _, sku = listing_id.partition("/")
        with self._lock:
            self._apply_due()
            listing = self._listings.get((marketplace_id, sku))
            if listing is None:
                return None
            if quantity is not None:
                for other in self._listings.values():
                    if other.seller_sku == sku:
                        other.quantity = quantity
            if price is not None:
                for offer in listing.offers:
                    if offer.get("audience", "ALL") == "ALL":
                        offer.pop("discounted_price", None)
                        offer["our_price"] = [{"schedule": [{"value_with_tax": float(price)}]}]
                listing.price = price
        if notify and quantity is not None:
            self.send_raw(json.dumps(self.quantity_notification(sku, quantity)))
        return next(r for r in self.shown() if r["listing_id"] == listing_id)

    def quantity_notification(self, sku: str, quantity: int) -> dict[str, Any]:
        """LISTINGS_ITEM_MFN_QUANTITY_CHANGE, as the spec's example has it."""
        now = _now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        return {
            "NotificationVersion": "1.0",
            "NotificationType": "LISTINGS_ITEM_MFN_QUANTITY_CHANGE",
            "PayloadVersion": "1.0",
            "EventTime": now,
            "Payload": {
                "SellerId": self.seller_id,
                "FulfillmentChannelCode": "DEFAULT",
                "Sku": sku,
                "Quantity": quantity,
            },
            "NotificationMetadata": {
                "ApplicationId": "amzn1.sellerapps.app.keel-sandbox",
                "SubscriptionId": str(uuid.uuid4()),
                "PublishTime": now,
                "NotificationId": str(uuid.uuid4()),
            },
        }

    def order_body(self, lines: list[SandboxLine]) -> dict[str, Any]:
        """An order in the Orders API 2026-01-01 shape (ids and times filled in on placing), in
        the marketplace of its lines' listing (the account's first when they name none)."""
        marketplaces = {ln.refs.get("marketplace_id") or "" for ln in lines} - {""}
        if len(marketplaces) > 1:
            raise ValueError(f"an Amazon order is in one marketplace, got {sorted(marketplaces)}")
        marketplace = str(marketplaces.pop()) if marketplaces else self.marketplace_id
        items = []
        total = Decimal(0)
        for n, line in enumerate(lines, 1):
            sku = line.refs.get("sku") or line.sku or ""
            total += line.price * line.quantity
            items.append(
                {
                    "orderItemId": f"{n:014d}",
                    "quantityOrdered": line.quantity,
                    "product": {
                        "sellerSku": sku,
                        "title": line.title,
                        "price": {
                            "unitPrice": {
                                "amount": f"{line.price:.2f}",
                                "currencyCode": self.currency,
                            }
                        },
                    },
                }
            )
        return {
            # The marketplace the buyer shopped in: the one the lines' listing names.
            "salesChannel": {"channelName": "AMAZON", "marketplaceId": marketplace},
            "proceeds": {"grandTotal": {"amount": f"{total:.2f}", "currencyCode": self.currency}},
            "fulfillment": {"fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "MERCHANT"},
            "recipient": {
                "deliveryAddress": {
                    "name": "Demo Buyer",
                    "addressLine1": "1 Keel Street",
                    "city": "Amsterdam",
                    "postalCode": "1011 AA",
                    "countryCode": "NL",
                    "addressType": "RESIDENTIAL",
                }
            },
            "orderItems": items,
        }

    def shown(self) -> list[dict[str, Any]]:
        with self._lock:
            self._apply_due()
            return [
                {
                    "listing_id": f"{listing.marketplace_id}/{listing.seller_sku}",
                    "sku": listing.seller_sku,
                    "marketplace_id": listing.marketplace_id,
                    "quantity": listing.quantity,
                    "price": f"{price:.2f}" if (price := listing.selling_price()) else None,
                    "account": self.seller_id,
                    "marketplace": listing.marketplace_id,
                    "gtin": listing.gtin,
                }
                for listing in self._listings.values()
            ]

    def shipments(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._shipments)

    def fail_next(self, requests: int, status: int = 503) -> None:
        with self._lock:
            self.outage_remaining, self.outage_status = requests, status

    # --- inspection -------------------------------------------------------------------------
    def listing(self, sku: str, marketplace_id: str | None = None) -> AmazonListing:
        with self._lock:
            self._apply_due()
            return self._listings[(marketplace_id or self.marketplace_id, sku)]

    def order(self, order_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._orders[order_id])

    def accepted_writes(self) -> int:
        """Patches and feeds accepted but not applied yet (the demo waits for none)."""
        with self._lock:
            self._apply_due()
            return sum(len(x.pending) for x in self._listings.values()) + sum(
                1 for f in self._feeds.values() if f.status == "IN_QUEUE"
            )

    def drain_bucket(self, operation: str) -> None:
        """Spend an operation's burst (tests: the next call answers QuotaExceeded)."""
        with self._lock:
            self._bucket(operation).tokens = 0.0

    # --- HTTP -------------------------------------------------------------------------------
    def __call__(self, request: Request) -> Response:
        path = request.path
        if path == CONTROL or path.startswith(CONTROL + "/"):
            return self._control(request)
        if path == "/auth/o2/token" and request.method == "POST":
            return self._token(request)
        if path.startswith("/__uploads/"):
            return self._upload(request, path.removeprefix("/__uploads/"))
        operation, handler = self._route(request)
        if handler is None:
            return _errors(404, "NotFound", "Resource not found")
        response = self._serve(operation, request, handler)
        with self._lock:
            self.requests.append((operation, path, response.status))
        return response

    def _serve(self, operation: str, request: Request, handler: Any) -> Response:
        with self._lock:
            headers = {k.lower(): v for k, v in request.headers.items()}
            token = headers.get("x-amz-access-token", "")
            expiry = self._tokens.get(token)
            if (operation in GRANTLESS) != (token in self._grantless):
                expiry = None  # a grantless operation takes a grantless token, and only it
            if expiry is None or expiry < time.time():
                return _errors(
                    403,
                    "Unauthorized",
                    "Access to requested resource is denied.",
                    "The access token you provided is revoked, malformed or invalid.",
                )
            if self.outage_remaining > 0:
                self.outage_remaining -= 1
                return _errors(
                    self.outage_status, "InternalFailure", "We encountered an internal error."
                )
            if not self._bucket(operation).take():
                return _errors(
                    429, "QuotaExceeded", "You exceeded your quota for the requested resource."
                )
            self._apply_due()
        try:
            result: Response = handler(request)
            return result
        except _Refused as refused:
            return refused.response

    def _bucket(self, operation: str) -> Bucket:
        if operation not in self._buckets:
            rate, burst = self._rates[operation]
            self._buckets[operation] = Bucket(rate, burst)
        return self._buckets[operation]

    def _route(self, request: Request) -> tuple[str, Any]:
        path, method = request.path, request.method
        if (m := re.fullmatch(r"/orders/2026-01-01/orders/([^/]+)", path)) and method == "GET":
            return "getOrder", lambda r: self._get_order(m.group(1))
        if path == "/orders/2026-01-01/orders" and method == "GET":
            return "searchOrders", self._search_orders
        if (m := re.fullmatch(r"/orders/v0/orders/([^/]+)/shipmentConfirmation", path)) and (
            method == "POST"
        ):
            return "confirmShipment", lambda r: self._confirm_shipment(m.group(1), r)
        if (m := re.fullmatch(r"/listings/2021-08-01/items/([^/]+)", path)) and method == "GET":
            return "searchListingsItems", lambda r: self._search_listings(m.group(1), r)
        if m := re.fullmatch(r"/listings/2021-08-01/items/([^/]+)/([^/]+)", path):
            seller, sku = m.group(1), _unquote(m.group(2))
            if method == "GET":
                return "getListingsItem", lambda r: self._get_listing(seller, sku, r)
            if method == "PATCH":
                return "patchListingsItem", lambda r: self._patch_listing(seller, sku, r)
        if (m := re.fullmatch(r"/products/fees/v0/listings/([^/]+)/feesEstimate", path)) and (
            method == "POST"
        ):
            return "getMyFeesEstimateForSKU", lambda r: self._fees(_unquote(m.group(1)), r)
        if path == "/reports/2021-06-30/reports" and method == "POST":
            return "createReport", self._create_report
        if (m := re.fullmatch(r"/reports/2021-06-30/reports/([^/]+)", path)) and method == "GET":
            return "getReport", lambda r: self._get_report(m.group(1))
        if (m := re.fullmatch(r"/reports/2021-06-30/documents/([^/]+)", path)) and method == "GET":
            return "getReportDocument", lambda r: self._get_report_document(m.group(1))
        if path == "/notifications/v1/destinations":
            if method == "GET":
                return "getDestinations", self._get_destinations
            if method == "POST":
                return "createDestination", self._create_destination
        if m := re.fullmatch(r"/notifications/v1/subscriptions/([A-Z_]+)", path):
            if method == "GET":
                return "getSubscription", lambda r: self._get_subscription(m.group(1))
            if method == "POST":
                return "createSubscription", lambda r: self._create_subscription(m.group(1), r)
        m = re.fullmatch(r"/notifications/v1/subscriptions/([A-Z_]+)/([^/]+)", path)
        if m and method == "DELETE":
            return "deleteSubscriptionById", lambda r: self._delete_subscription(m.group(2))
        if path == "/feeds/2021-06-30/documents" and method == "POST":
            return "createFeedDocument", self._create_document
        if (m := re.fullmatch(r"/feeds/2021-06-30/documents/([^/]+)", path)) and method == "GET":
            return "getFeedDocument", lambda r: self._get_document(m.group(1))
        if path == "/feeds/2021-06-30/feeds" and method == "POST":
            return "createFeed", self._create_feed
        if (m := re.fullmatch(r"/feeds/2021-06-30/feeds/([^/]+)", path)) and method == "GET":
            return "getFeed", lambda r: self._get_feed(m.group(1))
        return "", None

    # --- product fees -------------------------------------------------------------------------
    def _fees(self, sku: str, request: Request) -> Response:
        """getMyFeesEstimateForSKU: a referral fee of REFERRAL_PERCENT of the price, and no
        closing fee (what Amazon's EU marketplaces charge for most categories)."""
        body = _json(request)
        problems = amazon_models.errors(body, FEES_MODEL, "GetMyFeesEstimateRequest")
        if problems:
            raise _Refused(400, "InvalidInput", "Invalid request body", "; ".join(problems))
        ask = body.get("FeesEstimateRequest") or {}
        marketplace = ask.get("MarketplaceId")
        price = (ask.get("PriceToEstimateFees") or {}).get("ListingPrice") or {}
        with self._lock:
            known = (marketplace, sku) in self._listings
        if not known or not isinstance(price.get("Amount"), int | float):
            raise _Refused(400, "InvalidInput", f"no listing {sku} in {marketplace}, or no price")
        amount = Decimal(str(price["Amount"]))
        currency = str(price.get("CurrencyCode", "EUR"))

        def money(value: Decimal) -> dict[str, Any]:
            return {"CurrencyCode": currency, "Amount": float(value.quantize(Decimal("0.01")))}

        referral = amount * REFERRAL_PERCENT / 100
        details = [
            {"FeeType": "ReferralFee", "FeeAmount": money(referral), "FinalFee": money(referral)},
            {"FeeType": "FixedClosingFee", "FeeAmount": money(Decimal(0)),
             "FinalFee": money(Decimal(0))},
        ]  # fmt: skip
        identifier = {
            "MarketplaceId": marketplace,
            "IdType": "SellerSKU",
            "IdValue": sku,
            "SellerInputIdentifier": ask.get("Identifier"),
        }
        estimate = {
            "TimeOfFeesEstimation": _iso(_now()),
            "TotalFeesEstimate": money(referral),
            "FeeDetailList": details,
        }
        result = {
            "Status": "Success",
            "FeesEstimateIdentifier": identifier,
            "FeesEstimate": estimate,
        }
        return Response.json(200, {"payload": {"FeesEstimateResult": result}})

    # --- LWA ----------------------------------------------------------------------------------
    def _token(self, request: Request) -> Response:
        form = {k: v[-1] for k, v in parse_qs(request.body.decode(errors="replace")).items()}
        if form.get("grant_type") == "client_credentials":
            return self._grantless_token(form)
        if form.get("grant_type") != "refresh_token":
            return Response.json(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "The authorization grant type is not supported",
                },
            )
        if (
            form.get("client_id") != self.client_id
            or form.get("client_secret") != self.client_secret
        ):
            return Response.json(
                401,
                {"error": "invalid_client", "error_description": "Client authentication failed"},
            )
        if form.get("refresh_token") != self.refresh_token:
            return Response.json(
                400,
                {
                    "error": "invalid_grant",
                    "error_description": "The request has an invalid grant parameter",
                },
            )
        token = "Atza|" + secrets.token_urlsafe(48)
        with self._lock:
            self._tokens[token] = time.time() + TOKEN_TTL_S
            self.token_grants += 1
        return Response.json(
            200,
            {
                "access_token": token,
                "refresh_token": self.refresh_token,
                "token_type": "bearer",
                "expires_in": TOKEN_TTL_S,
            },
        )

    def _grantless_token(self, form: dict[str, str]) -> Response:
        """LWA's client-credentials grant: a token for grantless operations (notifications'
        destinations), for the scope asked, without a seller's refresh token."""
        if (form.get("client_id"), form.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return Response.json(
                401,
                {"error": "invalid_client", "error_description": "Client authentication failed"},
            )
        if form.get("scope") != GRANTLESS_SCOPE:
            return Response.json(400, {"error": "invalid_scope", "error_description": "scope"})
        token = "Atc|" + secrets.token_urlsafe(48)
        with self._lock:
            self._tokens[token] = time.time() + TOKEN_TTL_S
            self._grantless.add(token)
        return Response.json(
            200,
            {"access_token": token, "scope": GRANTLESS_SCOPE, "token_type": "bearer",
             "expires_in": TOKEN_TTL_S},
        )  # fmt: skip

    # --- reports (listings) -------------------------------------------------------------------
    def _create_report(self, request: Request) -> Response:
        body = _json(request)
        problems = amazon_models.errors(body, REPORTS_MODEL, "CreateReportSpecification")
        if problems:
            raise _Refused(400, "InvalidInput", "Invalid request body", "; ".join(problems))
        if body["reportType"] != LISTINGS_REPORT:
            raise _Refused(400, "InvalidInput", f"the sandbox makes {LISTINGS_REPORT} only")
        unknown = set(body["marketplaceIds"]) - {self.marketplace_id, *self.more_marketplace_ids}
        if unknown or len(body["marketplaceIds"]) != 1:
            raise _Refused(400, "InvalidInput", "one marketplace the seller sells in")
        report_id = str(50000 + len(self._reports) + 1)
        with self._lock:
            self._reports[report_id] = {
                "reportId": report_id,
                "reportType": LISTINGS_REPORT,
                "marketplaceIds": body["marketplaceIds"],
                "processingStatus": "IN_QUEUE",
                "createdTime": _iso(_now()),
                "_due": time.monotonic() + self.report_delay_s,
            }
        return Response.json(202, {"reportId": report_id})

    def _get_report(self, report_id: str) -> Response:
        with self._lock:
            report = self._reports.get(report_id)
            if report is None:
                raise _Refused(404, "NotFound", f"Report {report_id} not found")
            if report["processingStatus"] == "IN_QUEUE" and time.monotonic() >= report["_due"]:
                document_id = "amzn1.spdoc.1.4.eu." + uuid.uuid4().hex
                self._documents[document_id] = self._listings_tsv(report["marketplaceIds"][0])
                report.update(processingStatus="DONE", reportDocumentId=document_id,
                              processingEndTime=_iso(_now()))  # fmt: skip
            return Response.json(200, {k: v for k, v in report.items() if not k.startswith("_")})

    def _get_report_document(self, document_id: str) -> Response:
        with self._lock:
            if document_id not in self._documents:
                raise _Refused(404, "NotFound", "Report document not found")
        return Response.json(
            200,
            {"reportDocumentId": document_id, "url": f"{self.base_url}/__uploads/{document_id}"},
        )

    def _listings_tsv(self, marketplace: str) -> bytes:
        """The listings report of one marketplace as it is now (a snapshot: a report is read
        later, and may be hours old by then)."""
        out = io.StringIO()
        writer = csv.writer(out, delimiter="\t", lineterminator="\n")
        writer.writerow(REPORT_COLUMNS)
        for (market, sku), x in sorted(self._listings.items()):
            if market != marketplace:
                continue
            row = dict.fromkeys(REPORT_COLUMNS, "")
            price = x.selling_price()
            row.update({
                "item-name": x.title, "listing-id": f"{x.asin}{market[-4:]}", "seller-sku": sku,
                "price": f"{price:.2f}" if price is not None else "",
                "quantity": "" if x.quantity is None else str(x.quantity),
                "open-date": "2026-01-01 00:00:00 UTC", "item-is-marketplace": "y",
                "product-id-type": "4" if x.gtin else "1", "item-condition": "11",
                "asin1": x.asin, "product-id": x.gtin or x.asin,
                "fulfillment-channel": MERCHANT, "status": "Active",
            })  # fmt: skip
            writer.writerow(row[c] for c in REPORT_COLUMNS)
        return out.getvalue().encode()

    # --- notifications ------------------------------------------------------------------------
    def _get_destinations(self, request: Request) -> Response:
        with self._lock:
            return Response.json(200, {"payload": list(self._destinations.values())})

    def _create_destination(self, request: Request) -> Response:
        body = _json(request)
        problems = amazon_models.errors(body, NOTIFICATIONS_MODEL, "CreateDestinationRequest")
        arn = ((body or {}).get("resourceSpecification") or {}).get("sqs", {}).get("arn")
        if problems or not arn:
            raise _Refused(400, "InvalidInput", "Invalid request body", "; ".join(problems))
        with self._lock:
            if any(d["resource"]["sqs"]["arn"] == arn for d in self._destinations.values()):
                raise _Refused(409, "Conflict", "A destination with this resource exists")
            destination_id = str(uuid.uuid4())
            self._destinations[destination_id] = {
                "name": body["name"],
                "destinationId": destination_id,
                "resource": {"sqs": {"arn": arn}},
            }
            return Response.json(200, {"payload": self._destinations[destination_id]})

    def _get_subscription(self, notification_type: str) -> Response:
        with self._lock:
            found = [s for s in self.subscriptions.listed() if s.topic == notification_type]
        if not found:
            raise _Refused(404, "NotFound", f"No subscription for {notification_type}")
        return Response.json(200, {"payload": _subscription_view(found[0])})

    def _create_subscription(self, notification_type: str, request: Request) -> Response:
        body = _json(request)
        problems = amazon_models.errors(body, NOTIFICATIONS_MODEL, "CreateSubscriptionRequest")
        if problems:
            raise _Refused(400, "InvalidInput", "Invalid request body", "; ".join(problems))
        with self._lock:
            destination = self._destinations.get(body["destinationId"])
            if destination is None:
                raise _Refused(400, "InvalidInput", "destinationId is not a destination")
            if any(s.topic == notification_type for s in self.subscriptions.listed()):
                raise _Refused(409, "Conflict", "A subscription for this type already exists")
            sub = self.subscriptions.add(
                notification_type,
                destination["resource"]["sqs"]["arn"],
                destination=body["destinationId"],
                payload_version=body["payloadVersion"],
            )
            return Response.json(200, {"payload": _subscription_view(sub)})

    def _delete_subscription(self, subscription_id: str) -> Response:
        with self._lock:
            if self.subscriptions.remove(subscription_id) is None:
                raise _Refused(404, "NotFound", f"Subscription {subscription_id} not found")
        return Response.json(200, {})

    # --- orders -------------------------------------------------------------------------------
    def _get_order(self, order_id: str) -> Response:
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                raise _Refused(404, "NotFound", f"Order {order_id} not found")
            return Response.json(200, {"order": copy.deepcopy(order)})

    def _search_orders(self, request: Request) -> Response:
        q = {k: v[-1] for k, v in request.query.items()}
        marketplaces = set((q.get("marketplaceIds") or "").split(",")) - {""}
        if not marketplaces:
            raise _Refused(400, "InvalidInput", "marketplaceIds is required")
        after_text = q.get("lastUpdatedAfter") or q.get("createdAfter")
        if not after_text:
            raise _Refused(
                400, "InvalidInput", "Either createdAfter or lastUpdatedAfter is required"
            )
        if "lastUpdatedAfter" in q and "createdAfter" in q:
            raise _Refused(400, "InvalidInput", "createdAfter and lastUpdatedAfter are exclusive")
        try:
            after = datetime.fromisoformat(after_text.replace("Z", "+00:00"))
        except ValueError:
            raise _Refused(400, "InvalidInput", "lastUpdatedAfter is not ISO 8601") from None
        size = int(q.get("maxResultsPerPage") or 100)
        if not 1 <= size <= 100:
            raise _Refused(400, "InvalidInput", "maxResultsPerPage must be between 1 and 100")
        field_name = "lastUpdatedTime" if "lastUpdatedAfter" in q else "createdTime"
        by = set((q.get("fulfilledBy") or "").split(",")) - {""}
        with self._lock:
            matching = sorted(
                (
                    o
                    for o in self._orders.values()
                    if o["salesChannel"]["marketplaceId"] in marketplaces
                    and datetime.fromisoformat(o[field_name].replace("Z", "+00:00")) >= after
                    and (not by or o["fulfillment"]["fulfilledBy"] in by)
                ),
                key=lambda o: (o[field_name], o["orderId"]),
            )
            start = (
                int(q.get("paginationToken") or 0)
                if (q.get("paginationToken") or "0").isdigit()
                else -1
            )
            if start < 0:
                raise _Refused(400, "InvalidInput", "Invalid paginationToken")
            page = [copy.deepcopy(o) for o in matching[start : start + size]]
        body: dict[str, Any] = {"orders": page, "lastUpdatedBefore": _iso(_now())}
        if start + size < len(matching):
            body["pagination"] = {"nextToken": str(start + size)}
        return Response.json(200, body)

    def _confirm_shipment(self, order_id: str, request: Request) -> Response:
        body = _json(request)
        problems = amazon_models.errors(body, V0_MODEL, "ConfirmShipmentRequest")
        if problems:
            raise _Refused(400, "InvalidInput", "Invalid Input", "; ".join(problems))
        detail = body["packageDetail"]
        if detail["carrierCode"] == "Other" and not detail.get("carrierName"):
            raise _Refused(400, "InvalidInput", "carrierName is required when carrierCode is Other")
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                raise _Refused(404, "NotFound", f"Order {order_id} not found")
            if body["marketplaceId"] != order["salesChannel"]["marketplaceId"]:
                raise _Refused(400, "InvalidInput", "marketplaceId does not match the order")
            status = order["fulfillment"]["fulfillmentStatus"]
            if status not in ("UNSHIPPED", "PARTIALLY_SHIPPED"):
                raise _Refused(
                    400, "InvalidInput", f"The order is {status}: it cannot be confirmed"
                )
            items = {i["orderItemId"]: i for i in order["orderItems"]}
            for line in detail["orderItems"]:
                item = items.get(line["orderItemId"])
                left = item["fulfillment"]["quantityUnfulfilled"] if item else 0
                if item is None or not 0 < line["quantity"] <= left:
                    raise _Refused(
                        400,
                        "InvalidInput",
                        f"orderItemId {line['orderItemId']}: quantity not shippable",
                    )
            for line in detail["orderItems"]:
                f = items[line["orderItemId"]]["fulfillment"]
                f["quantityFulfilled"] += line["quantity"]
                f["quantityUnfulfilled"] -= line["quantity"]
            done = all(i["fulfillment"]["quantityUnfulfilled"] == 0 for i in order["orderItems"])
            order["fulfillment"]["fulfillmentStatus"] = "SHIPPED" if done else "PARTIALLY_SHIPPED"
            order["lastUpdatedTime"] = _iso(_now())
            self._shipments.append(
                {
                    "order_id": order_id,
                    "tracking_number": detail["trackingNumber"],
                    "carrier": detail.get("carrierName") or detail["carrierCode"],
                }
            )
            snapshot = copy.deepcopy(order)
        self._notify(snapshot, "OrderStatusChange", "Shipment confirmed")
        return Response(204)

    # --- listings -----------------------------------------------------------------------------
    def _listing_for(self, seller: str, sku: str, request: Request) -> AmazonListing:
        marketplaces = (request.query.get("marketplaceIds") or [""])[-1].split(",")
        if seller != self.seller_id:
            raise _Refused(403, "Unauthorized", "Access to requested resource is denied.")
        if marketplaces == [""]:
            raise _Refused(400, "InvalidInput", "marketplaceIds is required")
        listing = self._listings.get((marketplaces[0], sku))
        if listing is None:
            raise _Refused(
                404, "NOT_FOUND", f"SKU '{sku}' not found in marketplace {marketplaces[0]}"
            )
        return listing

    def _get_listing(self, seller: str, sku: str, request: Request) -> Response:
        included = set((request.query.get("includedData") or ["summaries"])[-1].split(","))
        with self._lock:
            listing = self._listing_for(seller, sku, request)
            body: dict[str, Any] = {"sku": sku}
            if "summaries" in included:
                body["summaries"] = [
                    {
                        "marketplaceId": listing.marketplace_id,
                        "asin": listing.asin,
                        "productType": listing.product_type,
                        "conditionType": "new_new",
                        "status": ["BUYABLE"],
                        "itemName": listing.title,
                        "createdDate": "2026-01-01T00:00:00Z",
                        "lastUpdatedDate": _iso(_now()),
                    }
                ]
            if "fulfillmentAvailability" in included:
                body["fulfillmentAvailability"] = listing.availability()
            if "attributes" in included:
                body["attributes"] = _attributes(listing)
            if "issues" in included:
                body["issues"] = []
        return Response.json(200, body)

    def _search_listings(self, seller: str, request: Request) -> Response:
        """searchListingsItems by seller SKUs (`identifiersType=SKU`, the one type the sandbox
        keeps an index of): <= 20 identifiers, pageSize <= 20 (default 10), as the model says."""
        q = {k: v[-1] for k, v in request.query.items()}
        if seller != self.seller_id:
            raise _Refused(403, "Unauthorized", "Access to requested resource is denied.")
        marketplace = q.get("marketplaceIds", "").split(",")[0]
        if not marketplace:
            raise _Refused(400, "InvalidInput", "marketplaceIds is required")
        identifiers = [i for i in q.get("identifiers", "").split(",") if i]
        kind = q.get("identifiersType")
        if bool(identifiers) != bool(kind):
            raise _Refused(400, "InvalidInput", "identifiers and identifiersType go together")
        if len(identifiers) > SEARCH_IDENTIFIERS:
            raise _Refused(400, "InvalidInput", f"at most {SEARCH_IDENTIFIERS} identifiers")
        if kind is not None and kind != "SKU":
            raise _Refused(400, "InvalidInput", f"identifiersType {kind}: the sandbox knows SKU")
        try:
            page_size = int(q.get("pageSize", "10"))
        except ValueError:
            raise _Refused(400, "InvalidInput", "pageSize must be an integer") from None
        if not 1 <= page_size <= SEARCH_IDENTIFIERS:
            raise _Refused(400, "InvalidInput", f"pageSize must be 1..{SEARCH_IDENTIFIERS}")
        included = set(q.get("includedData", "summaries").split(","))
        if unknown := included - INCLUDED_DATA:
            raise _Refused(400, "InvalidInput", f"includedData: unknown {sorted(unknown)}")
        with self._lock:
            found = [
                listing
                for (market, sku), listing in sorted(self._listings.items())
                if market == marketplace and (not identifiers or sku in identifiers)
            ]
            items = []
            for listing in found[:page_size]:
                item: dict[str, Any] = {"sku": listing.seller_sku}
                if "fulfillmentAvailability" in included:
                    item["fulfillmentAvailability"] = listing.availability()
                if "issues" in included:
                    item["issues"] = []
                items.append(item)
        body: dict[str, Any] = {"numberOfResults": len(found), "items": items}
        if len(found) > page_size:
            body["pagination"] = {"nextToken": "sandbox-has-no-second-page"}
        return Response.json(200, body)

    def _patch_listing(self, seller: str, sku: str, request: Request) -> Response:
        body = _json(request)
        problems = amazon_models.errors(body, LISTINGS_MODEL, "ListingsItemPatchRequest")
        if problems:
            raise _Refused(400, "InvalidInput", "Invalid request body", "; ".join(problems))
        with self._lock:
            listing = self._listing_for(seller, sku, request)
            issues = _patch_issues(body["patches"])
            submission = uuid.uuid4().hex
            if issues:
                return Response.json(
                    200,
                    {"sku": sku, "status": "INVALID", "submissionId": submission, "issues": issues},
                )
            due = time.monotonic() + self.apply_delay_s
            for patch in body["patches"]:
                listing.pending.append((due, patch))
        return Response.json(
            200, {"sku": sku, "status": "ACCEPTED", "submissionId": submission, "issues": []}
        )

    def _apply_due(self) -> None:
        """Apply accepted patches and process feeds whose time came (lock held)."""
        now = time.monotonic()
        for listing in self._listings.values():
            due = [p for at, p in listing.pending if at <= now]
            listing.pending = [(at, p) for at, p in listing.pending if at > now]
            for patch in due:
                self._apply_to_seller_sku(listing, patch)
        for feed in self._feeds.values():
            if feed.status == "IN_QUEUE" and feed.due <= now:
                self._process(feed)

    def _apply_to_seller_sku(self, listing: AmazonListing, patch: dict[str, Any]) -> None:
        """A seller SKU's quantity is one number across the region's marketplaces
        (`fulfillment_availability` names no marketplace): a patch sent in one marketplace
        shows in every marketplace that lists the SKU (lock held)."""
        for other in self._listings.values():
            if other.seller_sku == listing.seller_sku:
                _apply(other, patch)

    # --- feeds --------------------------------------------------------------------------------
    def _create_document(self, request: Request) -> Response:
        body = _json(request)
        problems = amazon_models.errors(body, FEEDS_MODEL, "CreateFeedDocumentSpecification")
        if problems:
            raise _Refused(400, "InvalidInput", "Invalid request body", "; ".join(problems))
        document_id = "amzn1.tortuga.4.eu." + uuid.uuid4().hex
        with self._lock:
            self._documents[document_id] = None
        return Response.json(
            201, {"feedDocumentId": document_id, "url": f"{self.base_url}/__uploads/{document_id}"}
        )

    def _upload(self, request: Request, document_id: str) -> Response:
        """The pre-signed S3 URL a feed document is PUT to and read from (no SP-API token)."""
        with self._lock:
            if document_id not in self._documents:
                return Response(403, b"<Error><Code>AccessDenied</Code></Error>")
            if request.method == "PUT":
                self._documents[document_id] = request.body
                return Response(200)
            content = self._documents[document_id]
        if request.method == "GET" and content is not None:
            return Response(200, content, {"content-type": "application/json"})
        return Response(404, b"<Error><Code>NoSuchKey</Code></Error>")

    def _get_document(self, document_id: str) -> Response:
        with self._lock:
            if document_id not in self._documents:
                raise _Refused(404, "NotFound", "Feed document not found")
        return Response.json(
            200, {"feedDocumentId": document_id, "url": f"{self.base_url}/__uploads/{document_id}"}
        )

    def _create_feed(self, request: Request) -> Response:
        body = _json(request)
        problems = amazon_models.errors(body, FEEDS_MODEL, "CreateFeedSpecification")
        if problems:
            raise _Refused(400, "InvalidInput", "Invalid request body", "; ".join(problems))
        if body["feedType"] != "JSON_LISTINGS_FEED":
            raise _Refused(400, "InvalidInput", f"feedType {body['feedType']} is not offered here")
        with self._lock:
            if self._documents.get(body["inputFeedDocumentId"]) is None:
                raise _Refused(400, "InvalidInput", "inputFeedDocumentId has no uploaded content")
            feed_id = str(50000000000 + len(self._feeds) + 1)
            self._feeds[feed_id] = Feed(
                feed_id,
                list(body["marketplaceIds"]),
                body["inputFeedDocumentId"],
                _now(),
                time.monotonic() + self.apply_delay_s,
            )
        return Response.json(202, {"feedId": feed_id})

    def _get_feed(self, feed_id: str) -> Response:
        with self._lock:
            feed = self._feeds.get(feed_id)
            if feed is None:
                raise _Refused(404, "NotFound", "Feed not found")
            body: dict[str, Any] = {
                "feedId": feed.feed_id,
                "feedType": "JSON_LISTINGS_FEED",
                "marketplaceIds": feed.marketplace_ids,
                "createdTime": _iso(feed.created),
                "processingStatus": feed.status,
            }
            if feed.result_document_id:
                body["resultFeedDocumentId"] = feed.result_document_id
        return Response.json(200, body)

    def _process(self, feed: Feed) -> None:
        """Apply every valid message; report the others (listings-feed-processing-report)."""
        raw = self._documents.get(feed.document_id) or b""
        issues: list[dict[str, Any]] = []
        accepted = invalid = 0
        try:
            document = json.loads(raw)
        except ValueError:
            feed.status = "FATAL"
            return
        if (
            amazon_models.errors(document, FEED_SCHEMA)
            or document["header"]["sellerId"] != self.seller_id
        ):
            feed.status = "FATAL"
            return
        marketplace = feed.marketplace_ids[0]
        for message in document["messages"]:
            listing = self._listings.get((marketplace, str(message.get("sku"))))
            problems = (
                [] if listing is not None else [{"code": "4000003", "message": "SKU not found"}]
            )
            if message.get("operationType") != "PATCH":
                problems.append({"code": "90000", "message": "Keel's sandbox processes PATCH only"})
            problems += [
                {"code": i["code"], "message": i["message"]}
                for i in _patch_issues(message.get("patches", []))
            ]
            if problems:
                invalid += 1
                issues += [
                    {
                        "messageId": message["messageId"],
                        "sku": message.get("sku"),
                        "severity": "ERROR",
                        **p,
                    }
                    for p in problems
                ]
                continue
            accepted += 1
            assert listing is not None
            for patch in message["patches"]:
                self._apply_to_seller_sku(listing, patch)
        report = {
            "header": {"sellerId": self.seller_id, "version": "2.0", "feedId": feed.feed_id},
            "issues": issues,
            "summary": {
                "errors": len(issues),
                "warnings": 0,
                "messagesProcessed": accepted + invalid,
                "messagesAccepted": accepted,
                "messagesInvalid": invalid,
            },
        }
        result_id = "amzn1.tortuga.4.eu." + uuid.uuid4().hex
        self._documents[result_id] = json.dumps(report).encode()
        feed.result_document_id = result_id
        feed.status = "DONE"

    # --- control surface ----------------------------------------------------------------------
    def _control(self, request: Request) -> Response:
        rel, method = request.path[len(CONTROL) :], request.method
        if rel == "/outage" and method == "POST":
            spec = json.loads(request.body or b"{}")
            self.fail_next(int(spec.get("requests", 1)), int(spec.get("status", 503)))
            return Response.json(
                200, {"outage": {"remaining": self.outage_remaining, "status": self.outage_status}}
            )
        if rel == "/listings" and method == "GET":
            return Response.json(200, self.shown())
        if rel == "/shipments" and method == "GET":
            return Response.json(200, self.shipments())
        notify = request.query.get("notify", ["true"])[-1] != "false"
        try:
            if rel == "/orders" and method == "POST":
                return Response.json(200, {"id": self.place_order(_json(request), notify)})
            if (m := re.fullmatch(r"/orders/([^/]+)/cancel", rel)) and method == "POST":
                return Response.json(
                    200, {"id": m.group(1), "status": self.cancel(m.group(1), notify)}
                )
            if rel == "/competitors" and method == "POST":
                return Response.json(200, self.competitors(_json(request), notify))
        except _Refused as refused:
            return refused.response
        return _errors(404, "NotFound", "No such control")

    def place_order(self, payload: Any, notify: bool = True) -> str:
        """Keep the order (Orders API 2026-01-01 shape; missing ids/times filled in), lower
        what its listings show, then send ORDER_CHANGE."""
        if not isinstance(payload, dict):
            raise _Refused(400, "InvalidInput", "an order is a JSON object")
        order = copy.deepcopy(payload)
        now = _iso(_now())
        order.setdefault(
            "orderId", f"171-{next(self._order_numbers):07d}-{secrets.randbelow(10**7):07d}"
        )
        order.setdefault("createdTime", now)
        order["lastUpdatedTime"] = now
        order.setdefault(
            "salesChannel", {"channelName": "AMAZON", "marketplaceId": self.marketplace_id}
        )
        order.setdefault(
            "fulfillment", {"fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "MERCHANT"}
        )
        items = order.get("orderItems")
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            item.setdefault(
                "fulfillment",
                {"quantityFulfilled": 0, "quantityUnfulfilled": item.get("quantityOrdered", 0)},
            )
        # What the sandbox itself reads, checked with or without Amazon's models beside the repo
        # (without them the model check passes everything: specs.strict).
        problems = _unreadable(order) or amazon_models.errors(order, ORDERS_MODEL, "Order")
        if problems:
            raise _Refused(
                400, "InvalidInput", "not an Orders API 2026-01-01 order", "; ".join(problems)
            )
        with self._lock:
            if order["orderId"] in self._orders:
                raise _Refused(400, "InvalidInput", f"order {order['orderId']} exists")
            self._apply_due()
            self._orders[order["orderId"]] = order
            self._move_stock(order, -1)
            snapshot = copy.deepcopy(order)
        if notify:
            self._notify(snapshot, "OrderStatusChange", "Order placed")
        return str(order["orderId"])

    def cancel(self, order_id: str, notify: bool = True) -> str:
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                raise _Refused(404, "NotFound", f"Order {order_id} not found")
            if order["fulfillment"]["fulfillmentStatus"] == "CANCELLED":
                return "CANCELLED"
            order["fulfillment"]["fulfillmentStatus"] = "CANCELLED"
            order["lastUpdatedTime"] = _iso(_now())
            self._apply_due()
            self._move_stock(order, +1)
            snapshot = copy.deepcopy(order)
        if notify:
            self._notify(snapshot, "BuyerRequestedChange", "Buyer Requested Cancel")
        return "CANCELLED"

    def _move_stock(self, order: dict[str, Any], sign: int) -> None:
        """Amazon lowers a merchant-fulfilled listing's quantity when an order is placed and
        gives it back when the order is cancelled."""
        marketplace = order["salesChannel"].get("marketplaceId", self.marketplace_id)
        for item in order["orderItems"]:
            listing = self._listings.get((marketplace, item["product"].get("sellerSku", "")))
            if listing is not None and listing.quantity is not None:
                listing.quantity = max(0, listing.quantity + sign * item["quantityOrdered"])

    def notification_body(self, order: dict[str, Any], change: str, reason: str) -> dict[str, Any]:
        """An ORDER_CHANGE in the envelope of the spec's OrderChangeNotification example."""
        now = _now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        status = {
            "UNSHIPPED": "Unshipped",
            "PARTIALLY_SHIPPED": "PartiallyShipped",
            "SHIPPED": "Shipped",
            "CANCELLED": "Canceled",
            "PENDING": "Pending",
        }
        items = order["orderItems"]
        return {
            "NotificationVersion": "1.0",
            "NotificationType": "ORDER_CHANGE",
            "PayloadVersion": "1.0",
            "EventTime": now,
            "Payload": {
                "OrderChangeNotification": {
                    "NotificationLevel": "OrderLevel",
                    "SellerId": self.seller_id,
                    "AmazonOrderId": order["orderId"],
                    "OrderChangeType": change,
                    "OrderChangeTrigger": {"TimeOfOrderChange": now, "ChangeReason": reason},
                    "Summary": {
                        "MarketplaceId": order["salesChannel"].get("marketplaceId"),
                        "OrderStatus": status.get(
                            order["fulfillment"]["fulfillmentStatus"], "Unshipped"
                        ),
                        "PurchaseDate": order["createdTime"],
                        "FulfillmentType": "AFN"
                        if order["fulfillment"].get("fulfilledBy") == "AMAZON"
                        else "MFN",
                        "OrderType": "StandardOrder",
                        "NumberOfItemsShipped": sum(
                            i["fulfillment"]["quantityFulfilled"] for i in items
                        ),
                        "NumberOfItemsUnshipped": sum(
                            i["fulfillment"]["quantityUnfulfilled"] for i in items
                        ),
                        "OrderItems": [
                            {
                                "OrderItemId": i["orderItemId"],
                                "SellerSKU": i["product"].get("sellerSku"),
                                "OrderItemStatus": status.get(
                                    order["fulfillment"]["fulfillmentStatus"], "Unshipped"
                                ),
                                "Quantity": i["quantityOrdered"],
                                "QuantityShipped": i["fulfillment"]["quantityFulfilled"],
                            }
                            for i in items
                        ],
                    },
                }
            },
            "NotificationMetadata": {
                "ApplicationId": "amzn1.sellerapps.app.keel-sandbox",
                "SubscriptionId": "keel-sandbox-order-change",
                "PublishTime": now,
                "NotificationId": str(uuid.uuid4()),
            },
        }

    def competitors(self, spec: Any, notify: bool = True) -> dict[str, Any]:
        """`POST /__sandbox/competitors`: `{"sku", "marketplace"?, "offers": [{"seller_id",
        "price", "shipping", "buy_box"}]}`: other sellers' offers beside the seller's listing
        (its marketplace: the seller's first unless named). The sandbox keeps them and sends
        ANY_OFFER_CHANGED in Amazon's shape, aggregated as Amazon does: the top offers (the
        seller's own among them), the lowest price and the Buy Box price of new items."""
        if not isinstance(spec, dict) or not isinstance(spec.get("offers"), list):
            raise _Refused(400, "InvalidInput", '{"sku", "offers": [...]} expected')
        marketplace = str(spec.get("marketplace") or self.marketplace_id)
        with self._lock:
            listing = self._listings.get((marketplace, str(spec.get("sku"))))
            if listing is None:
                raise _Refused(
                    404, "NOT_FOUND", f"no listing of {spec.get('sku')} in {marketplace}"
                )
            self._apply_due()
            own = listing.selling_price() or listing.price
        try:
            offers = [
                (str(o["seller_id"]), Decimal(str(o["price"])),
                 Decimal(str(o.get("shipping", "0"))), bool(o.get("buy_box")))
                for o in spec["offers"]
            ]  # fmt: skip
        except (KeyError, TypeError, ArithmeticError) as exc:
            raise _Refused(
                400, "InvalidInput", f"an offer needs seller_id and price: {exc}"
            ) from None
        with self._lock:
            self._competitors[(marketplace, listing.seller_sku)] = offers
        body = self.offer_notification(listing, own, offers)
        if notify:
            self.send_raw(json.dumps(body))
        return {"sku": listing.seller_sku, "marketplace": marketplace, "asin": listing.asin,
                "notification": body["NotificationMetadata"]["NotificationId"]}  # fmt: skip

    def offer_notification(
        self,
        listing: AmazonListing,
        own: Decimal,
        others: list[tuple[str, Decimal, Decimal, bool]],
    ) -> dict[str, Any]:
        """ANY_OFFER_CHANGED for the listing's ASIN (AnyOfferChangedNotification schema)."""
        now = _iso(_now())

        def money(amount: Decimal) -> dict[str, Any]:
            return {"Amount": float(amount), "CurrencyCode": "EUR"}

        everyone = [(self.seller_id, own, Decimal(0), False), *others]
        lowest = min(everyone, key=lambda o: o[1] + o[2])
        box = next((o for o in everyone if o[3]), None)
        prices = [{"Condition": "new", "FulfillmentChannel": "Merchant",
                   "LandedPrice": money(lowest[1] + lowest[2]), "ListingPrice": money(lowest[1]),
                   "Shipping": money(lowest[2])}]  # fmt: skip
        summary: dict[str, Any] = {
            "NumberOfOffers": [
                {"Condition": "new", "FulfillmentChannel": "Merchant", "OfferCount": len(everyone)}
            ],
            "LowestPrices": prices,
            # What the schema requires beside them (the sandbox has no catalog data of its own).
            "ListPrice": money(listing.price),
            "MinimumAdvertisedPrice": money(Decimal(0)),
            "SuggestedLowerPricePlusShipping": money(lowest[1] + lowest[2]),
            "TotalBuyBoxEligibleOffers": len(everyone),
            "SalesRankings": [],
            "NumberOfBuyBoxEligibleOffers": [
                {"Condition": "new", "FulfillmentChannel": "Merchant", "OfferCount": len(everyone)}
            ],
            "CompetitivePriceThreshold": money(lowest[1] + lowest[2]),
        }
        if box is not None:
            landed = money(box[1] + box[2])
            summary["BuyBoxPrices"] = [
                {"Condition": "new", "LandedPrice": landed, "ListingPrice": money(box[1]),
                 "Shipping": money(box[2])}
            ]  # fmt: skip
        return {
            "NotificationVersion": "1.0",
            "NotificationType": "ANY_OFFER_CHANGED",
            "PayloadVersion": "1.0",
            "EventTime": now,
            "Payload": {
                "AnyOfferChangedNotification": {
                    "SellerId": self.seller_id,
                    "OfferChangeTrigger": {
                        "MarketplaceId": listing.marketplace_id,
                        "ASIN": listing.asin,
                        "ItemCondition": "new",
                        "TimeOfOfferChange": now,
                        "OfferChangeType": "Internal",
                    },
                    "Summary": summary,
                    "Offers": [
                        {
                            "SellerId": seller,
                            "SubCondition": "new",
                            "ListingPrice": money(price),
                            "Shipping": money(shipping),
                            "IsFulfilledByAmazon": False,
                        }
                        for seller, price, shipping, _ in everyone
                    ],
                }
            },
            "NotificationMetadata": {
                "ApplicationId": "amzn1.sellerapps.app.keel-sandbox",
                "SubscriptionId": "keel-sandbox-any-offer-changed",
                "PublishTime": now,
                "NotificationId": str(uuid.uuid4()),
            },
        }

    def _notify(self, order: dict[str, Any], change: str, reason: str) -> None:
        body = json.dumps(self.notification_body(order, change, reason))
        self.send_raw(body)

    def send_raw(self, body: str) -> SentNotification:
        """Put a notification on the queue of the destination its type is subscribed to (with
        nothing subscribed through the API: Keel's queue, `notify_to`) as Amazon's service does
        (SendMessage)."""
        try:
            kind = str(json.loads(body).get("NotificationType", ""))
        except (ValueError, AttributeError):
            kind = ""
        with self._lock:
            targets = self.subscriptions.targets(kind)
        url = self.queue_url
        if targets and targets[0] is not None:
            url = _queue_url(targets[0].address, self.queue_url)
        sent = SentNotification(url if targets else None, body)
        if not targets:
            sent.error = f"no subscription for {kind or 'this notification'}"
        elif url is not None:
            try:
                _sqs(url).send_message(QueueUrl=url, MessageBody=body)
            except Exception as exc:  # the queue is gone or moto stopped: recorded, not raised
                sent.error = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self.notifications.append(sent)
        return sent


def _queue_url(arn: str, known_url: str | None) -> str | None:
    """The URL of the queue an ARN names, on the SQS endpoint Keel's queue is on (moto's URLs
    are `<endpoint>/<account>/<name>`)."""
    parts = arn.split(":")
    if len(parts) != 6 or known_url is None:
        return None
    split = urlsplit(known_url)
    return f"{split.scheme}://{split.netloc}/{parts[4]}/{parts[5]}"


def _subscription_view(sub: SandboxSubscription) -> dict[str, Any]:
    return {
        "subscriptionId": sub.id,
        "payloadVersion": sub.extra.get("payload_version", "1.0"),
        "destinationId": sub.extra.get("destination", ""),
    }


def _sqs(queue_url: str) -> Any:
    import boto3

    parts = urlsplit(queue_url)
    return boto3.session.Session().client(
        "sqs",
        endpoint_url=f"{parts.scheme}://{parts.netloc}",
        region_name=_region(queue_url),
    )


def _region(queue_url: str) -> str:
    import os

    match = re.search(r"sqs\.([a-z0-9-]+)\.amazonaws", queue_url)
    return match.group(1) if match else os.environ.get("AWS_DEFAULT_REGION", "eu-west-1")


def _json(request: Request) -> Any:
    try:
        return json.loads(request.body or b"null")
    except ValueError:
        raise _Refused(400, "InvalidInput", "The request body is not JSON") from None


def _unquote(value: str) -> str:
    from urllib.parse import unquote

    return unquote(value)


def _attributes(listing: AmazonListing) -> dict[str, Any]:
    availability: dict[str, Any] = {"fulfillment_channel_code": MERCHANT}
    if listing.quantity is not None:
        availability["quantity"] = listing.quantity
    if listing.handling_time is not None:
        availability["lead_time_to_ship_max_days"] = listing.handling_time
    found: dict[str, Any] = {
        "fulfillment_availability": [availability],
        "purchasable_offer": copy.deepcopy(listing.offers),
    }
    if listing.gtin:
        found["externally_assigned_product_identifier"] = [
            {"type": "ean", "value": listing.gtin, "marketplace_id": listing.marketplace_id}
        ]
    return found


def _patch_issues(patches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What Amazon would report INVALID in a fulfillment_availability patch."""
    issues = []
    for patch in patches:
        if patch.get("path") == "/attributes/purchasable_offer":
            issues.extend(_offer_issues(patch))
            continue
        if patch.get("path") != "/attributes/fulfillment_availability":
            continue  # other attributes: accepted and ignored by this sandbox
        for value in patch.get("value") or []:
            quantity = value.get("quantity")
            if value.get("fulfillment_channel_code") != MERCHANT:
                issues.append(
                    {
                        "code": "4000001",
                        "severity": "ERROR",
                        "message": "fulfillment_channel_code must be DEFAULT (merchant-fulfilled)",
                        "attributeNames": ["fulfillment_availability"],
                    }
                )
            elif quantity is not None and (
                isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0
            ):
                issues.append(
                    {
                        "code": "4000002",
                        "severity": "ERROR",
                        "message": "quantity must be a non-negative integer",
                        "attributeNames": ["fulfillment_availability"],
                    }
                )
    return issues


def _offer_issues(patch: dict[str, Any]) -> list[dict[str, Any]]:
    """What Amazon reports INVALID in a purchasable_offer patch: each offer names its
    marketplace and currency, and its prices are positive amounts."""
    issues = []

    def invalid(message: str) -> None:
        issues.append({"code": "4000003", "severity": "ERROR", "message": message,
                       "attributeNames": ["purchasable_offer"]})  # fmt: skip

    if patch.get("op") == "delete":
        return issues
    for offer in patch.get("value") or []:
        if not isinstance(offer, dict) or not offer.get("marketplace_id"):
            invalid("each purchasable_offer needs a marketplace_id")
            continue
        if not isinstance(offer.get("currency"), str) or len(offer["currency"]) != 3:
            invalid("each purchasable_offer needs a currency")
        for name in ("our_price", "discounted_price"):
            if name not in offer:
                continue
            try:
                value = offer[name][0]["schedule"][0]["value_with_tax"]
                ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
            except (KeyError, IndexError, TypeError):
                ok = False
            if not ok:
                invalid(f"{name} needs a schedule with a positive value_with_tax")
    return issues


def _apply(listing: AmazonListing, patch: dict[str, Any]) -> None:
    if patch.get("path") == "/attributes/purchasable_offer":
        mine = [
            o for o in patch.get("value") or [] if o.get("marketplace_id") == listing.marketplace_id
        ]
        if patch["op"] == "delete":
            listing.offers = []
        elif mine:
            listing.offers = copy.deepcopy(mine)
        return
    if patch.get("path") != "/attributes/fulfillment_availability":
        return
    value = (patch.get("value") or [{}])[0]
    if patch["op"] == "delete":
        listing.quantity = None
        return
    if patch["op"] in ("replace", "add"):
        listing.handling_time = value.get("lead_time_to_ship_max_days")  # what is not sent goes
    elif "lead_time_to_ship_max_days" in value:
        listing.handling_time = value["lead_time_to_ship_max_days"]
    if "quantity" in value:
        listing.quantity = value["quantity"]


def _unreadable(order: dict[str, Any]) -> list[str]:
    """Where an order lacks what the sandbox's own views of it read (never stored so)."""
    items = order.get("orderItems")
    if not isinstance(items, list) or not items:
        return ["$.orderItems: a non-empty list is required"]
    problems = []
    for n, item in enumerate(items):
        product = item.get("product") if isinstance(item, dict) else None
        if not isinstance(product, dict) or not isinstance(product.get("sellerSku"), str):
            problems.append(f"$.orderItems[{n}].product.sellerSku: required")
        if not isinstance(item, dict) or type(item.get("quantityOrdered")) is not int:
            problems.append(f"$.orderItems[{n}].quantityOrdered: an integer is required")
    if not isinstance(order.get("salesChannel"), dict):
        problems.append("$.salesChannel: an object is required")
    return problems
