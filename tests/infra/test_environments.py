"""Environments differ only as the typed config says; prod keeps its data."""

from __future__ import annotations

import json
from dataclasses import replace
from types import MappingProxyType

import pytest
from pydantic import BaseModel

from infra.channel_secrets import placeholder, placeholder_fields
from infra.config import CONFIGS, load
from shared.channels.registry import BY_NAME, CHANNELS
from shared.channels.spec import load as load_path
from shared.wiring import RAW_BODY_RETENTION_ENV, WIRING
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


def test_buckets_are_the_wiring_private_encrypted_and_tls_only(template: Template) -> None:
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


def test_raw_bodies_expire_after_the_environments_retention(template: Template) -> None:
    """Personal data in raw bodies: the bucket's objects and the held deliveries' items go after
    the configured days, and the function that keeps them is told those days."""
    days = template.config.raw_body_retention_days
    for bucket in WIRING.buckets:
        props = template.props(template.buckets()[bucket.name])
        rules = props.get("LifecycleConfiguration", {}).get("Rules", [])
        expected = [{"Id": "expire-raw-bodies", "ExpirationInDays": days, "Status": "Enabled"}]
        assert rules == (expected if bucket.holds_raw_bodies else []), bucket.name
    orders = template.props(template.tables()["orders"])
    assert orders["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    functions = template.functions()
    for spec in WIRING.functions:
        env = template.props(functions[spec.name])["Environment"]["Variables"]
        told = env.get(RAW_BODY_RETENTION_ENV)
        assert told == (str(days) if spec.keeps_raw_bodies else None), spec.name
    assert any(f.keeps_raw_bodies for f in WIRING.functions)


def test_environments_keep_raw_bodies_for_their_own_time() -> None:
    """Different per environment, and never shorter than a delivery can wait in the DLQ."""
    days = {name: c.raw_body_retention_days for name, c in CONFIGS.items()}
    assert days == {"dev": 14, "staging": 14, "prod": 30}
    with pytest.raises(ValueError, match="raw_body_retention_days 7"):
        replace(CONFIGS["dev"], raw_body_retention_days=7)


def test_secrets_are_created_empty_under_the_configured_names(template: Template) -> None:
    names = template.secrets()
    assert set(names) == set(template.config.channel_secret_names.values())
    for channel, secret_name in template.config.channel_secret_names.items():
        value = json.loads(template.props(names[secret_name])["SecretString"])
        # No field of either schema has a value (a list field starts empty).
        assert all(v in ("", []) for v in value.values()), channel


def test_secret_placeholders_are_the_schema_fields(template: Template) -> None:
    """The placeholder is every field of the channel's secret model, nothing hand-kept."""
    names = template.secrets()
    for channel in CHANNELS:
        secret_name = template.config.channel_secret_names[channel.name]
        props = template.props(names[secret_name])
        model = load_path(channel.secret_schema)
        assert list(json.loads(props["SecretString"])) == sorted(model.model_fields)
        for field in model.model_fields:
            assert field in props["Description"], (channel.name, field)


def test_documented_secret_keys() -> None:
    """Spelled out (docs/deploy.md lists them): what the operator fills per channel."""
    assert placeholder_fields(load_path(BY_NAME["shopify"].secret_schema)) == {
        "webhook_secret": "",
        "shop_domain": "",
        "access_token": "",
        "currency": "",
        "api_base_url": "",
    }
    assert set(placeholder_fields(load_path(BY_NAME["woocommerce"].secret_schema))) == {
        "base_url",
        "consumer_key",
        "consumer_secret",
        "webhook_secret",
        "currency",
    }


def test_a_field_with_a_default_starts_at_it() -> None:
    class Example(BaseModel):
        required: str
        region: str = "eu"
        retries: int = 3

    assert placeholder_fields(Example) == {"required": "", "region": "eu", "retries": 3}
    assert placeholder(Example) == '{"region": "eu", "required": "", "retries": 3}'


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


def test_an_oversell_policy_names_a_real_policy_and_a_channel_that_can_follow_it() -> None:
    dev = CONFIGS["dev"]
    assert dict(dev.oversell_policy) == {}  # every channel holds for a person by default
    fine = replace(dev, oversell_policy=MappingProxyType({"woocommerce": "cancel-short-lines"}))
    assert fine.oversell_policy["woocommerce"] == "cancel-short-lines"
    with pytest.raises(ValueError, match="'cancel-everything' is not a policy"):
        replace(dev, oversell_policy=MappingProxyType({"shopify": "cancel-everything"}))
    with pytest.raises(ValueError, match="'etsy' is not a channel"):
        replace(dev, oversell_policy=MappingProxyType({"etsy": "hold"}))
