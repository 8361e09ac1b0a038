"""DynamoDB tables, one per wiring `Table`: on-demand, PITR, and the stream / TTL it declares."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Tags
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra.config import EnvConfig
from infra.naming import construct_id
from shared.wiring import Wiring

TAG_TABLE = "keel:table"  # logical name, so tests and operators can map a table to the wiring


class Storage(Construct):
    """Physical names are left to CloudFormation: a retained prod table never blocks a redeploy."""

    def __init__(self, scope: Construct, id: str, *, wiring: Wiring, config: EnvConfig) -> None:
        super().__init__(scope, id)
        self.tables: dict[str, dynamodb.Table] = {}
        for spec in wiring.tables:
            table = dynamodb.Table(
                self,
                construct_id(spec.name),
                partition_key=dynamodb.Attribute(
                    name=spec.partition_key, type=dynamodb.AttributeType.STRING
                ),
                sort_key=(
                    dynamodb.Attribute(name=spec.sort_key, type=dynamodb.AttributeType.STRING)
                    if spec.sort_key
                    else None
                ),
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                stream=dynamodb.StreamViewType[spec.stream] if spec.stream else None,
                time_to_live_attribute=spec.ttl_attribute,
                removal_policy=(
                    RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY
                ),
                deletion_protection=config.retain_data,
            )
            Tags.of(table).add(TAG_TABLE, spec.name)
            self.tables[spec.name] = table
