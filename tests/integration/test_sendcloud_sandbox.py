"""The Sendcloud client against the Sendcloud sandbox over real HTTP (local_stack/http.py): the
calls the order workflow makes, the failures it must survive, and the signed webhook a parcel's
status change sends."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import pytest

from local_stack.http import LocalHttpServer, Request, Response
from local_stack.sandboxes.sendcloud import SendcloudSandbox
from shared.carriers.sendcloud import HANDED_OVER
from shared.carriers.sendcloud.client import SendcloudCarrier
from shared.carriers.sendcloud.secret import SendcloudSecret
from shared.carriers.sendcloud.webhook import parse_event, verify_headers
from shared.channels.errors import AuthError, NothingToDo, PermanentError, RetryableError
from shared.domain.orders import Money, Order, OrderLine, ShippingAddress

T = TypeVar("T")
AT = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


@pytest.fixture
def sandbox() -> Iterator[tuple[SendcloudSandbox, str]]:
    """The sandbox on loopback: (sandbox, base URL)."""
    sendcloud = SendcloudSandbox()
    server = LocalHttpServer("sendcloud", sendcloud)
    server.start()
    try:
        yield sendcloud, server.url
    finally:
        server.stop()


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[Request]]]:
    """Stands in for Keel's carrier webhook: (URL, what it received)."""
    received: list[Request] = []

    def app(request: Request) -> Response:
        received.append(request)
        return Response(200)

    server = LocalHttpServer("carrier-webhook", app)
    server.start()
    try:
        yield f"{server.url}/carriers/sendcloud", received
    finally:
        server.stop()


def carrier_for(sandbox: SendcloudSandbox, url: str, **override: str) -> SendcloudCarrier:
    secret = SendcloudSecret.model_validate({**sandbox.keel_secret(url), **override})
    return SendcloudCarrier(secret, httpx.Client(timeout=httpx.Timeout(5.0, connect=2.0)))


def order(external_id: str = "1001", country: str = "NL") -> Order:
    line = OrderLine(
        line_id="L1",
        quantity=1,
        unit_price=Money(Decimal("12.50"), "EUR"),
        presentment_unit_price=Money(Decimal("12.50"), "EUR"),
        title="Blue mug",
        sku="KEEL-MUG-BLUE",
    )
    return Order(
        channel="woocommerce",
        account="shop.example.com",
        external_id=external_id,
        name=external_id,
        created_at=AT,
        channel_updated_at=AT,
        total=Money(Decimal("12.50"), "EUR"),
        presentment_total=Money(Decimal("12.50"), "EUR"),
        lines=(line,),
        shipping_address=ShippingAddress(
            name="Jane Doe",
            address_line_1="Insulindelaan 115",
            postal_code="5642 CV",
            city="Eindhoven",
            country_code=country,
        ),
    )


def control(url: str, path: str, body: Any = None) -> Any:
    if body is None:
        return httpx.get(f"{url}/__sandbox{path}").json()
    answer = httpx.post(f"{url}/__sandbox{path}", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def retried(call: Callable[[], T], attempts: int = 5) -> tuple[T, list[RetryableError]]:
    """The retry contract a caller (the state machine) keeps: RetryableError means try again,
    not sooner than retry_after_s."""
    failures: list[RetryableError] = []
    for _ in range(attempts):
        try:
            return call(), failures
        except RetryableError as exc:
            failures.append(exc)
            time.sleep(exc.retry_after_s or 0.05)
    raise AssertionError(f"still failing after {attempts}: {failures}")


def test_announce_books_one_parcel_under_the_order_key(
    sandbox: tuple[SendcloudSandbox, str],
) -> None:
    sendcloud, url = sandbox
    shipment = carrier_for(sendcloud, url).announce(order())
    assert shipment.carrier == "sendcloud" and shipment.carrier_service == "postnl"
    assert shipment.tracking_number and shipment.label_url and shipment.shipment_id
    assert control(url, "/parcels") == [
        {
            "parcel_id": int(shipment.parcel_id),
            "external_reference_id": "woocommerce#shop.example.com#1001",
            "tracking_number": shipment.tracking_number,
            "status_id": 1,
        }
    ]


def test_a_repeated_announce_finds_the_first_parcel(sandbox: tuple[SendcloudSandbox, str]) -> None:
    sendcloud, url = sandbox
    carrier = carrier_for(sendcloud, url)
    first = carrier.announce(order())
    assert carrier.announce(order()) == first
    assert carrier.find(order().key) == first
    assert sendcloud.announced == 1 and len(control(url, "/parcels")) == 1
    other = carrier.announce(order("1002"))
    assert other.parcel_id != first.parcel_id and sendcloud.announced == 2


def test_an_answer_lost_after_sendcloud_booked_is_found_by_the_retry(
    sandbox: tuple[SendcloudSandbox, str],
) -> None:
    sendcloud, url = sandbox
    carrier = carrier_for(sendcloud, url)
    # The first attempt's lookup and announce both go through, but their answers are lost.
    control(url, "/outage", {"requests": 2, "status": 504, "answer_lost": True})
    shipment, failures = retried(lambda: carrier.announce(order()))
    assert [f.status for f in failures] == [504, 504]
    assert sendcloud.announced == 1
    assert [p["parcel_id"] for p in control(url, "/parcels")] == [int(shipment.parcel_id)]


def test_the_reference_is_unique_as_sendcloud_says_409_with_the_holder(
    sandbox: tuple[SendcloudSandbox, str],
) -> None:
    sendcloud, url = sandbox
    first = carrier_for(sendcloud, url).announce(order())
    raw = httpx.post(
        f"{url}/api/v3/shipments/announce",
        auth=(sendcloud.public_key, sendcloud.secret_key),
        json={**ANNOUNCE_BODY, "external_reference_id": order().key},
    )
    assert raw.status_code == 409
    assert raw.json()["errors"][0]["source"]["pointer"] == "/external_reference_id"
    assert raw.json()["data"]["parcels"][0]["id"] == int(first.parcel_id)


ADDRESS = {
    "name": "Jane Doe",
    "address_line_1": "Insulindelaan 115",
    "postal_code": "5642 CV",
    "city": "Eindhoven",
    "country_code": "NL",
}
ANNOUNCE_BODY: dict[str, Any] = {
    "from_address": ADDRESS,
    "to_address": ADDRESS,
    "ship_with": {
        "type": "shipping_option_code",
        "properties": {"shipping_option_code": "postnl:standard"},
    },
    "parcels": [{"weight": {"value": "0.500", "unit": "kg"}}],
}


def test_cancel_then_cancel_again_then_unknown(sandbox: tuple[SendcloudSandbox, str]) -> None:
    sendcloud, url = sandbox
    carrier = carrier_for(sendcloud, url)
    shipment = carrier.announce(order())
    carrier.cancel(shipment)
    assert control(url, "/parcels")[0]["status_id"] == 2000
    with pytest.raises(NothingToDo) as again:  # a retry after a lost answer: 409, cancelled
        carrier.cancel(shipment)
    assert again.value.status == 409
    with pytest.raises(NothingToDo) as unknown:
        carrier.cancel(replace(shipment, shipment_id="shp-404"))
    assert unknown.value.status == 404
    # Cancelled is not found; the reference cannot be booked again (Sendcloud keeps it unique).
    assert carrier.find(order().key) is None
    with pytest.raises(PermanentError, match="cancelled"):
        carrier.announce(order())


def test_a_parcel_the_carrier_has_cannot_be_cancelled(
    sandbox: tuple[SendcloudSandbox, str],
) -> None:
    sendcloud, url = sandbox
    carrier = carrier_for(sendcloud, url)
    shipment = carrier.announce(order())
    control(url, f"/parcels/{shipment.parcel_id}/status", {"status_id": 3, "message": "En route"})
    with pytest.raises(PermanentError, match="no longer be cancelled") as caught:
        carrier.cancel(shipment)
    assert type(caught.value) is PermanentError and caught.value.status == 409


def test_what_sendcloud_refuses_is_permanent_with_its_words(
    sandbox: tuple[SendcloudSandbox, str],
) -> None:
    sendcloud, url = sandbox
    carrier = carrier_for(sendcloud, url)
    with pytest.raises(PermanentError) as invalid:
        carrier.announce(order(country="nl"))
    assert invalid.value.status == 400
    assert "/to_address/country_code Not a valid ISO 3166-1 alpha-2 code." in str(invalid.value)
    assert sendcloud.announced == 0


def test_a_refused_order_fails_until_fixed_then_goes_through(
    sandbox: tuple[SendcloudSandbox, str],
) -> None:
    sendcloud, url = sandbox
    carrier = carrier_for(sendcloud, url)
    reference = order().key
    control(url, "/refuse", {"external_reference_id": reference, "message": "Unknown street"})
    with pytest.raises(PermanentError, match="Unknown street") as refused:
        carrier.announce(order())
    assert refused.value.status == 422 and not isinstance(refused.value, AuthError)
    assert carrier.announce(order("1002")).parcel_id  # only that order is refused
    control(url, "/refuse", {"external_reference_id": reference, "message": None})
    assert carrier.announce(order()).parcel_id  # the redrive
    assert sendcloud.announced == 2


@pytest.mark.parametrize(("status", "retry_after"), [(429, 1.0), (503, None)])
def test_throttling_and_outages_are_retried_then_succeed(
    sandbox: tuple[SendcloudSandbox, str], status: int, retry_after: float | None
) -> None:
    sendcloud, url = sandbox
    control(url, "/outage", {"requests": 2, "status": status})
    shipment, failures = retried(lambda: carrier_for(sendcloud, url).announce(order()))
    assert [(f.status, f.retry_after_s) for f in failures] == [(status, retry_after)] * 2
    assert shipment.parcel_id and sendcloud.announced == 1


def test_wrong_keys_are_an_auth_error(sandbox: tuple[SendcloudSandbox, str]) -> None:
    sendcloud, url = sandbox
    with pytest.raises(AuthError) as caught:
        carrier_for(sendcloud, url, secret_key="rotated").announce(order())
    assert caught.value.status == 401


def test_a_status_change_sends_a_signed_parcel_status_changed(
    sandbox: tuple[SendcloudSandbox, str], receiver: tuple[str, list[Request]]
) -> None:
    sendcloud, url = sandbox
    webhook_url, received = receiver
    sendcloud.notify_to(webhook_url)
    shipment = carrier_for(sendcloud, url).announce(order())
    answer = control(
        url,
        f"/parcels/{shipment.parcel_id}/status",
        {"status_id": 3, "message": "En route to sorting center"},
    )
    assert answer == {"parcel_id": int(shipment.parcel_id), "webhook_status": 200}
    [delivery] = received
    assert delivery.path == "/carriers/sendcloud" and delivery.method == "POST"
    headers = {k.lower(): v for k, v in delivery.headers.items()}
    key = sendcloud.local_only_secrets()["sendcloud_webhook_secret"]
    assert verify_headers(key, delivery.body, headers)
    assert not verify_headers(key + "x", delivery.body, headers)
    event = parse_event(delivery.body)
    assert event is not None
    assert (event.parcel_id, event.status_id, event.message) == (
        shipment.parcel_id,
        3,
        "En route to sorting center",
    )
    assert event.status_id in HANDED_OVER
    assert event.external_reference == order().key
    assert event.at is not None and abs(event.at - datetime.now(UTC)) < timedelta(minutes=1)
    assert control(url, "/parcels")[0]["status_id"] == 3
    # An unknown parcel: 404, and nothing is sent.
    missing = httpx.post(f"{url}/__sandbox/parcels/1/status", json={"status_id": 3})
    assert missing.status_code == 404 and len(received) == 1


def test_the_secret_the_sandbox_hands_keel_is_valid_and_its_local_keys_are_named() -> None:
    sendcloud = SendcloudSandbox()
    secret = SendcloudSecret.model_validate(sendcloud.keel_secret("http://127.0.0.1:9"))
    assert secret.base_url == "http://127.0.0.1:9/api/v3"
    assert sendcloud.local_only_secrets() == {"sendcloud_webhook_secret": secret.webhook_secret}


def test_a_failed_announcement_holds_the_reference_until_re_announced(
    sandbox: tuple[SendcloudSandbox, str],
) -> None:
    """Sendcloud booked the shipment but could not tell the carrier (201, ANNOUNCEMENT_FAILED):
    no label, so it fails for good; every retry meets the same shipment, none books a second.
    Once someone re-announces it in Sendcloud, the redrive finds it."""
    sendcloud, url = sandbox
    carrier = carrier_for(sendcloud, url)
    reference = order().key
    control(
        url,
        "/refuse",
        {
            "external_reference_id": reference,
            "message": "Carrier down",
            "as": "announcement_failed",
        },
    )
    with pytest.raises(PermanentError, match="Carrier down"):
        carrier.announce(order())
    [parcel] = control(url, "/parcels")
    assert parcel["status_id"] == 1002
    with pytest.raises(PermanentError, match="could not announce"):
        carrier.announce(order())  # the retry: found, still failed
    assert sendcloud.announced == 1
    control(url, "/refuse", {"external_reference_id": reference, "message": None})
    control(url, f"/parcels/{parcel['parcel_id']}/status", {"status_id": 1, "message": "Ready"})
    shipment = carrier.announce(order())  # the redrive
    assert shipment.parcel_id == str(parcel["parcel_id"]) and shipment.label_url
    assert sendcloud.announced == 1
