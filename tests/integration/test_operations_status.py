"""`keel status` on moto: depths, DLQs, workflows, held orders and polls in one look, and the
problems in it, each naming its command (exit 3)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from keel_cli import status as status_cli
from local_stack.resources import Provisioned
from shared.dead_letters import send_dead_letter
from shared.runtime import Runtime
from shared.stores.orders import HeldDelivery, OrderStore
from shared.workflow import STATE_MACHINE

PASS = '{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}'


@pytest.fixture
def machine(deployed: Provisioned) -> str:
    sfn = boto3.client("stepfunctions")
    role = "arn:aws:iam::123456789012:role/keel-workflow"
    return str(sfn.create_state_machine(name="w", definition=PASS, roleArn=role)["stateMachineArn"])


def run(deployed: Provisioned, machine: str, capsys: pytest.CaptureFixture[str]) -> Any:
    state = {
        "queues": deployed.queue_urls,
        "dead_letter_queues": deployed.dlq_urls,
        "state_machines": {STATE_MACHINE: machine},
        "accounts": {"woocommerce": "shop.example", "etsy": "x"},
    }
    root = argparse.ArgumentParser()
    root.add_argument("--state-file", default="-")
    env = {"ORDERS_TABLE": deployed.tables["orders"]}
    status_cli.register(root.add_subparsers(), lambda _: state, lambda _: Runtime(env=env))
    args = root.parse_args(["status", "--json"])
    code = args.func(args)
    return code, json.loads(capsys.readouterr().out)


def test_a_quiet_stack_needs_nobody(
    deployed: Provisioned, machine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, status = run(deployed, machine, capsys)
    assert code == 0 and status["problems"] == []
    assert {q["name"] for q in status["queues"]} == set(deployed.queue_urls)
    assert status["workflows_failed"] == [] and status["workflows_running"] == 0
    assert status["last_polls"] == {"woocommerce": None}  # etsy: no such channel


def test_what_needs_a_person_is_named_with_its_command(
    deployed: Provisioned, machine: str, sqs: Any, db: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    send_dead_letter(sqs, deployed.dlq_urls["sync-bol"], "{}", "PermanentError", "gone")
    orders = OrderStore(deployed.tables["orders"], db)
    orders.keep_held_delivery(
        HeldDelivery(
            "shopify", "d-1", "orders/create", "unparseable", "{", "2026-12-05", expires_at=2**31
        )
    )
    orders.advance_watermark("woocommerce", "shop.example", datetime(2026, 12, 5, tzinfo=UTC))
    code, status = run(deployed, machine, capsys)
    assert code == status_cli.PROBLEMS_FOUND
    assert status["problems"] == [
        "sync-bol-dlq holds 1 message(s): keel dlq peek sync-bol-dlq",
        "1 delivery(ies) held unreadable: keel orders list",
    ]
    assert status["last_polls"] == {"woocommerce": "2026-12-05T00:00:00+00:00"}


def test_watch_looks_again_until_ctrl_c(
    deployed: Provisioned, machine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    state = {
        "queues": deployed.queue_urls,
        "dead_letter_queues": deployed.dlq_urls,
        "state_machines": {STATE_MACHINE: machine},
    }
    env = {"ORDERS_TABLE": deployed.tables["orders"]}
    looks: list[float] = []

    def sleep(seconds: float) -> None:
        looks.append(seconds)
        if len(looks) == 3:
            raise KeyboardInterrupt

    args = argparse.Namespace(state_file="-", json=False, watch=0.5)
    code = status_cli.cmd_status(args, lambda _: state, lambda _: Runtime(env=env), sleep)
    assert code == 0 and looks == [0.5, 0.5, 0.5]
    assert capsys.readouterr().out.count("Nothing needs a person.") == 3
