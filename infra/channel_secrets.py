"""Secrets Manager secrets for channel credentials: the stack creates them, the operator fills them.

Created as a placeholder JSON with the expected keys and empty values, so the operator sees the
shape to fill; the real values never pass through CDK, the template or a shell history. Until
they are filled the functions fail loudly (error alarms) instead of running without credentials.
CloudFormation only writes the secret value when this template value changes, so a value the
operator stored with `put-secret-value` survives later deploys; do not change the placeholders.
The expected shape is also in each secret's description and in docs/deploy.md.
"""

from __future__ import annotations

import json

from aws_cdk import RemovalPolicy, SecretValue
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import EnvConfig
from infra.nag import acknowledge
from infra.naming import construct_id
from shared.wiring import Wiring

# The keys each channel's code reads (shared/channels, functions/); values filled by the operator.
PLACEHOLDERS: dict[str, dict[str, str]] = {
    "shopify": {"webhook_secret": ""},
    "woocommerce": {"base_url": "", "consumer_key": "", "consumer_secret": ""},
}


def placeholder(name: str) -> str:
    return json.dumps(PLACEHOLDERS.get(name, {}), sort_keys=True)


class ChannelSecrets(Construct):
    def __init__(self, scope: Construct, id: str, *, wiring: Wiring, config: EnvConfig) -> None:
        super().__init__(scope, id)
        self.secrets: dict[str, secretsmanager.Secret] = {}
        self.names: dict[str, str] = dict(config.channel_secret_names)
        for name in wiring.secrets:
            secret = secretsmanager.Secret(
                self,
                construct_id(name),
                secret_name=self.names[name],
                description=f"Keel {config.name}: {name} credentials as JSON with the keys "
                f"{sorted(PLACEHOLDERS.get(name, {}))}; filled by the operator (docs/deploy.md).",
                secret_string_value=SecretValue.unsafe_plain_text(placeholder(name)),
                removal_policy=RemovalPolicy.RETAIN
                if config.retain_data
                else RemovalPolicy.DESTROY,
            )
            acknowledge(
                secret,
                "AwsSolutions-SMG4",
                f"The {name} credentials are issued by the channel (shop admin / app settings), "
                "not by AWS: no rotation Lambda can mint new ones. They are rotated by hand at the "
                "channel and stored with put-secret-value (docs/deploy.md).",
            )
            self.secrets[name] = secret
