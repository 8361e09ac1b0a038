"""`keel local up` as a user runs it: its own process, read by the CLI via .keel/local.json."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from keel_cli.main import main as keel
from shared.channels.registry import CHANNELS
from shared.channels.shopify.signature import sign

pytestmark = pytest.mark.e2e
NL, DE = "A1805IZSGTT6HS", "A1PA6795UKMFR9"  # the sandbox seller's Amazon marketplaces


def test_local_up_serves_until_interrupted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / ".keel" / "local.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "keel_cli.main", "local", "up", "--seed", "demo"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not state.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
        assert state.exists(), process.stdout.read() if process.stdout else ""
        endpoints = json.loads(state.read_text())
        assert oct(state.stat().st_mode & 0o777) == "0o600"  # it holds local-only secrets
        _every_channel_is_reachable(endpoints)
        assert endpoints["local_only_secrets"]["amazon_refresh_token"].startswith("Atzr|")
        # the carrier too: Sendcloud's sandbox, its signing secret and the URL it calls
        assert endpoints["sandboxes"]["sendcloud"].startswith("http://127.0.0.1:")
        assert endpoints["local_only_secrets"]["sendcloud_webhook_secret"]
        assert endpoints["carrier_webhooks"]["sendcloud"].endswith("/carriers/sendcloud")
        assert endpoints["state_machines"]["order-workflow"].startswith("arn:aws:states:")

        body = json.dumps({"id": 1, "line_items": "broken"}).encode()
        secret = endpoints["local_only_secrets"]["shopify_webhook_secret"]
        response = httpx.post(
            endpoints["webhooks"]["shopify"],
            content=body,
            headers={
                "X-Shopify-Hmac-Sha256": sign(secret, body),
                "X-Shopify-Webhook-Id": "cli-1",
                "X-Shopify-Topic": "orders/create",
                "X-Shopify-Shop-Domain": "keel-demo.myshopify.com",
            },
        )
        assert response.status_code == 200

        assert keel(["--state-file", str(state), "stock", "show", "KEEL-LAMP", "--json"]) == 0
        (lamp,) = json.loads(capsys.readouterr().out)
        assert (lamp["on_hand"], lamp["reserved"], lamp["available"]) == (1, 0, 1)
        assert {x["channel"] for x in lamp["listings"]} == {c.name for c in CHANNELS}

        deadline = time.monotonic() + 10
        held: list[dict[str, str]] = []
        while not held and time.monotonic() < deadline:
            assert keel(["--state-file", str(state), "orders", "list", "--json"]) == 0
            held = json.loads(capsys.readouterr().out)["held_deliveries"]
            time.sleep(0.2)
        assert [h["delivery_id"] for h in held] == ["cli-1"]
        _a_newcomer_places_watches_cancels_and_breaks_an_order(state, capsys)
        _two_shops_and_two_marketplaces(state, endpoints, capsys)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGUSR1)  # faulthandler: every thread's stack
            time.sleep(1)
            process.kill()
            output, _ = process.communicate()
            pytest.fail(f"keel local up did not stop within 30 s:\n{output}")
    assert process.returncode == 0, output
    assert "Webhook shopify" in output and "Webhook woocommerce" in output
    assert "Sandbox shopify" in output and "Sandbox woocommerce" in output
    # #21: one readable line per event, no JSON documents, no moto tracebacks
    assert not [
        line for line in output.splitlines() if line.lstrip().startswith(("{", "Traceback"))
    ]
    assert any(" ingest " in line and "order taken" in line for line in output.splitlines())
    assert not state.exists()


def _two_shops_and_two_marketplaces(
    state: Path, endpoints: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """#27 on `--seed demo`: two Shopify shops, one Amazon seller in NL and DE; each listing
    is named by account and marketplace, in the CLI and in the sandboxes."""
    capsys.readouterr()  # what the steps before left
    outlet = "keel-outlet.myshopify.com"
    assert endpoints["accounts_all"]["shopify"] == [endpoints["accounts"]["shopify"], outlet]
    assert endpoints["accounts_all"]["amazon"] == [endpoints["accounts"]["amazon"]]
    assert endpoints["account_sandboxes"]["shopify"][outlet].startswith("http://127.0.0.1:")
    rows = httpx.get(f"{endpoints['account_sandboxes']['shopify'][outlet]}/__sandbox/listings")
    assert {r["account"] for r in rows.json()} == {outlet}
    amazon = httpx.get(f"{endpoints['sandboxes']['amazon']}/__sandbox/listings").json()
    assert {r["marketplace"] for r in amazon if r["sku"] == "KEEL-TEE-M"} == {NL, DE}

    cli = ["--state-file", str(state)]
    assert keel([*cli, "stock", "show", "KEEL-TEE-M", "--json"]) == 0
    (tee,) = json.loads(capsys.readouterr().out)
    where = {(x["channel"], x["account"], x["marketplace"]) for x in tee["listings"]}
    assert {
        ("shopify", endpoints["accounts"]["shopify"], ""),
        ("shopify", outlet, ""),
        ("amazon", endpoints["accounts"]["amazon"], NL),
        ("amazon", endpoints["accounts"]["amazon"], DE),
    } <= where
    assert next(x for x in tee["listings"] if x["channel"] == "bol")["countries"] == ["NL", "BE"]

    rules = [*cli, "listings", "set", "KEEL-TEE-M", "amazon", "--cap", "1", "--reason", "t"]
    assert keel(rules) == 1  # two marketplaces: which one?
    assert "2 amazon listings fit" in capsys.readouterr().out
    assert keel([*rules, "--marketplace", DE, "--json"]) == 0
    changed = json.loads(capsys.readouterr().out)
    assert (changed["marketplace"], changed["cap"]) == (DE, 1)
    outlet_rules = [*cli, "listings", "set", "KEEL-TEE-M", "shopify", "--account", outlet]
    assert keel([*outlet_rules, "--buffer", "1", "--reason", "t", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["account"] == outlet

    assert keel([*cli, "sandbox", "order", "shopify", "KEEL-MUG-BLUE=1", "--account", outlet,
                 "--json"]) == 0  # fmt: skip
    placed = json.loads(capsys.readouterr().out)["id"]
    assert _wait_for_status(state, capsys, "shopify", str(placed), "reserved")


def _every_channel_is_reachable(endpoints: dict[str, Any]) -> None:
    """The contract outside checks rely on: every channel's sandbox and signing secret (a
    webhook channel) or the queue its sandbox sends to (a queue-delivering one: Amazon)."""
    for c in CHANNELS:
        assert endpoints["sandboxes"][c.name].startswith("http://127.0.0.1:")
        if c.receiver is not None:
            assert endpoints["local_only_secrets"][f"{c.name}_webhook_secret"]
            assert endpoints["webhooks"][c.name].endswith(f"/webhooks/{c.name}")
        else:
            assert endpoints["notification_queues"][c.name].endswith(f"-notifications-{c.name}")
    assert endpoints["notification_queues"].keys() == {"amazon"}


def _a_newcomer_places_watches_cancels_and_breaks_an_order(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """#21: `keel sandbox order|cancel|outage`, so no channel body is written by hand."""
    cli = ["--state-file", str(state), "sandbox"]
    for channel in ("shopify", "bol"):
        assert keel([*cli, "order", channel, "KEEL-MUG-BLUE=2", "--json"]) == 0
        placed = json.loads(capsys.readouterr().out)["id"]
        assert _wait_for_status(state, capsys, channel, placed, "reserved")
    assert keel([*cli, "order", "shopify", "KEEL-TEE-M=1", "--json"]) == 0
    tee = json.loads(capsys.readouterr().out)["id"]
    assert _wait_for_status(state, capsys, "shopify", tee, "reserved")
    assert keel([*cli, "cancel", "shopify", tee]) == 0
    assert f"shopify cancelled order {tee}" in capsys.readouterr().out
    assert _wait_for_status(state, capsys, "shopify", tee, "cancelled")
    assert keel([*cli, "outage", "woocommerce", "--status", "503", "--requests", "3"]) == 0
    assert "next 3 API calls answer 503" in capsys.readouterr().out
    assert keel([*cli, "outage", "woocommerce", "--requests", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["outage"]["remaining"] == 0
    assert keel([*cli, "order", "shopify", "NOT-A-SKU=1"]) == 1
    assert "not listed on shopify" in capsys.readouterr().out
    with pytest.raises(SystemExit) as usage:
        keel([*cli, "order", "shopify", "KEEL-MUG-BLUE=two"])
    assert usage.value.code == 2


def _wait_for_status(
    state: Path, capsys: pytest.CaptureFixture[str], channel: str, order_id: str, wanted: str
) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert keel(["--state-file", str(state), "orders", "list", "--json"]) == 0
        found = json.loads(capsys.readouterr().out)["orders"]
        statuses = [
            o["status"] for o in found if o["channel"] == channel and o["external_id"] == order_id
        ]
        if statuses == [wanted]:
            return True
        time.sleep(0.3)
    return False
