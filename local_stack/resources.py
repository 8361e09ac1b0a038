"""Create the wiring's tables, queues and secrets in moto, and name them for the functions."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3

from shared.names import (
    env_name_for_account_secrets,
    env_name_for_bucket,
    env_name_for_dlq,
    env_name_for_queue,
    env_name_for_secret,
    env_name_for_state_machine,
    env_name_for_table,
)
from shared.wiring import (
    OVERSELL_POLICY_ENV,
    RAW_BODY_RETENTION_ENV,
    StreamTrigger,
    Wiring,
    stream_failure_queue,
)

# As dev's (infra/config.py, which the local stack does not import): local bodies are test data.
LOCAL_RAW_BODY_RETENTION_DAYS = 14


@dataclass
class Provisioned:
    prefix: str
    tables: dict[str, str] = field(default_factory=dict)  # logical -> physical name
    queue_urls: dict[str, str] = field(default_factory=dict)
    dlq_urls: dict[str, str] = field(default_factory=dict)
    queue_arns: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)  # logical -> secret name
    # channel -> the secrets of its further accounts (its first account's: `secrets`)
    account_secrets: dict[str, list[str]] = field(default_factory=dict)
    stream_arns: dict[str, str] = field(default_factory=dict)
    stream_failure_urls: dict[str, str] = field(default_factory=dict)  # by function name
    buckets: dict[str, str] = field(default_factory=dict)
    state_machines: dict[str, str] = field(default_factory=dict)  # logical name -> ARN
    raw_body_retention_days: int = 0
    oversell_policy: dict[str, str] = field(default_factory=dict)

    def function_env(self) -> dict[str, str]:
        """What the functions read. Locally every function sees all of it."""
        env: dict[str, str] = {
            RAW_BODY_RETENTION_ENV: str(self.raw_body_retention_days),
            OVERSELL_POLICY_ENV: json.dumps(self.oversell_policy, sort_keys=True),
        }
        for name, physical in self.tables.items():
            env[env_name_for_table(name)] = physical
        for name, url in self.queue_urls.items():
            env[env_name_for_queue(name)] = url
        for name, url in self.dlq_urls.items():
            env[env_name_for_dlq(name)] = url
        for name, secret in self.secrets.items():
            env[env_name_for_secret(name)] = secret
        for name, more in self.account_secrets.items():
            env[env_name_for_account_secrets(name)] = json.dumps(more)
        for name, bucket in self.buckets.items():
            env[env_name_for_bucket(name)] = bucket
        for name, arn in self.state_machines.items():
            env[env_name_for_state_machine(name)] = arn
        return env


def provision(
    wiring: Wiring,
    prefix: str,
    endpoint: str | None,
    secret_values: dict[str, dict[str, Any]],
    visibility_timeout_s: int | None = None,
    raw_body_retention_days: int = LOCAL_RAW_BODY_RETENTION_DAYS,
    oversell_policy: dict[str, str] | None = None,
    more_accounts: dict[str, list[dict[str, Any]]] | None = None,
) -> Provisioned:
    """`endpoint` None means boto3's default (in tests: moto's in-process mock).
    `visibility_timeout_s` overrides the wiring's, so local retries come back in seconds.
    TTLs and the raw bodies' expiry are declared as in AWS (moto records them, and does not
    delete anything). `more_accounts`: channel -> the secret values of its further accounts,
    each its own secret (`<prefix>/<channel>/<n>`), as infra names them from the config."""
    session = boto3.session.Session()
    db = session.client("dynamodb", endpoint_url=endpoint)
    sqs = session.client("sqs", endpoint_url=endpoint)
    sm = session.client("secretsmanager", endpoint_url=endpoint)
    s3 = session.client("s3", endpoint_url=endpoint)
    out = Provisioned(
        prefix=prefix,
        raw_body_retention_days=raw_body_retention_days,
        oversell_policy=dict(oversell_policy or {}),
    )

    for bucket in wiring.buckets:
        physical = f"{prefix}-{bucket.name}".lower()
        s3.create_bucket(
            Bucket=physical,
            CreateBucketConfiguration={"LocationConstraint": session.region_name or "eu-west-1"},
        )
        if bucket.holds_raw_bodies:
            s3.put_bucket_lifecycle_configuration(
                Bucket=physical,
                LifecycleConfiguration={
                    "Rules": [
                        {
                            "ID": "expire-raw-bodies",
                            "Status": "Enabled",
                            "Filter": {"Prefix": ""},
                            "Expiration": {"Days": raw_body_retention_days},
                        }
                    ]
                },
            )
        out.buckets[bucket.name] = physical

    for table in wiring.tables:
        physical = f"{prefix}-{table.name}"
        keys: list[dict[str, Any]] = [{"AttributeName": table.partition_key, "KeyType": "HASH"}]
        attrs = [{"AttributeName": table.partition_key, "AttributeType": "S"}]
        if table.sort_key:
            keys.append({"AttributeName": table.sort_key, "KeyType": "RANGE"})
            attrs.append({"AttributeName": table.sort_key, "AttributeType": "S"})
        args: dict[str, Any] = {
            "TableName": physical,
            "KeySchema": keys,
            "AttributeDefinitions": attrs,
            "BillingMode": "PAY_PER_REQUEST",
        }
        if table.stream:
            args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": table.stream}
        created = db.create_table(**args)["TableDescription"]
        if table.ttl_attribute:
            db.update_time_to_live(
                TableName=physical,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
            )
        out.tables[table.name] = physical
        if table.stream:
            out.stream_arns[table.name] = created["LatestStreamArn"]

    for queue in wiring.queues:
        dlq_url = sqs.create_queue(
            QueueName=f"{prefix}-{queue.name}-dlq",
            Attributes={"MessageRetentionPeriod": str(queue.dlq_retention_days * 86400)},
        )["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        timeout = visibility_timeout_s or queue.visibility_timeout_s
        url = sqs.create_queue(
            QueueName=f"{prefix}-{queue.name}",
            Attributes={
                "VisibilityTimeout": str(timeout),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": queue.max_receive_count}
                ),
            },
        )["QueueUrl"]
        out.queue_urls[queue.name] = url
        out.dlq_urls[queue.name] = dlq_url
        out.queue_arns[queue.name] = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]

    for function in wiring.functions:
        if isinstance(function.trigger, StreamTrigger):
            out.stream_failure_urls[function.name] = sqs.create_queue(
                QueueName=f"{prefix}-{stream_failure_queue(function.name)}"
            )["QueueUrl"]

    for name in (*wiring.secrets, *wiring.carriers):
        secret_name = f"{prefix}/{name}"
        sm.create_secret(Name=secret_name, SecretString=json.dumps(secret_values.get(name, {})))
        out.secrets[name] = secret_name
    for name, values in (more_accounts or {}).items():
        for n, value in enumerate(values, 2):
            secret_name = f"{prefix}/{name}/{n}"
            sm.create_secret(Name=secret_name, SecretString=json.dumps(value))
            out.account_secrets.setdefault(name, []).append(secret_name)
    return out


def create_state_machines(
    wiring: Wiring, prefix: str, function_arns: dict[str, str], sfn: Any, iam: Any
) -> dict[str, str]:
    """The wiring's state machines in moto, from their one ASL file, each task placeholder
    pointing at its function (moto runs them in-process: see lambda_runtime). Logical -> ARN."""
    from shared.wiring import ROOT

    role = iam.create_role(
        RoleName=f"{prefix}-states",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "states.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    arns = {}
    for machine in wiring.state_machines:
        text = (ROOT / machine.definition).read_text()
        for placeholder, function in machine.tasks.items():
            text = text.replace("${" + placeholder + "}", function_arns[function])
        arns[machine.name] = sfn.create_state_machine(
            name=f"{prefix}-{machine.name}", definition=text, roleArn=role, type="STANDARD"
        )["stateMachineArn"]
    return arns
