"""Storage from the wiring: DynamoDB tables (`Table`) and S3 buckets (`Bucket`).

Tables: on-demand, PITR, and the stream / TTL each declares. Buckets hold what does not fit a
message or an item (webhook bodies over the SQS inline limit, held deliveries over DynamoDB's
400 KB): private (all public access blocked, bucket-owner-enforced ownership), TLS 1.2+ only,
SSE-S3, no versioning. A bucket of raw channel bodies (personal data) expires its objects after
the environment's `raw_body_retention_days`, the same retention its held deliveries' TTL has
(docs/decisions.md, 2026-11-28 data and privacy).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Tags
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import EnvConfig
from infra.nag import acknowledge
from infra.naming import construct_id
from shared.wiring import Wiring

TAG_TABLE = "keel:table"  # logical name, so tests and operators can map a table to the wiring
TAG_BUCKET = "keel:bucket"  # likewise for buckets


class Storage(Construct):
    """Physical names are left to CloudFormation: a retained prod table or bucket never blocks a
    redeploy."""

    def __init__(self, scope: Construct, id: str, *, wiring: Wiring, config: EnvConfig) -> None:
        super().__init__(scope, id)
        removal = RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY
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
                removal_policy=removal,
                deletion_protection=config.retain_data,
            )
            Tags.of(table).add(TAG_TABLE, spec.name)
            self.tables[spec.name] = table

        self.buckets: dict[str, s3.Bucket] = {}
        for bucket_spec in wiring.buckets:
            bucket = s3.Bucket(
                self,
                f"{construct_id(bucket_spec.name)}Bucket",
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
                encryption=s3.BucketEncryption.S3_MANAGED,
                enforce_ssl=True,
                minimum_tls_version=1.2,
                versioned=False,
                removal_policy=removal,
                # A throwaway environment empties its buckets on teardown (a custom resource);
                # prod keeps bucket and objects, like its tables.
                auto_delete_objects=not config.retain_data,
                lifecycle_rules=(
                    [
                        s3.LifecycleRule(
                            id="expire-raw-bodies",
                            expiration=Duration.days(config.raw_body_retention_days),
                        )
                    ]
                    if bucket_spec.holds_raw_bodies
                    else None
                ),
            )
            Tags.of(bucket).add(TAG_BUCKET, bucket_spec.name)
            acknowledge(
                bucket,
                "AwsSolutions-S1",
                f"The {bucket_spec.name} bucket is private to Keel's own function roles: "
                "public access blocked, TLS only, and each function granted only GetObject or "
                "PutObject on its objects. The functions log each delivery they store; "
                "request-level audit, if ever needed, is CloudTrail S3 data events on this "
                "bucket. A second log bucket (itself unlogged) would add cost and a resource to "
                "retain, not a control.",
            )
            self.buckets[bucket_spec.name] = bucket
