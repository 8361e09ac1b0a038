"""Webhooks signed with keys the channel publishes (spec.ChannelKeys), channel-agnostic: keys
fetched and cached, one refetch for an unknown key id, unknown or bad -> 401 and nothing
stored. A scripted key set stands in for the channel (bol.com's signature-keys endpoint)."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import pytest

import functions.webhook.handler as webhook_module
from local_stack.resources import Provisioned
from shared.channels.registry import BY_NAME
from shared.channels.spec import BodyDigest, ChannelKeys, FromBody, WebhookReceiver
from shared.services.webhook_receipt import REFETCHES_PER_INTERVAL
from tests.integration.conftest import context, drain
from tests.integration.test_webhook_edges import gateway_event

CHANNEL = "woocommerce"  # a provisioned webhook route and secret; its receiver is replaced
PUBLISHED: dict[str, str] = {}  # what the channel's key endpoint answers now
FETCHES: list[Mapping[str, Any]] = []


def fetch(secret: Mapping[str, Any]) -> dict[str, str]:
    FETCHES.append(secret)
    return dict(PUBLISHED)


def key_id(headers: Mapping[str, str]) -> str | None:
    return headers.get("x-key-id")


def verify(key: str, raw: bytes, headers: Mapping[str, str]) -> bool:
    expected = hmac.new(key.encode(), raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers.get("x-signature", ""))


def signed(raw: bytes, kid: str, key: str) -> dict[str, str]:
    return {
        "X-Key-Id": kid,
        "X-Signature": hmac.new(key.encode(), raw, hashlib.sha256).hexdigest(),
    }


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    receiver = WebhookReceiver(
        verify=verify,
        secret_field="consumer_key",
        delivery_id=BodyDigest(),
        topic=FromBody(("event", "resource")),
        keys=ChannelKeys(fetch=f"{__name__}:fetch", key_id=key_id, refetch_interval_s=3600),
    )
    monkeypatch.setitem(BY_NAME, CHANNEL, dataclasses.replace(BY_NAME[CHANNEL], receiver=receiver))
    webhook_module._keys.cache_clear()
    PUBLISHED.clear()
    PUBLISHED["k1"] = "first-key"
    FETCHES.clear()
    yield


def post(raw: bytes, headers: dict[str, str]) -> int:
    response = webhook_module.handler(gateway_event(raw, headers, CHANNEL), context("webhook"))
    return int(response["statusCode"])


def test_keys_are_fetched_once_and_cached(deployed: Provisioned, sqs: Any, keyed: None) -> None:
    for n in range(3):
        raw = b'{"event": {"resource": "ORDER"}, "n": %d}' % n
        assert post(raw, signed(raw, "k1", "first-key")) == 200
    assert len(FETCHES) == 1
    assert FETCHES[0]["consumer_key"]  # the key fetch is given the channel's secret
    assert len(drain(sqs, deployed.queue_urls["ingest"])) == 3


def test_a_rotated_key_is_fetched_once_then_unknown_ids_are_refused(
    deployed: Provisioned, sqs: Any, keyed: None
) -> None:
    raw = b'{"event": {"resource": "ORDER"}}'
    assert post(raw, signed(raw, "k1", "first-key")) == 200
    PUBLISHED["k2"] = "second-key"  # the channel rotated its keys
    other = b'{"event": {"resource": "ORDER"}, "x": 1}'
    assert post(other, signed(other, "k2", "second-key")) == 200
    assert len(FETCHES) == 2
    forged = b'{"event": {"resource": "ORDER"}, "x": 2}'
    assert post(forged, signed(forged, "k9", "any")) == 401
    assert post(forged, signed(forged, "k9", "any")) == 401
    assert len(FETCHES) == 3  # one refetch per unknown id, never one per delivery
    for n in range(10):  # forged ids cannot hammer the key endpoint
        assert post(forged, signed(forged, f"forged-{n}", "any")) == 401
    # the first fetch, then one each for k2, k9 and three forged ids
    assert len(FETCHES) == 1 + REFETCHES_PER_INTERVAL
    assert len(drain(sqs, deployed.queue_urls["ingest"])) == 2


def test_a_second_rotation_soon_after_the_first_is_picked_up(
    deployed: Provisioned, sqs: Any, keyed: None
) -> None:
    """Issue #19.8: the first rotation's refetch used to spend the whole interval, so a second
    rotation within it answered 401 to every genuine delivery."""
    raw = b'{"event": {"resource": "ORDER"}}'
    assert post(raw, signed(raw, "k1", "first-key")) == 200
    PUBLISHED["k2"] = "second-key"
    assert post(raw, signed(raw, "k2", "second-key")) == 200
    PUBLISHED["k3"] = "third-key"
    other = b'{"event": {"resource": "ORDER"}, "x": 3}'
    assert post(other, signed(other, "k3", "third-key")) == 200
    assert len(FETCHES) == 3


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Key-Id": "k1", "X-Signature": "00"},  # bad signature, known key
        {"X-Signature": "00"},  # no key id
        {},
    ],
    ids=["bad", "no-key-id", "unsigned"],
)
def test_unverified_deliveries_are_refused_and_nothing_is_stored(
    deployed: Provisioned, sqs: Any, keyed: None, headers: dict[str, str]
) -> None:
    raw = b'{"event": {"resource": "ORDER"}}'
    assert post(raw, headers) == 401
    assert drain(sqs, deployed.queue_urls["ingest"]) == []
    db = boto3.client("dynamodb")
    assert db.scan(TableName=deployed.tables["deliveries"])["Items"] == []
