"""`keel dlq list | peek` on moto: every DLQ's depth, and each dead letter with why it failed,
read without consuming it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from keel_cli import dlq
from local_stack.resources import Provisioned
from shared.dead_letters import send_dead_letter
from shared.runtime import Runtime
from shared.services.dead_letter_queues import counts, peek


def dead_letters(deployed: Provisioned, sqs: Any) -> str:
    url = deployed.dlq_urls["sync-bol"]
    send_dead_letter(sqs, url, '{"sku": "MUG"}', "PermanentError", "offer 9 is gone", sku="MUG")
    sqs.send_message(QueueUrl=url, MessageBody='{"moved": "by the redrive policy"}')
    return url


def test_a_peek_says_why_each_failed_and_leaves_every_message_on_its_queue(
    deployed: Provisioned, sqs: Any
) -> None:
    url = dead_letters(deployed, sqs)
    first = peek(sqs, url, limit=10)
    assert [(d.error_class, d.error_message) for d in first] == [
        ("PermanentError", "offer 9 is gone"),
        ("-", "no reason recorded (moved by the redrive policy)"),
    ]
    assert first[0].attributes == {"sku": "MUG"} and first[0].body == '{"sku": "MUG"}'
    again = peek(sqs, url, limit=10)
    assert [d.message_id for d in again] == [d.message_id for d in first]  # none consumed
    assert [d.message_id for d in peek(sqs, url, limit=1)] == [first[0].message_id]
    (row,) = counts(sqs, {"sync-bol-dlq": url})
    assert (row.name, row.messages) == ("sync-bol-dlq", 2)


def run(argv: list[str], deployed: Provisioned, capsys: pytest.CaptureFixture[str]) -> Any:
    state = {"queues": deployed.queue_urls, "dead_letter_queues": deployed.dlq_urls}
    root = argparse.ArgumentParser()
    root.add_argument("--state-file", default="-")
    env = {"ORDERS_TABLE": deployed.tables["orders"]}  # its audit trail
    dlq.register(root.add_subparsers(), lambda _: state, lambda _: Runtime(env=env))
    args = root.parse_args(argv)
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, json.loads(out) if "--json" in argv and code == 0 else out + err


def test_the_cli_lists_and_peeks_as_json(
    deployed: Provisioned, sqs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    dead_letters(deployed, sqs)
    code, rows = run(["dlq", "list", "--json"], deployed, capsys)
    assert code == 0
    assert {r["name"]: r["messages"] for r in rows}["sync-bol-dlq"] == 2
    assert all(set(r) == {"name", "messages", "in_flight"} for r in rows)
    code, letters = run(["dlq", "peek", "sync-bol-dlq", "--json"], deployed, capsys)
    assert code == 0 and [d["error_class"] for d in letters] == ["PermanentError", "-"]
    assert set(letters[0]) == {
        "message_id", "error_class", "error_message", "receive_count", "sent_at", "body",
        "attributes",
    }  # fmt: skip
    code, said = run(["dlq", "peek", "no-such-dlq"], deployed, capsys)
    assert code == 2 and "No DLQ 'no-such-dlq'" in said and "sync-bol-dlq" in said


def test_a_long_queue_is_read_whole_once_and_export_copies_it_without_consuming(
    deployed: Provisioned, sqs: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = deployed.dlq_urls["ingest"]
    for n in range(25):
        send_dead_letter(sqs, url, f"delivery {n}", "RuntimeError", f"failure {n}")
    letters = peek(sqs, url, limit=100)
    assert sorted(d.body for d in letters) == sorted(f"delivery {n}" for n in range(25))
    assert counts(sqs, {"ingest-dlq": url})[0].messages == 25  # every one visible again
    target = tmp_path / "ingest-dlq.json"
    code, summary = run(["dlq", "export", "ingest-dlq", str(target), "--json"], deployed, capsys)
    assert code == 0 and summary == {"dlq": "ingest-dlq", "file": str(target), "messages": 25}
    assert len(json.loads(target.read_text())) == 25
    code, said = run(["dlq", "export", "ingest-dlq", str(target)], deployed, capsys)
    assert code == 2 and "not overwritten" in said


@pytest.fixture
def move_tasks() -> None:
    """The local stack's StartMessageMoveTask / ListMessageMoveTasks (moto has neither)."""
    from local_stack import moto_patches

    moto_patches.message_move_tasks()


def test_a_redrive_sends_every_message_back_to_its_queue_as_a_new_one(
    deployed: Provisioned, sqs: Any, capsys: pytest.CaptureFixture[str], move_tasks: None
) -> None:
    dead_letters(deployed, sqs)
    code, dry = run(["dlq", "redrive", "sync-bol-dlq", "--dry-run", "--json"], deployed, capsys)
    assert code == 0 and dry["would_move"] == 2 and dry["moved"] == 0
    code, done = run(["dlq", "redrive", "sync-bol-dlq", "--json"], deployed, capsys)
    assert (code, done["moved"], done["status"]) == (0, 2, "COMPLETED")
    back = sqs.receive_message(
        QueueUrl=deployed.queue_urls["sync-bol"], MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
    )["Messages"]  # fmt: skip
    assert sorted(m["Body"] for m in back) == ['{"moved": "by the redrive policy"}',
                                               '{"sku": "MUG"}']  # fmt: skip
    assert counts(sqs, {"d": deployed.dlq_urls["sync-bol"]})[0].messages == 0


def test_a_bounded_redrive_moves_at_most_its_limit(
    deployed: Provisioned, sqs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    url = deployed.dlq_urls["ingest"]
    for n in range(5):
        send_dead_letter(sqs, url, f"delivery {n}", "RuntimeError", "store on fire")
    code, done = run(["dlq", "redrive", "ingest-dlq", "--limit", "3", "--json"], deployed, capsys)
    assert (code, done["moved"], done["status"]) == (0, 3, "MOVED")
    assert counts(sqs, {"d": url})[0].messages == 2


def test_a_streams_failure_queue_is_not_redriven_as_messages(
    deployed: Provisioned, capsys: pytest.CaptureFixture[str]
) -> None:
    state = {
        "queues": deployed.queue_urls,
        "dead_letter_queues": {"relay-stream-failures": "https://sqs/relay-stream-failures"},
    }
    root = argparse.ArgumentParser()
    root.add_argument("--state-file", default="-")
    dlq.register(root.add_subparsers(), lambda _: state, lambda _: Runtime())
    args = root.parse_args(["dlq", "redrive", "relay-stream-failures"])
    assert args.func(args) == 2
    assert "stream batches that failed" in capsys.readouterr().err
