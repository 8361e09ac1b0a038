"""The bol.com client and adapters against bol's own raw HTTP fixtures
(../shared/specs/bol/retailer-v10/http-fixtures): every fixture is answered as bol answers it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from shared.channels.bol.client import MEDIA_TYPE, BolClient, forget_tokens
from shared.channels.bol.orders import BolOrderReader
from shared.channels.bol.poll import BolOrdersPoll
from shared.channels.bol.secret import BolSecret
from shared.channels.errors import AuthError, PermanentError, RetryableError

FIXTURES = (
    Path(__file__).resolve().parents[2].parent / "shared/specs/bol/retailer-v10/http-fixtures"
)
SECRET = BolSecret(client_id="cid", client_secret="csecret", retailer_id="1234567", currency="EUR")
ALL_FIXTURES = {
    "200-delivery-options",
    "200-order",
    "200-reduced-orders-empty",
    "200-reduced-orders",
    "200-token",
    "202-offers-export",
    "401-jwt-expired",
    "401-unauthorized",
    "403-forbidden-account_is_not_active",
    "404-not-found",
    "429-too-many-requests-without-retry-after",
    "429-too-many-requests",
    "500-internal-server-error",
}


def fixture(name: str) -> httpx.Response:
    """A raw HTTP response file as httpx would have received it."""
    raw = (FIXTURES / f"{name}.http").read_bytes().replace(b"\r\n", b"\n")
    head, _, body = raw.partition(b"\n\n")
    status_line, *header_lines = head.decode().split("\n")
    pairs = [h.split(": ", 1) for h in header_lines if ": " in h]
    headers = [(k, v) for k, v in pairs if k.lower() != "transfer-encoding"]
    return httpx.Response(int(status_line.split()[1]), headers=headers, content=body)


class Bol:
    """Answers each call with the next fixture queued for its path; records every request."""

    def __init__(self) -> None:
        self.queued: dict[str, list[str]] = {}
        self.requests: list[httpx.Request] = []

    def queue(self, path: str, *names: str) -> None:
        self.queued.setdefault(path, []).extend(names)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        names = self.queued.get(request.url.path) or []
        assert names, f"unexpected call {request.method} {request.url}"
        return fixture(names.pop(0))

    def api_calls(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path != "/token"]


@pytest.fixture
def bol() -> Iterator[Bol]:
    forget_tokens()
    yield Bol()
    forget_tokens()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def client(bol: Bol, clock: Clock | None = None) -> BolClient:
    http = httpx.Client(transport=httpx.MockTransport(bol))
    return BolClient(SECRET, http, clock=clock or Clock(), sleep=lambda s: None)


def test_every_fixture_is_exercised() -> None:
    assert {p.stem for p in FIXTURES.glob("*.http")} == ALL_FIXTURES


def test_the_token_is_fetched_once_reused_and_every_call_speaks_v10(bol: Bol) -> None:
    bol.queue("/token", "200-token")
    bol.queue("/retailer/orders/1042823870", "200-order", "200-order")
    first, second = client(bol), client(bol)  # two adapters in one warm container
    first.call("GET", "/retailer/orders/1042823870")
    second.call("GET", "/retailer/orders/1042823870")
    (token_call,) = [r for r in bol.requests if r.url.path == "/token"]
    assert (
        token_call.method == "POST" and token_call.url.params["grant_type"] == "client_credentials"
    )
    assert token_call.headers["authorization"].startswith("Basic ")
    for call in bol.api_calls():
        assert call.headers["accept"] == MEDIA_TYPE
        assert call.headers["authorization"] == "Bearer sometoken"
    limits = first.rate_limits["/retailer/orders/1042823870"]
    assert (limits.limit, limits.remaining) == (10, 9)


def test_the_token_is_refreshed_before_it_expires(bol: Bol) -> None:
    clock = Clock()
    bol.queue("/token", "200-token", "200-token")
    bol.queue("/retailer/orders/1", "200-order", "200-order", "200-order")
    api = client(bol, clock)
    api.call("GET", "/retailer/orders/1")
    clock.now += 200  # within its 299 s, short of the refresh margin
    api.call("GET", "/retailer/orders/1")
    assert sum(r.url.path == "/token" for r in bol.requests) == 1
    clock.now += 80  # 280 s: within 30 s of expiry
    api.call("GET", "/retailer/orders/1")
    assert sum(r.url.path == "/token" for r in bol.requests) == 2


def test_an_expired_jwt_refreshes_once_and_retries(bol: Bol) -> None:
    bol.queue("/token", "200-token", "200-token")
    bol.queue("/retailer/orders/1", "401-jwt-expired", "200-order")
    response = client(bol).call("GET", "/retailer/orders/1")
    assert response.status_code == 200
    assert sum(r.url.path == "/token" for r in bol.requests) == 2


def test_an_expired_jwt_after_the_refresh_is_an_auth_error_not_a_loop(bol: Bol) -> None:
    bol.queue("/token", "200-token", "200-token")
    bol.queue("/retailer/orders/1", "401-jwt-expired", "401-jwt-expired")
    with pytest.raises(AuthError):
        client(bol).call("GET", "/retailer/orders/1")
    assert len(bol.api_calls()) == 2


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("401-unauthorized", AuthError),
        ("403-forbidden-account_is_not_active", AuthError),
        ("404-not-found", PermanentError),
        ("500-internal-server-error", RetryableError),
    ],
)
def test_failures_are_classified(bol: Bol, name: str, error: type[Exception]) -> None:
    bol.queue("/token", "200-token")
    bol.queue("/retailer/orders/1", name)
    with pytest.raises(error) as raised:
        client(bol).call("GET", "/retailer/orders/1")
    assert len(bol.api_calls()) == 1  # a bad credential is not retried by refreshing
    assert "bol.com" in str(raised.value)


def test_a_token_endpoint_refusing_the_credentials_is_an_auth_error(bol: Bol) -> None:
    bol.queue("/token", "401-unauthorized")
    with pytest.raises(AuthError):
        client(bol).call("GET", "/retailer/orders/1")


def test_429_with_retry_after_is_honoured(bol: Bol) -> None:
    bol.queue("/token", "200-token")
    bol.queue("/retailer/orders/1", "429-too-many-requests")
    with pytest.raises(RetryableError) as raised:
        client(bol).call("GET", "/retailer/orders/1")
    assert raised.value.retry_after_s == 4


def test_429_without_retry_after_backs_off_exponentially_with_jitter(bol: Bol) -> None:
    bol.queue("/token", "200-token")
    bol.queue("/retailer/orders/1", *["429-too-many-requests-without-retry-after"] * 3)
    api = client(bol)
    waits = []
    for _ in range(3):
        with pytest.raises(RetryableError) as raised:
            api.call("GET", "/retailer/orders/1")
        assert raised.value.retry_after_s is not None
        waits.append(raised.value.retry_after_s)
    for n, wait in enumerate(waits, start=1):
        assert 1.0 <= wait <= 2.0**n  # full jitter under a doubling ceiling


def test_a_spent_rate_budget_waits_for_its_reset(bol: Bol) -> None:
    bol.queue("/token", "200-token")
    bol.queue("/retailer/orders/1", "200-order", "200-order")
    slept: list[float] = []
    http = httpx.Client(transport=httpx.MockTransport(bol))
    api = BolClient(SECRET, http, clock=Clock(), sleep=slept.append)
    api.call("GET", "/retailer/orders/1")
    api.rate_limits["/retailer/orders/1"] = api.rate_limits["/retailer/orders/1"].__class__(
        10, 0, 1000.0 + 1
    )
    api.call("GET", "/retailer/orders/1")
    assert slept == [1.0]


def test_the_order_fixture_becomes_a_canonical_order(bol: Bol) -> None:
    bol.queue("/token", "200-token")
    bol.queue("/retailer/orders/1042823870", "200-order")
    http = httpx.Client(transport=httpx.MockTransport(bol))
    order = BolOrderReader(SECRET, http).fetch_order("1042823870")
    assert order is not None
    assert order.key == "bol#1234567#1042823870"
    first = order.lines[0]
    assert (first.line_id, first.quantity) == ("6107771545", 1)
    assert first.unit_price.amount == Decimal("19.99")  # from the JSON text, not a float
    assert first.channel_variant_id == "8f1183e3-de98-c92f-e053-3590612a63b7"
    assert first.channel_sku == "8785056370398"
    assert not first.stock  # FBB: bol ships it from its own stock, Keel reserves nothing
    assert order.shipping_address is not None
    assert order.shipping_address.address_line_1 == "Skywalkerstraat 199"
    assert order.total.amount == Decimal("52.97")


def test_an_unknown_order_is_none(bol: Bol) -> None:
    bol.queue("/token", "200-token")
    bol.queue("/retailer/orders/9", "404-not-found")
    http = httpx.Client(transport=httpx.MockTransport(bol))
    assert BolOrderReader(SECRET, http).fetch_order("9") is None


def test_the_poll_pages_until_empty_and_reads_each_order(bol: Bol) -> None:
    bol.queue("/token", "200-token")
    bol.queue("/retailer/orders", "200-reduced-orders", "200-reduced-orders-empty")
    for order_id in ("1043946570", "1042831430", "A4K8290LP0", "B3K8290LP0"):
        bol.queue(f"/retailer/orders/{order_id}", "200-order")
    now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    http = httpx.Client(transport=httpx.MockTransport(bol))
    poll = BolOrdersPoll(SECRET, http, now=lambda: now, sleep=lambda s: None)
    orders = list(poll.fetch_orders(now - timedelta(minutes=25)))
    assert len(orders) == 4
    lists = [r for r in bol.requests if r.url.path == "/retailer/orders"]
    assert [r.url.params["page"] for r in lists] == ["1", "2"]
    assert lists[0].url.params["change-interval-minute"] == "25"
    assert lists[0].url.params["fulfilment-method"] == "FBR"
    assert lists[0].url.params["status"] == "ALL"
    # oldest change first: the reduced list's order placed 2019-04-20 is read first
    reads = [r.url.path for r in bol.requests if r.url.path.startswith("/retailer/orders/")]
    assert reads[0] == "/retailer/orders/1042831430"


def test_a_long_window_is_asked_per_day(bol: Bol) -> None:
    bol.queue("/token", "200-token")
    bol.queue("/retailer/orders", *["200-reduced-orders-empty"] * 3)
    now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    http = httpx.Client(transport=httpx.MockTransport(bol))
    poll = BolOrdersPoll(SECRET, http, now=lambda: now, sleep=lambda s: None)
    assert list(poll.fetch_orders(now - timedelta(days=2))) == []
    days = [r.url.params["latest-change-date"] for r in bol.requests if r.url.path != "/token"]
    assert days == ["2026-11-26", "2026-11-27", "2026-11-28"]


def test_the_202_fixture_names_its_process_status() -> None:
    from shared.channels.bol import process

    status = process.accepted(fixture("202-offers-export"))
    assert (status.id, status.status) == ("1", "PENDING")
    assert json.loads(fixture("200-delivery-options").content)["deliveryOptions"]


def test_a_stock_write_meeting_a_429_waits_its_retry_after_once_and_is_accepted(bol: Bol) -> None:
    from shared.channels.bol.stock import BolStockPublisher
    from shared.channels.port import PendingStock, StockUpdate
    from shared.domain.listings import Listing

    bol.queue("/token", "200-token")
    bol.queue("/retailer/offers/o-1/stock", "429-too-many-requests", "202-offers-export")
    slept: list[float] = []
    http = httpx.Client(transport=httpx.MockTransport(bol))
    listing = Listing("MUG", "bol", {"offer_id": "o-1"})
    (result,) = BolStockPublisher(SECRET, http, sleep=slept.append).set_stock(
        [StockUpdate(listing, 1500)]
    )
    assert result.error is None and result.pending == PendingStock("1")
    assert slept == [3.0]  # Retry-After 4, bounded within a batch
    put = bol.api_calls()[-1]
    assert json.loads(put.content) == {"amount": 999, "managedByRetailer": True}
    assert put.headers["content-type"] == MEDIA_TYPE
