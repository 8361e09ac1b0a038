"""SQS queues from the wiring, each with its DLQ, plus the on-failure queue of every stream trigger.

All queues are SQS-SSE encrypted and refuse non-TLS requests. A queue's visibility timeout must
be at least six times its consumer's timeout (AWS guidance for Lambda consumers): the stack
refuses to build otherwise, rather than let a slow batch be delivered twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import EnvConfig
from infra.nag import acknowledge
from infra.naming import construct_id
from shared.wiring import Queue, QueueTrigger, StreamTrigger, Wiring, stream_failure_queue

MAIN_QUEUE_RETENTION = Duration.days(4)
STREAM_FAILURE_RETENTION = Duration.days(14)


@dataclass(frozen=True)
class QueuePair:
    spec: Queue
    queue: sqs.Queue
    dlq: sqs.Queue


def check_visibility_timeouts(wiring: Wiring) -> None:
    for function in wiring.functions:
        if isinstance(function.trigger, QueueTrigger):
            queue = wiring.queue(function.trigger.queue)
            if queue.visibility_timeout_s < 6 * function.timeout_s:
                raise ValueError(
                    f"queue {queue.name!r}: visibility timeout {queue.visibility_timeout_s}s is "
                    f"below 6x the {function.timeout_s}s timeout of its consumer {function.name!r}"
                )


class Queues(Construct):
    def __init__(self, scope: Construct, id: str, *, wiring: Wiring, config: EnvConfig) -> None:
        super().__init__(scope, id)
        check_visibility_timeouts(wiring)
        prefix = config.resource_prefix
        self.pairs: dict[str, QueuePair] = {}
        for spec in wiring.queues:
            cid = construct_id(spec.name)
            dlq = sqs.Queue(
                self,
                f"{cid}Dlq",
                queue_name=f"{prefix}-{spec.name}-dlq",
                retention_period=Duration.days(spec.dlq_retention_days),
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
            )
            queue = sqs.Queue(
                self,
                cid,
                queue_name=f"{prefix}-{spec.name}",
                visibility_timeout=Duration.seconds(spec.visibility_timeout_s),
                retention_period=MAIN_QUEUE_RETENTION,
                dead_letter_queue=sqs.DeadLetterQueue(
                    queue=dlq, max_receive_count=spec.max_receive_count
                ),
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
            )
            self.pairs[spec.name] = QueuePair(spec=spec, queue=queue, dlq=dlq)

        # Stream event sources park batches they gave up on here (the stream's DLQ).
        self.stream_failures: dict[str, sqs.Queue] = {}
        for function in wiring.functions:
            if isinstance(function.trigger, StreamTrigger):
                queue = sqs.Queue(
                    self,
                    f"{construct_id(function.name)}StreamFailures",
                    queue_name=f"{prefix}-{stream_failure_queue(function.name)}",
                    retention_period=STREAM_FAILURE_RETENTION,
                    encryption=sqs.QueueEncryption.SQS_MANAGED,
                    enforce_ssl=True,
                )
                acknowledge(
                    queue,
                    "AwsSolutions-SQS3",
                    f"This queue is the on-failure destination (the DLQ) of {function.name}'s "
                    "DynamoDB stream event source mapping; cdk-nag only recognizes SQS redrive "
                    "and Lambda async DLQs. Nothing consumes it; it is alarmed like every DLQ.",
                )
                self.stream_failures[function.name] = queue

    def dead_letter_queues(self) -> dict[str, sqs.Queue]:
        """Every queue where failed work comes to rest, by a readable name (all get an alarm)."""
        named = {f"{name}-dlq": pair.dlq for name, pair in self.pairs.items()}
        named.update({f"{fn}-stream-failures": q for fn, q in self.stream_failures.items()})
        return named
