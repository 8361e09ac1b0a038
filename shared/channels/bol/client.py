"""The bol.com Retailer API v10 client every bol adapter uses: one place for the token, the
media type, rate limits and what each failure means.

- OAuth2 client credentials: `POST <token_url>?grant_type=client_credentials` with Basic auth.
  A token lives ~299 s: it is reused (per client id, across adapters in a warm container) and
  refreshed `REFRESH_MARGIN_S` before it expires; a 401 "Expired JWT" refreshes once and retries.
- `Accept` (and `Content-Type` with a body) `application/vnd.retailer.v10+json` on every call.
- `X-RateLimit-Limit/Remaining/Reset` are kept per endpoint (`rate_limits`); when an endpoint's
  budget is spent the next call waits for its reset instead of earning a 429 (pacing.pace: a
  short wait is slept, a long one goes back to the queue without calling).
- 429 with `Retry-After` -> RetryableError carrying it; without -> exponential backoff with full
  jitter as its retry_after (callers that retry within a run wait that long; the sync queue
  never comes back sooner). 5xx, timeouts -> RetryableError; 401/403 -> AuthError; other 4xx ->
  PermanentError (404 included: callers that expect it ask for `allow_404`).
"""

from __future__ import annotations

import json as jsonlib
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from shared.channels.bol.secret import BolSecret
from shared.channels.errors import (
    ChannelError,
    RetryableError,
    classify_status,
)
from shared.channels.http import request, retry_after_s
from shared.channels.pacing import HeaderBudget, pace
from shared.channels.retry import backoff_s
from shared.channels.tokens import TokenCache

CHANNEL = "bol"
MEDIA_TYPE = "application/vnd.retailer.v10+json"
CSV_MEDIA_TYPE = "application/vnd.retailer.v10+csv"
REFRESH_MARGIN_S = 30.0
BACKOFF_BASE_S = 1.0

_TOKENS = TokenCache(REFRESH_MARGIN_S)  # (token url, client id) -> token
_BUDGETS_LOCK = threading.Lock()
# client id -> endpoint -> what bol last said of its budget: shared by the adapters of a warm
# container (the sync builds one per invocation), so the next batch waits instead of a 429.
_BUDGETS: dict[str, HeaderBudget] = {}


def forget_tokens() -> None:
    """Tests and credential rotation: the next call fetches a new token (and knows no budget)."""
    _TOKENS.clear()
    with _BUDGETS_LOCK:
        _BUDGETS.clear()


class BolClient:
    def __init__(
        self,
        secret: BolSecret,
        http: httpx.Client,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._secret = secret
        self._http = http
        self._clock = clock
        self._sleep = sleep
        self._base = secret.api_url
        with _BUDGETS_LOCK:
            self.budget = _BUDGETS.setdefault(secret.client_id, HeaderBudget())
        self.rate_limits = self.budget.limits  # endpoint -> what bol last said
        self.attempt = 0  # consecutive 429s without Retry-After: the backoff's exponent

    # --- the token ---

    def token(self, force: bool = False) -> str:
        key = (self._secret.token_endpoint, self._secret.client_id)
        return _TOKENS.get_or_fetch(key, self._clock, self._fetch_token, force)

    def _fetch_token(self) -> tuple[str, float]:
        response = request(
            self._http,
            "POST",
            self._secret.token_endpoint,
            channel=CHANNEL,
            what="token",
            params={"grant_type": "client_credentials"},
            auth=httpx.BasicAuth(self._secret.client_id, self._secret.client_secret),
            headers={"Accept": "application/json"},
        )
        error_class = classify_status(response.status_code)
        if error_class is not None:
            raise self._error(error_class, response, "token")
        try:
            body = response.json()
            return str(body["access_token"]), float(body.get("expires_in", 299))
        except (ValueError, KeyError, TypeError) as exc:
            raise RetryableError(
                "token endpoint answered without a token", channel=CHANNEL
            ) from exc

    # --- calls ---

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        endpoint: str | None = None,
        accept: str = MEDIA_TYPE,
    ) -> httpx.Response:
        """One API call; the classified ChannelError on failure. `endpoint` names the rate-limit
        bucket (the path template), default the path; `accept`: the answer's media type (the
        offers export is CSV)."""
        bucket = endpoint or path
        wait = self.budget.wait_s(bucket, self._clock())
        pace(wait, self._sleep, channel=CHANNEL, what=f"{method} {bucket}")  # long: BudgetSpent
        response = self._send(method, path, json, params, self.token(), accept)
        if response.status_code == 401 and _expired(response):
            response = self._send(method, path, json, params, self.token(force=True), accept)
        self.budget.remember(bucket, response.headers, self._clock())
        error_class = classify_status(response.status_code)
        if error_class is not None:
            raise self._error(error_class, response, f"{method} {bucket}")
        self.attempt = 0
        return response

    def _send(
        self,
        method: str,
        path: str,
        body: Any,
        params: dict[str, Any] | None,
        token: str,
        accept: str = MEDIA_TYPE,
    ) -> httpx.Response:
        headers = {"Accept": accept, "Authorization": f"Bearer {token}"}
        content = None
        if body is not None:
            headers["Content-Type"] = MEDIA_TYPE
            content = jsonlib.dumps(body).encode()
        return request(
            self._http,
            method,
            self._base + path,
            channel=CHANNEL,
            headers=headers,
            content=content,
            params=params,
        )

    def _error(
        self, error_class: type[ChannelError], response: httpx.Response, what: str
    ) -> ChannelError:
        message = f"HTTP {response.status_code} from bol.com ({what}): {_detail(response)}"
        status = response.status_code
        if error_class is RetryableError:
            told = retry_after_s(response.headers.get("retry-after"))
            if told is not None:
                wait = told
            elif status == 429:  # no Retry-After: exponential backoff with full jitter
                self.attempt += 1
                wait = backoff_s(min(self.attempt, 8), BACKOFF_BASE_S, floor_s=BACKOFF_BASE_S)
            else:
                return RetryableError(message, channel=CHANNEL, status=status)
            return RetryableError(message, channel=CHANNEL, status=status, retry_after_s=wait)
        return error_class(message, channel=CHANNEL, status=status)


def _expired(response: httpx.Response) -> bool:
    """bol's 401 for a token past its life ("Expired JWT"), not for bad credentials."""
    text = response.text.lower()
    return "expired" in text and "jwt" in text


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        parts = [str(body.get(k)) for k in ("title", "detail", "error_description") if body.get(k)]
        violations = body.get("violations")
        if isinstance(violations, list) and violations:
            parts.append("; ".join(f"{v.get('name')}: {v.get('reason')}" for v in violations[:5]))
        return " - ".join(parts)[:500] or str(body)[:200]
    return str(body)[:200]
