"""Secrets Manager secrets for channel credentials: the stack creates them, the operator fills them.

Each secret starts as a placeholder JSON derived from its channel's secret schema (the pydantic
model named by `Channel.secret_schema` in the registry): every field, empty or at its default. The
operator sees the shape to fill; the real values never pass through CDK, the template or a shell
history. Until they are filled the functions fail loudly (error alarms) instead of running without
credentials.

CloudFormation only writes the secret value when this template value changes, so a value the
operator stored with `put-secret-value` survives later deploys. The placeholder is serialized
with sorted keys, so reordering a schema's fields changes nothing; adding, removing or renaming a
field, or changing a default, does change it, and that deploy rewrites the secret with the new
empty placeholder (docs/deploy.md says to save the value first). The keys are also in each
secret's description and in docs/deploy.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Protocol

from aws_cdk import RemovalPolicy, SecretValue
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct
from pydantic import BaseModel

from infra.config import EnvConfig
from infra.nag import acknowledge
from infra.naming import construct_id
from shared.carriers.registry import CARRIER_SPECS
from shared.carriers.spec import CarrierSpec
from shared.channels.registry import BY_NAME
from shared.channels.spec import Channel, load
from shared.wiring import Wiring

DESCRIPTION_LIMIT = 2048  # Secrets Manager's maximum description length


class HasSecret(Protocol):
    """A channel or a carrier: an account whose credentials the operator fills in."""

    @property
    def name(self) -> str: ...

    @property
    def secret_schema(self) -> str: ...


def schema(channel: HasSecret) -> type[BaseModel]:
    """The channel's secret model, loaded from the registry's "module:Model" path."""
    model = load(channel.secret_schema)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(f"{channel.name}: secret_schema {channel.secret_schema!r} is not a model")
    return model


def placeholder_fields(model: type[BaseModel]) -> dict[str, object]:
    """Every field of the secret: its default when it has one, else "" for the operator to fill."""
    return {
        name: "" if field.is_required() else field.get_default(call_default_factory=True)
        for name, field in model.model_fields.items()
    }


def placeholder(model: type[BaseModel]) -> str:
    return json.dumps(placeholder_fields(model), sort_keys=True)


def description(env_name: str, channel: HasSecret, model: type[BaseModel]) -> str:
    keys = ", ".join(
        name if field.is_required() else f"{name} (optional)"
        for name, field in sorted(model.model_fields.items())
    )
    text = (
        f"Keel {env_name}: {channel.name} credentials as JSON with the keys {keys} "
        f"(schema {channel.secret_schema}); filled by the operator (docs/deploy.md)."
    )
    if len(text) > DESCRIPTION_LIMIT:
        raise ValueError(f"{channel.name}: secret description over {DESCRIPTION_LIMIT} chars")
    return text


class ChannelSecrets(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        wiring: Wiring,
        config: EnvConfig,
        channels: Mapping[str, Channel] = BY_NAME,
        carriers: Mapping[str, CarrierSpec] = CARRIER_SPECS,
    ) -> None:
        super().__init__(scope, id)
        self.secrets: dict[str, secretsmanager.Secret] = {}
        self.names: dict[str, str] = dict(config.channel_secret_names)
        owners: dict[str, HasSecret] = {**channels, **carriers}
        # channel -> its further accounts' secrets (config.channel_accounts), in label order
        self.account_secrets: dict[str, list[secretsmanager.Secret]] = {}
        self.account_names: dict[str, list[str]] = {}
        self.account_labels: dict[str, list[str]] = {}
        for name in (*wiring.secrets, *wiring.carriers):
            if name not in owners:
                raise ValueError(f"secret {name!r}: no channel or carrier of that name")
            self.secrets[name] = self._secret(name, self.names[name], owners[name], config)
        for name in wiring.secrets:
            labels = config.channel_accounts.get(name, ())
            names = config.account_secret_names(name)
            for label, secret_name in zip(labels, names, strict=True):
                secret = self._secret(name, secret_name, owners[name], config, label)
                self.account_secrets.setdefault(name, []).append(secret)
                self.account_names.setdefault(name, []).append(secret_name)
                self.account_labels.setdefault(name, []).append(label)

    def _secret(
        self,
        name: str,
        secret_name: str,
        channel: HasSecret,
        config: EnvConfig,
        label: str | None = None,
    ) -> secretsmanager.Secret:
        """One account's secret: the channel's first (`label` None, construct id as ever) or a
        further account's."""
        model = schema(channel)
        cid = construct_id(name) + (construct_id(label) + "Account" if label else "")
        secret = secretsmanager.Secret(
            self,
            cid,
            secret_name=secret_name,
            description=description(config.name, channel, model),
            secret_string_value=SecretValue.unsafe_plain_text(placeholder(model)),
            removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
        )
        acknowledge(
            secret,
            "AwsSolutions-SMG4",
            f"The {name} credentials are issued by {name} (shop admin / app / API settings), "
            "not by AWS: no rotation Lambda can mint new ones. They are rotated by hand at "
            f"{name} and stored with put-secret-value (docs/deploy.md).",
        )
        return secret
