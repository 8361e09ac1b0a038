"""`keel --env <env>` (#22): a deployed environment is found from its stack's outputs and
driven by the same commands as the local stack; staging and prod are not changed without
`--yes`. The deployed stack here is the local one: its outputs are what a CDK stack publishes
(tests/infra/test_operator_outputs.py), read where `describe-stacks` would give them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from keel_cli import targets
from keel_cli.main import main as keel
from local_stack.stack import LocalConfig, LocalStack, stores
from shared.messages import SyncListing
from tests.e2e.conftest import Product, shows

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    """This module's own stack: retries come back within 2 s (an auth failure reaches its DLQ
    in seconds, not after the sync's 30 s + 60 s backoff)."""
    config = LocalConfig(
        prefix="e2e-env", visibility_timeout_s=1, log_level="CRITICAL", timed_schedules=False,
        max_retry_delay_s=2,
    )  # fmt: skip
    with LocalStack(config) as running:
        yield running


@pytest.fixture
def prod(stack: LocalStack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """`keel --env prod`, with no local state file: only the outputs say where things are."""
    outputs = stack.endpoints()["outputs"]
    asked: list[str] = []

    def described(cloudformation: Any, stack_name: str) -> dict[str, str]:
        asked.append(stack_name)
        return dict(outputs)

    monkeypatch.setattr(targets, "stack_outputs", described)
    monkeypatch.setattr(targets, "_resolved", {})
    return ["--state-file", str(tmp_path / "none.json"), "--env", "prod"]


def test_a_poison_message_goes_from_status_to_redriven_on_a_deployed_environment(
    stack: LocalStack,
    product: Product,
    prod: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert stack.resources is not None
    dlq = stack.resources.dlq_urls["sync-shopify"]
    sqs = stack.client("sqs")
    trigger = SyncListing(channel="shopify", sku=product.sku)
    sqs.send_message(QueueUrl=dlq, MessageBody=trigger.model_dump_json())
    capsys.readouterr()

    assert keel([*prod, "status", "--json"]) == 3  # a DLQ holds a message: "found problems"
    status = json.loads(capsys.readouterr().out)
    assert any(
        q["name"] == "sync-shopify-dlq" and q["messages"] == 1 for q in status["dead_letters"]
    )

    assert keel([*prod, "dlq", "peek", "sync-shopify-dlq", "--json"]) == 0
    (letter,) = json.loads(capsys.readouterr().out)
    assert product.sku in letter["body"]

    # prod is not changed by a script that did not say --yes (no terminal to ask)
    assert keel([*prod, "dlq", "redrive", "sync-shopify-dlq", "--reason", "fixed"]) == 2
    assert "needs --yes" in capsys.readouterr().err
    assert keel([*prod, "stock", "receive", product.sku, "1", "--reference", "PO-X"]) == 2
    capsys.readouterr()

    assert keel([*prod, "dlq", "redrive", "sync-shopify-dlq", "--yes"]) == 2
    assert "needs --reason" in capsys.readouterr().err  # prod's changes say why
    redrive = [*prod, "dlq", "redrive", "sync-shopify-dlq", "--yes", "--json"]
    assert keel([*redrive, "--reason", "INC-7: cause fixed", "--actor", "ops-anna"]) == 0
    assert json.loads(capsys.readouterr().out)["moved"] == 1
    assert keel([*prod, "audit", "list", "--json"]) == 0
    (entry,) = [e for e in json.loads(capsys.readouterr().out) if e["env"] == "prod"]
    assert (entry["actor"], entry["reason"]) == ("ops-anna", "INC-7: cause fixed")
    assert entry["command"] == "redrive 1 of sync-shopify-dlq"
    assert stack.wait_idle(30)
    assert keel([*prod, "status", "--json"]) == 0
    capsys.readouterr()


def test_dev_changes_without_asking_and_an_unknown_environment_is_one_line(
    stack: LocalStack, product: Product, prod: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    dev = [*prod[:-1], "dev"]
    assert (
        keel([*dev, "stock", "receive", product.sku, "2", "--reference", "PO-DEV", "--json"]) == 0
    )
    capsys.readouterr()
    assert keel([*dev, "stock", "show", product.sku, "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["on_hand"] == 5  # the product's 3 and the 2 received through --env dev
    assert keel([*prod[:-1], "nowhere", "status"]) == 2
    err = capsys.readouterr().err
    assert (
        err.strip()
        == "keel: unknown environment 'nowhere': choose one of local, dev, staging, prod"
    )


def test_status_names_the_environment_s_alarms_in_alarm_and_its_polls(
    stack: LocalStack, prod: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    cloudwatch = stack.client("cloudwatch")
    mine = f"{stack.config.prefix}-sync-shopify-lagging"
    for name in (mine, "someone-elses-alarm"):
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            MetricName="ApproximateAgeOfOldestMessage",
            Namespace="AWS/SQS",
            Statistic="Maximum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=900,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="test")
    try:
        assert keel([*prod, "status", "--json"]) == 3
        status = json.loads(capsys.readouterr().out)
        assert status["alarms"] == [mine]
        assert f"alarm {mine} is in ALARM" in status["problems"][0]
        # A deployed environment's poll accounts come from its secrets (no local.json).
        assert {"shopify", "woocommerce", "bol", "amazon"} <= set(status["last_polls"])
    finally:
        cloudwatch.delete_alarms(AlarmNames=[mine, "someone-elses-alarm"])


def test_a_sync_refused_for_its_credentials_is_understood_exported_and_redriven(
    stack: LocalStack,
    product: Product,
    prod: list[str],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """#22's journey on prod, from the CLI alone: Shopify answers 401 (a rotated token) until the
    sync gives the stock write up to its DLQ; the operator sees it in status, reads why (auth),
    keeps a copy, fixes the cause, redrives; Shopify ends at Keel's quantity, nothing lost."""
    control = f"{stack.sandbox_url('shopify')}/__sandbox/outage"
    httpx.post(control, json={"requests": 1000, "status": 401}, timeout=10)
    try:
        received = [*prod, "stock", "receive", product.sku, "2", "--reference", "PO-401",
                    "--yes", "--reason", "goods in"]  # fmt: skip
        assert keel(received) == 0
        deadline = time.monotonic() + 60
        while stack.queue_depths()["sync-shopify-dlq"] == 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        capsys.readouterr()
        assert keel([*prod, "status", "--json"]) == 3
        assert "sync-shopify-dlq" in " ".join(json.loads(capsys.readouterr().out)["problems"])
        assert keel([*prod, "dlq", "peek", "sync-shopify-dlq", "--json"]) == 0
        letters = json.loads(capsys.readouterr().out)
        assert letters and all("auth" in json.dumps(x).lower() for x in letters), letters
        copy = tmp_path / "sync-shopify-dlq.json"
        assert keel([*prod, "dlq", "export", "sync-shopify-dlq", str(copy)]) == 0
        assert len(json.loads(copy.read_text())) == len(letters)
    finally:
        httpx.post(control, json={"requests": 0}, timeout=10)  # the token is put right
    capsys.readouterr()
    redrive = [*prod, "dlq", "redrive", "sync-shopify-dlq", "--yes", "--reason", "token put"]
    assert keel([*redrive, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["moved"] == len(letters)
    assert stack.wait_idle(60)
    assert stack.queue_depths()["sync-shopify-dlq"] == 0
    assert shows(stack, "shopify", product.variant_id) == 5  # 3 + 2 received: nothing lost
    _, inventory, _ = stores(stack)
    level = inventory.get(product.sku)
    assert level is not None and (level.on_hand, level.reserved) == (5, 0)  # nothing twice
