"""The wiring's state machines (Standard): each defined by its one ASL file, with its task
placeholders filled by the task functions' ARNs; logging ALL and X-Ray tracing; the functions
that start executions told the ARN and allowed to start them, and the ones that answer task
tokens allowed to answer (success, failure, heartbeat) and nothing else. Failed, timed-out and
aborted executions are alarmed by infra.observability."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.compute import RETENTION, Deployed
from infra.config import EnvConfig
from infra.nag import acknowledge
from infra.naming import construct_id, state_machine_arn
from shared.wiring import ROOT, Wiring


class Workflows(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        wiring: Wiring,
        config: EnvConfig,
        functions: Mapping[str, Deployed],
    ) -> None:
        super().__init__(scope, id)
        self.state_machines: dict[str, sfn.StateMachine] = {}
        for machine in wiring.state_machines:
            cid = construct_id(machine.name)
            log_group = logs.LogGroup(
                self,
                f"{cid}Logs",
                # Step Functions' vended logs need a group under /aws/vendedlogs/.
                log_group_name=f"/aws/vendedlogs/states/{config.resource_prefix}-{machine.name}",
                retention=RETENTION[config.log_retention_days],
                removal_policy=RemovalPolicy.RETAIN
                if config.retain_data
                else RemovalPolicy.DESTROY,
            )
            name = f"{config.resource_prefix}-{machine.name}"
            state_machine = sfn.StateMachine(
                self,
                cid,
                state_machine_name=name,
                state_machine_type=sfn.StateMachineType.STANDARD,
                definition_body=sfn.DefinitionBody.from_file(str(ROOT / machine.definition)),
                definition_substitutions={
                    placeholder: functions[name].function.function_arn
                    for placeholder, name in machine.tasks.items()
                },
                logs=sfn.LogOptions(
                    destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True
                ),
                tracing_enabled=True,
            )
            for task in machine.tasks.values():
                functions[task].function.grant_invoke(state_machine)
            acknowledge(
                state_machine,
                "AwsSolutions-IAM5[Resource::*]",
                "The state machine's role: X-Ray and CloudWatch Logs delivery (vended logs) "
                "actions support no resource-level permissions, so IAM only accepts '*'.",
            )
            for task in machine.tasks.values():
                logical = Stack.of(self).get_logical_id(
                    functions[task].function.node.default_child  # type: ignore[arg-type]
                )
                acknowledge(
                    state_machine,
                    f"AwsSolutions-IAM5[Resource::<{logical}.Arn>:*]",
                    f"lambda:InvokeFunction on {task}'s versions and aliases (<arn>:*), as CDK's "
                    "grant_invoke writes it; no other function is named.",
                )
            arn = state_machine_arn(self, config.resource_prefix, machine.name)
            for deployed in functions.values():
                spec = deployed.spec
                if machine.name in spec.starts:  # told the ARN by infra.compute
                    deployed.role.add_to_principal_policy(
                        iam.PolicyStatement(actions=["states:StartExecution"], resources=[arn])
                    )
                if machine.name in spec.answers:
                    deployed.role.add_to_principal_policy(
                        iam.PolicyStatement(
                            actions=[
                                "states:SendTaskSuccess",
                                "states:SendTaskFailure",
                                "states:SendTaskHeartbeat",
                            ],
                            resources=[arn],
                        )
                    )
            self.state_machines[machine.name] = state_machine
