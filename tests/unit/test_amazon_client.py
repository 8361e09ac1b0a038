"""The SP-API client: LWA token cached for its hour, per-operation token buckets at Amazon's
rates, QuotaExceeded backed off with jitter, errors classified."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from local_stack.sandboxes.amazon import AmazonSandbox
from shared.channels.amazon.client import RATES, SpApiClient
from shared.channels.amazon.secret import AmazonSecret
from shared.channels.errors import AuthError, PermanentError, RetryableError
from shared.channels.pacing import BudgetSpent, Rate, TokenBucket
from tests.unit.amazon_support import BASE, connect, fresh_buckets, transport

ORDER = "/orders/2026-01-01/orders/171-0000001-0000001"


def test_one_lwa_grant_serves_an_hour_of_calls_each_sending_x_amz_access_token() -> None:
    sandbox = AmazonSandbox()
    now = [1_000_000.0]
    secret = AmazonSecret.model_validate(sandbox.keel_secret(BASE))
    seen: list[str] = []
    inner = transport(sandbox)

    def spy(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("x-amz-access-token", ""))
        return inner.handle_request(request)

    http = httpx.Client(transport=httpx.MockTransport(spy))
    api = SpApiClient(secret, http, clock=lambda: now[0], buckets=fresh_buckets())
    for _ in range(3):
        with pytest.raises(PermanentError) as missing:
            api.call("getOrder", "GET", ORDER)
        assert missing.value.status == 404
    assert sandbox.token_grants == 1
    calls = [token for token in seen if token]
    assert len(calls) == 3 and len(set(calls)) == 1 and calls[0].startswith("Atza|")
    now[0] += 3600  # the hour is over: a new grant
    with pytest.raises(PermanentError):
        api.call("getOrder", "GET", ORDER)
    assert sandbox.token_grants == 2


def test_a_refused_refresh_token_is_an_auth_error_without_the_token_in_it() -> None:
    sandbox = AmazonSandbox()
    secret = AmazonSecret.model_validate(
        {**sandbox.keel_secret(BASE), "refresh_token": "Atzr|revoked"}
    )
    api = SpApiClient(secret, httpx.Client(transport=transport(sandbox)), buckets=fresh_buckets())
    with pytest.raises(AuthError) as refused:
        api.call("getOrder", "GET", ORDER)
    assert "invalid_grant" in str(refused.value) and "revoked" not in str(refused.value)


def test_quota_exceeded_is_retried_with_exponential_backoff_and_full_jitter() -> None:
    sandbox = AmazonSandbox(rates={"getOrder": (0.0001, 1)})
    sleeps: list[float] = []
    api, _ = connect(sandbox, sleeps)
    with pytest.raises(PermanentError):  # the one token: 404 for an unknown order
        api.call("getOrder", "GET", ORDER)
    with pytest.raises(RetryableError) as throttled:
        api.call("getOrder", "GET", ORDER)
    assert throttled.value.status == 429 and "QuotaExceeded" in str(throttled.value)
    assert throttled.value.retry_after_s is None  # Amazon sends no Retry-After
    # Three backoffs before giving up, each drawn from [0, 0.5 * 2**attempt].
    assert len(sleeps) == 3
    assert all(0 <= s <= bound for s, bound in zip(sleeps, (1.0, 2.0, 4.0), strict=True))


def test_a_throttled_call_that_gets_through_on_a_retry_succeeds() -> None:
    sandbox = AmazonSandbox(rates={"getListingsItem": (0.0001, 1)})
    ref = sandbox.add_listing("MUG", "Mug", Decimal("1"), 3)
    sleeps: list[float] = []

    def wait(seconds: float) -> None:  # Amazon's bucket refills while Keel backs off
        sleeps.append(seconds)
        sandbox._bucket("getListingsItem").tokens = 1.0

    api, _ = connect(sandbox)
    api._sleep = wait
    sandbox.drain_bucket("getListingsItem")
    response = api.call(
        "getListingsItem",
        "GET",
        f"/listings/2021-08-01/items/{sandbox.seller_id}/{ref['sku']}",
        params={"marketplaceIds": sandbox.marketplace_id},
    )
    assert response.json()["sku"] == "MUG" and len(sleeps) == 1
    assert [status for op, _, status in sandbox.requests] == [429, 200]


def test_the_bucket_gives_its_burst_then_paces_at_the_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(Rate(0.5, 3), clock=lambda: now[0])
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() == pytest.approx(2.0)  # one token every 2 s
    now[0] += 2.0
    assert bucket.take() == 0.0


def test_search_orders_spends_its_burst_then_waits_for_the_next_run_not_three_minutes() -> None:
    """~1 call every 3 minutes after a burst of 20: the poll is a backstop."""
    assert RATES["searchOrders"] == Rate(0.0056, 20)
    sandbox = AmazonSandbox()
    sleeps: list[float] = []
    api, _ = connect(sandbox, sleeps)
    params = {"marketplaceIds": sandbox.marketplace_id, "lastUpdatedAfter": "2026-01-01T00:00:00Z"}
    for _ in range(20):
        api.call("searchOrders", "GET", "/orders/2026-01-01/orders", params=params)
    with pytest.raises(BudgetSpent) as spent:
        api.call("searchOrders", "GET", "/orders/2026-01-01/orders", params=params)
    assert spent.value.retry_after_s is not None and spent.value.retry_after_s > 170
    assert sleeps == []  # never slept minutes inside a run


def test_server_errors_are_retryable_and_client_errors_permanent() -> None:
    sandbox = AmazonSandbox()
    api, _ = connect(sandbox)
    sandbox.fail_next(4, 503)
    with pytest.raises(RetryableError):
        api.call("getOrder", "GET", ORDER)
    with pytest.raises(PermanentError) as bad:
        api.call("searchOrders", "GET", "/orders/2026-01-01/orders", params={})
    assert bad.value.status == 400 and "InvalidInput" in str(bad.value)
