"""Carrying out an outbound plan on its queue: what is queued before anything is deleted, and
what comes back when a step of it fails."""

from __future__ import annotations

from typing import Any

import pytest

from shared.queue_batch import carry_out
from shared.services.outbound import BatchPlan, DeadLettered, Finished, RetryLater, Send


class FakeSqs:
    def __init__(self, refuse: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.refuse = refuse

    def send_message(self, **kwargs: Any) -> None:
        if kwargs["MessageBody"] in self.refuse:
            raise ConnectionError("SQS unreachable")
        self.calls.append(("send", kwargs))

    def change_message_visibility(self, **kwargs: Any) -> None:
        self.calls.append(("visibility", kwargs))


def records(*ids: str) -> list[dict[str, Any]]:
    return [{"messageId": i, "body": f"body-{i}", "receiptHandle": f"rh-{i}"} for i in ids]


def run(plan: BatchPlan, sqs: FakeSqs, *ids: str) -> list[str]:
    warnings: list[str] = []
    response = carry_out(plan, records(*ids), sqs, "q", "dlq", lambda m, _: warnings.append(m))
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def test_sends_go_first_then_each_fate_in_the_batchs_order() -> None:
    plan = BatchPlan(
        fates={
            "a": Finished("x"),
            "b": RetryLater("busy", 30),
            "c": DeadLettered("no", "E", {"sku": "S"}),
        },
        sends=[Send("check", 5, "a")],
    )
    sqs = FakeSqs()
    assert run(plan, sqs, "a", "b", "c") == ["b"]
    kinds = [(kind, call.get("QueueUrl"), call.get("MessageBody")) for kind, call in sqs.calls]
    assert kinds == [("send", "q", "check"), ("visibility", "q", None), ("send", "dlq", "body-c")]
    assert sqs.calls[1][1]["VisibilityTimeout"] == 30
    attributes = sqs.calls[2][1]["MessageAttributes"]
    assert attributes["error_class"]["StringValue"] == "E"
    assert attributes["error_message"]["StringValue"] == "no"
    assert attributes["sku"]["StringValue"] == "S"


def test_a_record_whose_follow_up_was_not_queued_comes_back_instead_of_being_deleted() -> None:
    plan = BatchPlan(
        fates={"a": Finished("checking"), "b": Finished("done")}, sends=[Send("lost", 0, "a")]
    )
    assert run(plan, FakeSqs(refuse={"lost"}), "a", "b") == ["a"]


def test_a_follow_up_of_no_record_that_fails_fails_the_whole_batch() -> None:
    plan = BatchPlan(fates={"a": Finished("done")}, sends=[Send("held", 60)])
    with pytest.raises(ConnectionError):
        run(plan, FakeSqs(refuse={"held"}), "a")


def test_a_record_without_a_fate_or_whose_dead_letter_failed_comes_back() -> None:
    plan = BatchPlan(fates={"b": DeadLettered("bad")})
    assert run(plan, FakeSqs(refuse={"body-b"}), "a", "b") == ["a", "b"]


def test_the_delay_is_clamped_to_what_sqs_accepts() -> None:
    sqs = FakeSqs()
    run(
        BatchPlan(fates={"a": Finished("x")}, sends=[Send("s", 5000, "a"), Send("t", -3)]), sqs, "a"
    )
    assert [c["DelaySeconds"] for _, c in sqs.calls] == [900, 0]
