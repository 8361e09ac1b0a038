"""One call to the Shopify Admin GraphQL API, classified: what every Shopify adapter (stock,
orders poll, fulfillments) sends through. The cost bucket reported on each answer paces the
next call; a THROTTLED answer (HTTP 200) becomes a RetryableError with the wait it needs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from shared.channels.errors import ChannelError, PermanentError, RetryableError, classify_status
from shared.channels.http import request, retry_after_s
from shared.channels.pacing import cost_waits, pace
from shared.channels.shopify import graphql as documents
from shared.channels.shopify.secret import ShopifySecret

CHANNEL = "shopify"
LOW_WATER_FRACTION = 0.1  # below this share of the bucket, wait before the next call
GRAPHQL_PATH = f"/admin/api/{documents.API_VERSION}/graphql.json"

# Top-level `errors[].extensions.code`: a retry can succeed / a retry gets the same answer.
# Codes not listed are treated as retryable (an unknown failure should not be dropped).
RETRYABLE_CODES = frozenset({"THROTTLED", "INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE"})
PERMANENT_CODES = frozenset(
    {"ACCESS_DENIED", "MAX_COST_EXCEEDED", "MAX_INPUT_SIZE_EXCEEDED", "BAD_REQUEST"}
)


class AdminClient:
    def __init__(
        self,
        secret: ShopifySecret,
        http: httpx.Client | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._url = secret.admin_base_url.rstrip("/") + GRAPHQL_PATH
        self._headers = {
            "X-Shopify-Access-Token": secret.access_token,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        self._http = http or httpx.Client(timeout=httpx.Timeout(10.0, connect=3.0))
        self._sleep = sleep
        self._owed = (0.0, 0.0)  # (needed, polite) seconds owed to the cost bucket

    def post(self, query: str, variables: dict[str, Any]) -> Any:
        """The `data` of a successful answer; raises the ChannelError the whole call failed with."""
        (needed, polite), self._owed = self._owed, (0.0, 0.0)
        pace(needed, self._sleep, channel=CHANNEL, what="Admin API", polite_s=polite)
        response = request(
            self._http,
            "POST",
            self._url,
            channel=CHANNEL,
            json={"query": query, "variables": variables},
            headers=self._headers,
        )
        error_class = classify_status(response.status_code)
        if error_class is not None:
            raise _http_error(error_class, response)
        try:
            body = response.json()
        except ValueError as exc:
            message = f"Shopify answered HTTP {response.status_code} without JSON"
            raise RetryableError(message, channel=CHANNEL, status=response.status_code) from exc
        if not isinstance(body, dict):
            raise RetryableError("Shopify answered with a non-object body", channel=CHANNEL)
        cost = (body.get("extensions") or {}).get("cost")
        errors = body.get("errors")
        if errors:
            raise _graphql_error(errors, cost if isinstance(cost, dict) else {})
        self._owed = cost_waits(cost if isinstance(cost, dict) else {}, LOW_WATER_FRACTION)
        return body.get("data")


def _http_error(error_class: type[ChannelError], response: httpx.Response) -> ChannelError:
    message = f"HTTP {response.status_code} from Shopify: {response.text[:200]}"
    if error_class is RetryableError:
        return RetryableError(
            message,
            channel=CHANNEL,
            status=response.status_code,
            retry_after_s=retry_after_s(response.headers.get("retry-after")),
        )
    return error_class(message, channel=CHANNEL, status=response.status_code)


def _graphql_error(errors: Any, cost: dict[str, Any]) -> ChannelError:
    """Top-level `errors` (HTTP 200): THROTTLED waits for the bucket; the rest by code."""
    listed = [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []
    codes = [(e.get("extensions") or {}).get("code") for e in listed]
    detail = "; ".join(str(e.get("message")) for e in listed) or str(errors)[:200]
    if "THROTTLED" in codes:
        return RetryableError(
            f"Shopify throttled the call: {detail}",
            channel=CHANNEL,
            status=200,
            retry_after_s=_throttle_wait(cost),
        )
    # Without a code: a document or variables Shopify rejects, the same every time.
    if all(code is None or code in PERMANENT_CODES for code in codes):
        return PermanentError(f"Shopify refused the call: {detail}", channel=CHANNEL, status=200)
    return RetryableError(f"Shopify failed the call: {detail}", channel=CHANNEL, status=200)


def _throttle_wait(cost: dict[str, Any]) -> float | None:
    """Seconds until the bucket holds the requested cost again."""
    status = cost.get("throttleStatus") or {}
    try:
        requested = float(cost["requestedQueryCost"])
        available = float(status["currentlyAvailable"])
        rate = float(status["restoreRate"])
    except (KeyError, TypeError, ValueError):
        return None
    if rate <= 0:
        return None
    return max(0.0, (requested - available) / rate)
