"""Sendcloud webhooks against Sendcloud's own documents (specs/sendcloud/webhooks): the official
signature vector, the `parcel_status_changed` sample, and which status ids mean the carrier has
the parcel."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared.carriers.registry import CARRIER_SPECS
from shared.carriers.sendcloud import HANDED_OVER
from shared.carriers.sendcloud.webhook import parse_event, sign, verify, verify_headers


def _spec(specs: Path, name: str) -> Any:
    return json.loads((specs / "sendcloud" / name).read_text())


# --- signature and sample ------------------------------------------------------------------


def test_signature_matches_the_official_vector(specs: Path) -> None:
    vector = _spec(specs, "webhooks/signature_test_vector.json")
    body = vector["raw_body"].encode()
    assert vector["header"] == "Sendcloud-Signature"
    assert sign(vector["secret"], body) == vector["expected_signature"]
    assert verify(vector["secret"], body, vector["expected_signature"])
    assert verify(vector["secret"], body, vector["expected_signature"].upper())  # hex is hex
    headers = {"sendcloud-signature": vector["expected_signature"]}
    assert verify_headers(vector["secret"], body, headers)


@pytest.mark.parametrize(
    ("secret", "body", "signature"),
    [
        ("secretkey", b'{"key": "value "}', "vector"),  # one byte more
        ("secretkey2", b'{"key": "value"}', "vector"),  # another key
        ("secretkey", b'{"key": "value"}', ""),  # no header
        ("", b'{"key": "value"}', "vector"),  # no key configured: never verified
    ],
)
def test_anything_but_the_signed_bytes_and_key_is_refused(
    specs: Path, secret: str, body: bytes, signature: str
) -> None:
    vector = _spec(specs, "webhooks/signature_test_vector.json")
    header = vector["expected_signature"] if signature == "vector" else signature
    assert not verify(secret, body, header)


def test_the_documented_parcel_status_changed_sample_parses(specs: Path) -> None:
    raw = (specs / "sendcloud/webhooks/parcel_status_changed.sample.json").read_bytes()
    event = parse_event(raw)
    assert event is not None
    assert (event.parcel_id, event.status_id, event.message) == ("1", 1, "Ready to send")
    # carrier_status_change_timestamp (epoch ms), UTC
    assert event.at == datetime(1970, 1, 1, 0, 0, 0, 123000, tzinfo=UTC)
    # The sample carries the shop's external_order_id, not a v3 external_reference_id.
    assert event.external_reference is None


def test_the_v3_reference_and_the_carrier_time_are_read_when_present() -> None:
    raw = json.dumps(
        {
            "action": "parcel_status_changed",
            "timestamp": 1764320400000,
            "carrier_status_change_timestamp": 1764316800000,
            "parcel": {
                "id": 383700001,
                "status": {"id": 3, "message": "En route to sorting center"},
                "external_reference_id": "shopify#keel-demo#1001",
            },
        }
    ).encode()
    event = parse_event(raw)
    assert event is not None
    assert event.external_reference == "shopify#keel-demo#1001"
    assert event.at == datetime(2025, 11, 28, 8, 0, tzinfo=UTC)  # the carrier's, not the send


@pytest.mark.parametrize(
    "raw", [b'{"action": "integration_updated", "integration": {}}', b'{"action": "x"}']
)
def test_other_actions_are_not_parcel_events(raw: bytes) -> None:
    assert parse_event(raw) is None


@pytest.mark.parametrize("raw", [b"not json", b"{}", b'{"action": "parcel_status_changed", '
                                 b'"parcel": {"id": "x", "status": {}}}'])  # fmt: skip
def test_a_body_that_is_not_a_sendcloud_event_is_a_value_error(raw: bytes) -> None:
    with pytest.raises(ValueError):
        parse_event(raw)


# --- status ids ------------------------------------------------------------------------------


def test_handed_over_is_declared_once_and_read_from_there() -> None:
    assert CARRIER_SPECS["sendcloud"].handed_over is HANDED_OVER


def test_every_status_id_the_stored_specs_name_is_on_the_right_side(specs: Path) -> None:
    """What the stored specs say about ids: v2's status list example (3-6), the cancel endpoint's
    "delivered (11)", "ready to send (1000)" and "cancelled (2000)", and the webhook sample's 1
    "Ready to send". 7, 12 and 22 come from Sendcloud's live status list, not stored here."""
    v2_text = (specs / "sendcloud/sendcloud-v2.openapi.json").read_text()
    statuses = json.loads(v2_text)["paths"]["/parcels/statuses"]["get"]["responses"]["200"]
    example = statuses["content"]["application/json"]["examples"]["RetrieveParcelStatuses"]
    listed = {s["id"]: s["message"] for s in example["value"]}
    assert listed == {
        3: "En route to sorting center",
        4: "Delivery delayed",
        5: "Sorted",
        6: "Not sorted",
    }
    v2 = " ".join(v2_text.split())
    assert {3, 4, 5, 6} <= HANDED_OVER
    assert "status ode (11) saying that it\u2019s delivered" in v2 and 11 in HANDED_OVER
    assert "ready to send (1000)" in v2 and 1000 not in HANDED_OVER
    assert "status of 2000 which means it is already cancelled" in v2 and 2000 not in HANDED_OVER
    sample = _spec(specs, "webhooks/parcel_status_changed.sample.json")
    assert sample["parcel"]["status"] == {"id": 1, "message": "Ready to send"}
    assert 1 not in HANDED_OVER
    assert {3, 4, 5, 6, 7, 11, 12, 22} == HANDED_OVER
