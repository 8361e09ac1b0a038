"""Read a synthesized CloudFormation template the way the tests ask about it (by wiring names)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.config import EnvConfig

Json = dict[str, Any]


@dataclass(frozen=True)
class Template:
    body: Json
    config: EnvConfig
    termination_protection: bool
    outdir: Path

    @property
    def resources(self) -> dict[str, Json]:
        resources: dict[str, Json] = self.body["Resources"]
        return resources

    def of_type(self, resource_type: str) -> dict[str, Json]:
        return {k: r for k, r in self.resources.items() if r["Type"] == resource_type}

    def props(self, logical_id: str) -> Json:
        props: Json = self.resources[logical_id].get("Properties", {})
        return props

    # --- names the wiring uses -> logical ids -------------------------------------------------
    def functions(self) -> dict[str, str]:
        """Wiring function name -> logical id (physical names are `<prefix>-<name>`).

        Only Keel's functions: CDK's own custom-resource handlers (see `auto_delete_providers`)
        have no FunctionName and are left out.
        """
        prefix = f"{self.config.resource_prefix}-"
        return {
            r["Properties"]["FunctionName"].removeprefix(prefix): k
            for k, r in self.of_type("AWS::Lambda::Function").items()
            if str(r["Properties"].get("FunctionName", "")).startswith(prefix)
        }

    def auto_delete_providers(self) -> dict[str, str]:
        """Handler logical id -> its role's logical id, for CDK's S3 auto-delete-objects custom
        resource (it empties a bucket when a throwaway stack is deleted)."""
        providers = {}
        for resource in self.of_type("Custom::S3AutoDeleteObjects").values():
            handler = self.target(resource["Properties"]["ServiceToken"])
            assert handler is not None
            role = self.target(self.props(handler)["Role"])
            assert role is not None
            providers[handler] = role
        return providers

    def queues(self) -> dict[str, str]:
        """Physical-name suffix (`ingest`, `ingest-dlq`, `relay-stream-failures`) -> logical id."""
        prefix = f"{self.config.resource_prefix}-"
        return {
            r["Properties"]["QueueName"].removeprefix(prefix): k
            for k, r in self.of_type("AWS::SQS::Queue").items()
        }

    def tables(self) -> dict[str, str]:
        found = {}
        for k, r in self.of_type("AWS::DynamoDB::Table").items():
            tags = {t["Key"]: t["Value"] for t in r["Properties"].get("Tags", [])}
            found[tags["keel:table"]] = k
        return found

    def buckets(self) -> dict[str, str]:
        """Wiring bucket name (tag `keel:bucket`) -> logical id."""
        found = {}
        for k, r in self.of_type("AWS::S3::Bucket").items():
            tags = {t["Key"]: t["Value"] for t in r["Properties"].get("Tags", [])}
            found[tags["keel:bucket"]] = k
        return found

    def secrets(self) -> dict[str, str]:
        """Secret name (`keel/<env>/<channel>`) -> logical id."""
        return {
            r["Properties"]["Name"]: k
            for k, r in self.of_type("AWS::SecretsManager::Secret").items()
        }

    def topic(self) -> str:
        (topic,) = self.of_type("AWS::SNS::Topic")
        return topic

    def account_token(self) -> Any:
        """How the template names its own account: the fixed id, or `AWS::AccountId` (dev)."""
        return self.config.account or {"Ref": "AWS::AccountId"}

    # --- references ---------------------------------------------------------------------------
    @staticmethod
    def target(value: Any) -> str | None:
        """The logical id a `Ref` or `Fn::GetAtt` points at, else None."""
        if isinstance(value, dict):
            if "Ref" in value:
                return str(value["Ref"])
            if "Fn::GetAtt" in value:
                return str(value["Fn::GetAtt"][0])
        return None

    def referenced(self, value: Any) -> set[str]:
        """Every logical id mentioned anywhere inside `value`."""
        found: set[str] = set()

        def walk(node: Any) -> None:
            target = self.target(node)
            if target is not None and target in self.resources:
                found.add(target)
            if isinstance(node, dict):
                for child in node.values():
                    walk(child)
            elif isinstance(node, list):
                for child in node:
                    walk(child)

        walk(value)
        return found

    @staticmethod
    def objects_of(value: Any) -> str | None:
        """The bucket logical id if `value` is `<bucket arn>/*` (all its objects), else None."""
        if isinstance(value, dict) and list(value) == ["Fn::Join"]:
            separator, parts = value["Fn::Join"]
            if separator == "" and len(parts) == 2 and parts[1] == "/*":
                attribute = parts[0].get("Fn::GetAtt") if isinstance(parts[0], dict) else None
                if isinstance(attribute, list) and attribute[1] == "Arn":
                    return str(attribute[0])
        return None

    @staticmethod
    def versions_of(value: Any) -> str | None:
        """The function logical id if `value` is `<function arn>:*` (its versions and aliases,
        as CDK's grant_invoke names them), else None."""
        if isinstance(value, dict) and list(value) == ["Fn::Join"]:
            separator, parts = value["Fn::Join"]
            if separator == "" and len(parts) == 2 and parts[1] == ":*":
                attribute = parts[0].get("Fn::GetAtt") if isinstance(parts[0], dict) else None
                if isinstance(attribute, list) and attribute[1] == "Arn":
                    return str(attribute[0])
        return None

    def routes(self) -> dict[tuple[str, str], str]:
        """(HTTP method, resource path) -> logical id of the function it proxies to."""
        resources = self.of_type("AWS::ApiGateway::Resource")

        def path(resource_id: str | None) -> str:
            if resource_id is None or resource_id not in resources:
                return ""  # the API's root resource
            props = resources[resource_id]["Properties"]
            return f"{path(self.target(props['ParentId']))}/{props['PathPart']}"

        routes = {}
        for method in self.of_type("AWS::ApiGateway::Method").values():
            props = method["Properties"]
            (function,) = self.referenced(props["Integration"]["Uri"]) & set(
                self.of_type("AWS::Lambda::Function")
            )
            routes[(props["HttpMethod"], path(self.target(props["ResourceId"])) or "/")] = function
        return routes

    def asset_dir(self, code: Json) -> Path:
        """The staged asset directory behind a `Code`/`Content` property (S3Key = <hash>.zip)."""
        return self.outdir / f"asset.{code['S3Key'].removesuffix('.zip')}"

    def acknowledged(self, logical_id: str) -> dict[str, str]:
        """cdk-nag acknowledgements on a resource (copied into its Metadata): finding -> reason."""
        rules = self.resources[logical_id].get("Metadata", {}).get("cdk_nag", {})
        return {r["id"]: r["reason"] for r in rules.get("rules_to_suppress", [])}

    def text(self, value: Any) -> str:
        return json.dumps(value, sort_keys=True)


@dataclass(frozen=True)
class Synthesized:
    outdir: Path
    templates: dict[str, Template]
    validation_report: Json
    facts: Json  # answers from jsii (e.g. the newest Python runtime CDK offers)
