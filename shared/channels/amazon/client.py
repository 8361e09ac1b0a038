"""The SP-API client: a Login with Amazon access token (refresh-token grant, cached for its
hour) sent as `x-amz-access-token`, a token bucket per operation at Amazon's published default
rates, and errors classified for Keel (429 QuotaExceeded: retried with exponential backoff and
full jitter, since Amazon sends no Retry-After)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from shared.channels.amazon.secret import AmazonSecret
from shared.channels.errors import (
    AuthError,
    ChannelError,
    PermanentError,
    RetryableError,
    classify_status,
)
from shared.channels.http import request
from shared.channels.pacing import BudgetSpent, Rate, TokenBucket, pace
from shared.channels.retry import backoff_s
from shared.channels.tokens import TokenCache

CHANNEL = "amazon"
TOKEN_REFRESH_MARGIN_S = 60.0  # a token is renewed a minute before LWA says it expires
THROTTLE_ATTEMPTS = 4  # QuotaExceeded: the first call and three backed-off retries
BACKOFF_BASE_S = 0.5  # waits drawn from [0, 1], [0, 2], [0, 4] s
MAX_BACKOFF_S = 20.0


# From the usage-plan tables in the models under ../shared/specs/amazon-sp-api/models/.
RATES: dict[str, Rate] = {
    "searchOrders": Rate(0.0056, 20),  # ~1 call every 3 minutes: the poll is a backstop
    "getOrder": Rate(0.5, 30),
    "confirmShipment": Rate(2.0, 10),
    "getListingsItem": Rate(5.0, 10),
    "searchListingsItems": Rate(5.0, 5),
    "patchListingsItem": Rate(5.0, 5),
    "createFeedDocument": Rate(0.5, 15),
    "createFeed": Rate(0.0083, 15),
    "getFeed": Rate(2.0, 15),
    "getFeedDocument": Rate(0.0222, 10),
    "getMyFeesEstimateForSKU": Rate(1.0, 2),
    "createReport": Rate(0.0167, 15),
    "getReport": Rate(2.0, 15),
    "getReportDocument": Rate(0.0167, 15),
    "getDestinations": Rate(1.0, 5),
    "createDestination": Rate(1.0, 5),
    "getSubscription": Rate(1.0, 5),
    "createSubscription": Rate(1.0, 5),
    "deleteSubscriptionById": Rate(1.0, 5),
}
# Notifications' destinations are grantless: a client-credentials token for this scope.
GRANTLESS_SCOPE = "sellingpartnerapi::notifications"


# LWA access tokens by (client id, refresh token): valid an hour, shared by every client in the
# process (one refresh per hour, not one per call).
TOKENS = TokenCache(TOKEN_REFRESH_MARGIN_S)
_BUCKETS: dict[tuple[str, str], TokenBucket] = {}
_BUCKETS_LOCK = threading.Lock()


def bucket(seller_id: str, operation: str) -> TokenBucket:
    """The process's bucket for one seller's operation."""
    with _BUCKETS_LOCK:
        key = (seller_id, operation)
        if key not in _BUCKETS:
            _BUCKETS[key] = TokenBucket(RATES[operation])
        return _BUCKETS[key]


def error_codes(response: httpx.Response) -> list[str]:
    """The codes of an SP-API error answer (`{"errors": [{"code", "message"}]}`)."""
    try:
        body = response.json()
    except ValueError:
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return []
    return [str(e.get("code")) for e in errors if isinstance(e, dict)]


def http_error(response: httpx.Response, operation: str) -> ChannelError:
    """An SP-API error answer as Keel's classified error, with Amazon's codes and messages."""
    error_class = classify_status(response.status_code) or PermanentError
    detail = response.text[:500]
    message = f"{operation}: HTTP {response.status_code}: {detail}"
    if error_class is RetryableError:
        return RetryableError(message, channel=CHANNEL, status=response.status_code)
    return error_class(message, channel=CHANNEL, status=response.status_code)


class SpApiClient:
    """One seller's SP-API, operation by operation. Raises the classified ChannelErrors."""

    def __init__(
        self,
        secret: AmazonSecret,
        http: httpx.Client,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        buckets: Callable[[str, str], TokenBucket] = bucket,
    ) -> None:
        self.secret = secret
        self._http = http
        self._sleep = sleep
        self._clock = clock
        self._buckets = buckets
        self._key = (secret.lwa_client_id, secret.refresh_token)
        self._grantless_key = (secret.lwa_client_id, "grantless:" + GRANTLESS_SCOPE)

    # --- auth ---------------------------------------------------------------------------------
    def access_token(self, grantless: bool = False) -> str:
        """The seller's token (refresh-token grant), or with `grantless` the app's own for
        grantless operations (client-credentials grant, GRANTLESS_SCOPE)."""
        key = self._grantless_key if grantless else self._key
        cached = TOKENS.get(key, self._clock())
        if cached is not None:
            return cached
        grant = (
            {"grant_type": "client_credentials", "scope": GRANTLESS_SCOPE}
            if grantless
            else {"grant_type": "refresh_token", "refresh_token": self.secret.refresh_token}
        )
        response = request(
            self._http,
            "POST",
            self.secret.lwa_token_url,
            channel=CHANNEL,
            what="LWA",
            data={
                **grant,
                "client_id": self.secret.lwa_client_id,
                "client_secret": self.secret.lwa_client_secret,
            },
        )
        if response.status_code == 400 or response.status_code in (401, 403):
            # invalid_grant / invalid_client: the refresh token or app secret is wrong or
            # revoked. Never echo the body's request parameters.
            raise AuthError(
                f"LWA refused the refresh token: HTTP {response.status_code} "
                f"{_lwa_error(response)}",
                channel=CHANNEL,
                status=response.status_code,
            )
        if response.status_code >= 300:
            raise http_error(response, "LWA token")
        body = response.json()
        token = str(body["access_token"])
        TOKENS.put(key, token, self._clock() + float(body.get("expires_in", 3600)))
        return token

    # --- calls --------------------------------------------------------------------------------
    def call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        ok: tuple[int, ...] = (200,),
        grantless: bool = False,
    ) -> httpx.Response:
        """One operation, paced by its bucket; QuotaExceeded (429) is retried with exponential
        backoff and full jitter; an expired token is renewed once."""

        for attempt in range(1, THROTTLE_ATTEMPTS + 1):
            try:
                return self._once(operation, method, path, params, json, ok, grantless)
            except BudgetSpent:
                raise  # minutes away (searchOrders): the caller's next run, not a sleep here
            except RetryableError:
                if attempt == THROTTLE_ATTEMPTS:
                    raise
                # No Retry-After from Amazon: exponential backoff with full jitter.
                self._sleep(backoff_s(attempt, BACKOFF_BASE_S, MAX_BACKOFF_S))
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(
        self,
        operation: str,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: Any,
        ok: tuple[int, ...],
        grantless: bool = False,
    ) -> httpx.Response:
        wait = self._buckets(self.secret.seller_id, operation).take()
        pace(wait, self._sleep, channel=CHANNEL, what=operation)  # long waits: BudgetSpent
        if wait > 0:
            self._buckets(self.secret.seller_id, operation).take()
        for renewed in (False, True):
            response = request(
                self._http,
                method,
                self.secret.endpoint + path,
                channel=CHANNEL,
                what=operation,
                params=params,
                json=body,
                headers={
                    "x-amz-access-token": self.access_token(grantless),
                    "user-agent": "Keel/1.0 (Language=Python)",
                },
            )
            expired = response.status_code == 403 and "Unauthorized" in error_codes(response)
            if expired and not renewed:  # an access token that expired early, or was revoked
                TOKENS.drop(self._grantless_key if grantless else self._key)
                continue
            break
        if response.status_code in ok:
            return response
        raise http_error(response, operation)


def _lwa_error(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""
