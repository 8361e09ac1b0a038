"""One way to find a stack's resources (#22): the outputs a deployed stack publishes and the
local stack writes, read back by wiring name."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from keel_cli.targets import stack_outputs
from shared.stack_outputs import outputs_of, target_from_outputs
from shared.wiring import WIRING, stream_failure_queue


def a_stack() -> dict[str, object]:
    streams = [f.name for f in WIRING.functions if type(f.trigger).__name__ == "StreamTrigger"]
    return {
        "region": "eu-west-1",
        "tables": {t.name: f"keel-prod-{t.name}" for t in WIRING.tables},
        "queues": {q.name: f"https://sqs/{q.name}" for q in WIRING.queues},
        "dead_letter_queues": {
            **{q.name: f"https://sqs/{q.name}-dlq" for q in WIRING.queues},
            **{stream_failure_queue(f): f"https://sqs/{f}-sf" for f in streams},
        },
        "state_machines": {m.name: f"arn:sfn:{m.name}" for m in WIRING.state_machines},
        "functions": {f.name: f"keel-prod-{f.name}" for f in WIRING.functions},
        "secrets": {s: f"keel/prod/{s}" for s in (*WIRING.secrets, *WIRING.carriers)},
        "account_secrets": {"shopify": ["keel/prod/shopify/outlet"]},
        "buckets": {b.name: f"keel-prod-{b.name}" for b in WIRING.buckets},
    }


def test_what_a_stack_publishes_reads_back_as_the_same_resources() -> None:
    stack = a_stack()
    assert target_from_outputs(outputs_of(stack)) == stack


def test_a_stack_from_an_older_keel_names_the_output_it_lacks() -> None:
    outputs = outputs_of(a_stack())
    del outputs["TableCatalogName"]
    with pytest.raises(KeyError, match="no output 'TableCatalogName': deploy this version"):
        target_from_outputs(outputs)


def test_outputs_are_read_from_describe_stacks_as_cloudformation_answers() -> None:
    cloudformation = boto3.client("cloudformation", region_name="eu-west-1")
    with Stubber(cloudformation) as stub:  # checks both sides against the service model
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "Keel-prod",
                        "CreationTime": "2026-12-01T00:00:00Z",
                        "StackStatus": "UPDATE_COMPLETE",
                        "Outputs": [{"OutputKey": "Region", "OutputValue": "eu-west-1"}],
                    }
                ]
            },
            {"StackName": "Keel-prod"},
        )
        assert stack_outputs(cloudformation, "Keel-prod") == {"Region": "eu-west-1"}
