"""The operator role: exactly what `keel --env <env>` needs, and nothing else (#22).

Assumable by the account's IAM principals that are allowed to assume it (the account root
principal delegates that to IAM policies: grant `sts:AssumeRole` on this role to your
operators). Read: the stack's outputs, tables, queues, workflow executions, alarms. Change: stock
and listing rules (the tables' item writes), DLQ redrives (move tasks, or receive/send/delete
with `--limit`), workflow redrives (StartExecution), polls and resyncs (their functions), and
secrets (`keel secrets set`). Every action is named; no `*` action.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import ArnFormat, CfnOutput, Stack, Token
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.channel_secrets import ChannelSecrets
from infra.compute import Deployed
from infra.config import EnvConfig
from infra.nag import acknowledge
from infra.queues import Queues

TABLE_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
)
DLQ_ACTIONS = (
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:StartMessageMoveTask",
    "sqs:ListMessageMoveTasks",
    "sqs:CancelMessageMoveTask",
)
WORK_QUEUE_ACTIONS = ("sqs:GetQueueAttributes", "sqs:SendMessage")
EXECUTION_ACTIONS = (
    "states:DescribeExecution",
    "states:GetExecutionHistory",
    "states:RedriveExecution",
)
SECRET_ACTIONS = (
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:DescribeSecret",
)


class Operator(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: EnvConfig,
        tables: Mapping[str, dynamodb.Table],
        queues: Queues,
        secrets: ChannelSecrets,
        functions: Mapping[str, Deployed],
        state_machines: Mapping[str, sfn.StateMachine],
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.AccountRootPrincipal(),
            description=f"Keel {config.name}: what `keel --env {config.name}` needs",
        )

        def allow(actions: tuple[str, ...], resources: list[str]) -> None:
            self.role.add_to_principal_policy(
                iam.PolicyStatement(actions=list(actions), resources=resources)
            )

        allow(("cloudformation:DescribeStacks",), [stack.stack_id])
        allow(TABLE_ACTIONS, [t.table_arn for t in tables.values()])
        dead_letters = [q.queue_arn for q in queues.dead_letter_queues().values()]
        allow(DLQ_ACTIONS, dead_letters)
        allow(WORK_QUEUE_ACTIONS, [p.queue.queue_arn for p in queues.pairs.values()])
        allow(("states:ListExecutions", "states:StartExecution"),
              [m.state_machine_arn for m in state_machines.values()])  # fmt: skip
        executions = [
            stack.format_arn(
                service="states",
                resource="execution",
                resource_name=f"{m.state_machine_name}:*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            for m in state_machines.values()
        ]
        allow(EXECUTION_ACTIONS, executions)
        triggered = [
            d.function.function_arn
            for name, d in functions.items()
            if name == "resync" or name.startswith(("poll-", "reconcile-"))
        ]
        allow(("lambda:InvokeFunction",), triggered)
        every_secret = [
            *(s.secret_arn for s in secrets.secrets.values()),
            *(s.secret_arn for more in secrets.account_secrets.values() for s in more),
        ]
        allow(SECRET_ACTIONS, every_secret)
        alarms = stack.format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name=f"{config.resource_prefix}-*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        allow(("cloudwatch:DescribeAlarms",), [alarms])
        CfnOutput(
            stack,
            "OperatorRoleArn",
            value=self.role.role_arn,
            description="assume it (keel --env --profile <a profile with this role_arn>)",
        )
        # cdk-nag names each wildcard resource as the template spells it.
        account = "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
        where = f"arn:{stack.partition}:{{}}:{stack.region}:{account}"
        for machine in state_machines.values():
            logical = stack.get_logical_id(machine.node.default_child)  # type: ignore[arg-type]
            acknowledge(
                self.role,
                f"AwsSolutions-IAM5[Resource::{where.format('states')}:execution:"
                f"<{logical}.Name>:*]",
                "An execution ARN is its state machine's name plus the run's own: the wildcard "
                "is the runs of this environment's machine only; every action is named.",
            )
        acknowledge(
            self.role,
            f"AwsSolutions-IAM5[Resource::{where.format('cloudwatch')}:alarm:"
            f"{config.resource_prefix}-*]",
            "The environment's own alarms (keel-<env>-*), read by `keel status`; DescribeAlarms "
            "is the one action on them.",
        )
