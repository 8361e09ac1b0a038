"""SQS queues from the wiring, each with its DLQ, plus where triggers park what they gave up on:
the on-failure queue of every stream trigger and the DLQ of every schedule.

All queues are SQS-SSE encrypted and refuse non-TLS requests. A queue's visibility timeout must
be at least six times its consumer's timeout (AWS guidance for Lambda consumers): the stack
refuses to build otherwise, rather than let a slow batch be delivered twice. A queue's `senders`
(principals outside the stack, e.g. Amazon's notification account) get `sqs:SendMessage` in its
resource policy and nothing else; queues without senders are reachable only through IAM grants to
Keel's own roles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import EnvConfig
from infra.nag import acknowledge
from infra.naming import construct_id
from shared.wiring import (
    Queue,
    QueueTrigger,
    ScheduleTrigger,
    StreamTrigger,
    Wiring,
    stream_failure_queue,
)

MAIN_QUEUE_RETENTION = Duration.days(4)
STREAM_FAILURE_RETENTION = Duration.days(14)
SCHEDULE_DLQ_RETENTION = Duration.days(14)
ACCOUNT_ID = re.compile(r"\d{12}")
SERVICE_PRINCIPAL = re.compile(r"[a-z0-9.-]+\.amazonaws\.com")


def schedule_dlq(schedule_name: str) -> str:
    """Where a schedule parks invocations it could not deliver after its retries."""
    return f"{schedule_name}-dlq"


def sender_principal(sender: str) -> iam.IPrincipal:
    """A wiring sender as an IAM principal: an account id or a service principal, nothing vaguer
    (no `*`, no ARN patterns), so a typo fails the synth instead of opening the queue."""
    if ACCOUNT_ID.fullmatch(sender):
        return iam.AccountPrincipal(sender)
    if SERVICE_PRINCIPAL.fullmatch(sender):
        return iam.ServicePrincipal(sender)
    raise ValueError(
        f"queue sender {sender!r}: expected a 12-digit account id or a service principal "
        "like 'sns.amazonaws.com'"
    )


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
            self._allow_senders(queue, spec)
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

        # EventBridge Scheduler parks invocations it could not deliver here (schedule name ->).
        self.schedule_dlqs: dict[str, sqs.Queue] = {}
        for function in wiring.functions:
            if isinstance(function.trigger, ScheduleTrigger):
                name = schedule_dlq(function.trigger.name)
                queue = sqs.Queue(
                    self,
                    construct_id(name),
                    queue_name=f"{prefix}-{name}",
                    retention_period=SCHEDULE_DLQ_RETENTION,
                    encryption=sqs.QueueEncryption.SQS_MANAGED,
                    enforce_ssl=True,
                )
                acknowledge(
                    queue,
                    "AwsSolutions-SQS3",
                    f"This queue is the dead-letter queue of the {function.trigger.name} "
                    f"EventBridge schedule (invoking {function.name}); cdk-nag only recognizes "
                    "SQS redrive and Lambda async DLQs. Nothing consumes it; it is alarmed like "
                    "every DLQ.",
                )
                self.schedule_dlqs[function.trigger.name] = queue

    @staticmethod
    def _allow_senders(queue: sqs.Queue, spec: Queue) -> None:
        """One statement per sender, the queue's sender actions only (SendMessage unless the sender
        documents more), on this queue only."""
        for sender in spec.senders:
            queue.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"Send{construct_id(sender.replace('.', '-'))}",
                    principals=[sender_principal(sender)],
                    actions=list(spec.sender_actions),
                    resources=[queue.queue_arn],
                    conditions=_confused_deputy_guard(queue, sender),
                )
            )

    def dead_letter_queues(self) -> dict[str, sqs.Queue]:
        """Every queue where failed work comes to rest, by a readable name (all get an alarm)."""
        named = {f"{name}-dlq": pair.dlq for name, pair in self.pairs.items()}
        named.update({f"{fn}-stream-failures": q for fn, q in self.stream_failures.items()})
        named.update({schedule_dlq(s): q for s, q in self.schedule_dlqs.items()})
        return named


def _confused_deputy_guard(queue: sqs.Queue, sender: str) -> dict[str, object] | None:
    """A service principal acts for every AWS account: only this stack's account may have it
    send here (an account principal is one account already)."""
    if ACCOUNT_ID.fullmatch(sender):
        return None
    return {"StringEquals": {"aws:SourceAccount": Stack.of(queue).account}}
