"""Environments differ only as the typed config says; prod keeps its data."""

from __future__ import annotations

import json

import pytest

from infra.config import CONFIGS, load
from shared.wiring import WIRING
from tests.infra.template import Template

pytestmark = pytest.mark.infra


RETAINED_KINDS = ("AWS::DynamoDB::Table", "AWS::SecretsManager::Secret", "AWS::S3::Bucket")


def test_prod_retains_its_data_and_has_termination_protection(prod: Template) -> None:
    assert prod.termination_protection
    for kind in RETAINED_KINDS:
        assert prod.of_type(kind), kind
        for logical_id, resource in prod.of_type(kind).items():
            assert resource["DeletionPolicy"] == "Retain", logical_id
            assert resource["UpdateReplacePolicy"] == "Retain", logical_id
    for logical_id in prod.tables().values():
        assert prod.props(logical_id)["DeletionProtectionEnabled"] is True
    assert not prod.of_type("Custom::S3AutoDeleteObjects")  # prod's objects stay


def test_dev_can_be_torn_down(dev: Template) -> None:
    assert not dev.termination_protection
    for kind in RETAINED_KINDS:
        for logical_id, resource in dev.of_type(kind).items():
            assert resource["DeletionPolicy"] == "Delete", logical_id
    # A non-empty bucket cannot be deleted: CDK's custom resource empties each one first.
    emptied = {
        dev.target(r["Properties"]["BucketName"])
        for r in dev.of_type("Custom::S3AutoDeleteObjects").values()
    }
    assert emptied == set(dev.buckets().values())


def test_buckets_are_the_wiring_private_encrypted_tls_only_and_never_expire(
    template: Template,
) -> None:
    buckets = template.buckets()
    assert len(template.of_type("AWS::S3::Bucket")) == len(WIRING.buckets)
    assert set(buckets) == {b.name for b in WIRING.buckets}
    tls_only, tls_12 = set(), set()
    cdk_provider_roles = set(template.auto_delete_providers().values())
    for policy in template.of_type("AWS::S3::BucketPolicy").values():
        bucket = template.target(policy["Properties"]["Bucket"])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            condition = statement.get("Condition")
            if statement["Effect"] == "Deny":
                if condition == {"Bool": {"aws:SecureTransport": "false"}}:
                    tls_only.add(bucket)
                if condition == {"NumericLessThan": {"s3:TlsVersion": 1.2}}:
                    tls_12.add(bucket)
            else:  # the policy grants nobody but CDK's bucket-emptying handler (dev, staging)
                principal = template.target(statement["Principal"]["AWS"])
                assert principal in cdk_provider_roles, statement
    for name, logical_id in buckets.items():
        props = template.props(logical_id)
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, name
        (encryption,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert encryption["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}, name
        assert "LifecycleConfiguration" not in props, name  # held deliveries refer to objects
        assert "BucketName" not in props, name  # a retained bucket never blocks a redeploy
        assert logical_id in tls_only and logical_id in tls_12, name


def test_tables_are_the_wiring_with_pitr_streams_and_ttl(template: Template) -> None:
    tables = template.tables()
    assert set(tables) == {t.name for t in WIRING.tables}
    for spec in WIRING.tables:
        props = template.props(tables[spec.name])
        keys = {k["KeyType"]: k["AttributeName"] for k in props["KeySchema"]}
        assert keys == {"HASH": spec.partition_key} | (
            {"RANGE": spec.sort_key} if spec.sort_key else {}
        )
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props.get("StreamSpecification") == (
            {"StreamViewType": spec.stream} if spec.stream else None
        )
        assert props.get("TimeToLiveSpecification") == (
            {"AttributeName": spec.ttl_attribute, "Enabled": True} if spec.ttl_attribute else None
        )


def test_secrets_are_created_empty_under_the_configured_names(template: Template) -> None:
    names = template.secrets()
    assert set(names) == set(template.config.channel_secret_names.values())
    expected_keys = {
        "shopify": {"webhook_secret"},
        "woocommerce": {"base_url", "consumer_key", "consumer_secret"},
    }
    for channel, secret_name in template.config.channel_secret_names.items():
        value = json.loads(template.props(names[secret_name])["SecretString"])
        assert set(value) == expected_keys[channel]
        assert set(value.values()) == {""}


def test_stack_name_and_log_level_follow_the_config(template: Template) -> None:
    config = template.config
    for logical_id in template.functions().values():
        variables = template.props(logical_id)["Environment"]["Variables"]
        assert variables["POWERTOOLS_LOG_LEVEL"] == config.log_level


def test_config_rejects_unknown_environments_and_bad_values() -> None:
    with pytest.raises(ValueError, match="unknown environment"):
        load("qa")
    with pytest.raises(ValueError, match="12-digit"):
        load("dev", account="12345")
    with pytest.raises(ValueError, match="e-mail"):
        load("dev", alarm_email="nobody")
    assert load("prod", account="123456789012").account == "123456789012"
    assert {c.name for c in CONFIGS.values()} == {"dev", "staging", "prod"}
