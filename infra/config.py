"""Per-environment settings, one typed record each, so environments differ only where written here.

Plain data (no CDK import): the values are checked once, before any construct exists, so a typo
fails the synth with a message instead of producing a half-right template.

Account ids are placeholders. `None` means "the account the CLI credentials point at" (handy for
dev); staging and prod carry fixed ids so a deploy with the wrong credentials fails instead of
landing in the wrong account. Override per invocation with `-c account=<id>`, or edit here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal

from shared.channels.registry import BY_NAME
from shared.domain.oversell import OversellPolicy
from shared.wiring import WIRING

EnvName = Literal["dev", "staging", "prod"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]

# CloudWatch Logs accepts only these retention periods; RetentionDays in infra maps them.
ALLOWED_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827)

# Raw channel bodies (held deliveries, raw-bodies objects) hold customers' names, addresses and
# e-mails. Kept at least as long as a delivery can wait in the ingest DLQ, so a redriven message
# still finds its body; at most a year: the channel keeps the order itself.
MIN_RAW_BODY_RETENTION_DAYS = WIRING.queue("ingest").dlq_retention_days
MAX_RAW_BODY_RETENTION_DAYS = 365


@dataclass(frozen=True)
class EnvConfig:
    """Everything that differs between dev, staging and prod."""

    name: EnvName
    stack_name: str
    account: str | None
    region: str
    alarm_email: str
    log_retention_days: int
    # "retain" keeps tables, secrets and log groups when the stack is deleted (and turns on table
    # deletion protection); "destroy" lets `cdk destroy` clean up a throwaway environment.
    removal_policy: Literal["retain", "destroy"]
    termination_protection: bool
    log_level: LogLevel
    # logical secret name (WIRING.secrets: channels, WIRING.carriers) -> Secrets Manager name
    channel_secret_names: MappingProxyType[str, str]
    api_rate_limit_rps: int
    api_burst_limit: int
    # A WAFv2 web ACL on the API stage (body size limit via Content-Length). ~5 USD/month each.
    waf: bool
    # Days raw channel bodies are kept: the TTL of held deliveries (from their receipt) and the
    # expiry of the raw-bodies bucket's objects (from their upload).
    raw_body_retention_days: int
    # channel -> "hold" | "cancel-short-lines": what happens to an order that came in for more
    # than Keel holds. A channel not named holds it for a person (the safe default).
    oversell_policy: MappingProxyType[str, str] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # The carrier the order workflow books parcels with (told as KEEL_CARRIER to the functions
    # that book); None: the only carrier registered (shared/carriers/registry.py).
    carrier: str | None = None
    # channel -> labels of its further accounts (a second Shopify shop: ("outlet",)). Each gets
    # its own secret, `<the channel's secret name>/<label>`, and its own poll schedule; the
    # account it serves is the one its secret names. A new shop is a line here and a deploy.
    channel_accounts: MappingProxyType[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def __post_init__(self) -> None:
        problems: list[str] = []
        if self.carrier is not None and self.carrier not in WIRING.carriers:
            problems.append(f"carrier {self.carrier!r} is not a registered carrier")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,127}", self.stack_name):
            problems.append(f"stack_name {self.stack_name!r} is not a valid CloudFormation name")
        if self.account is not None and not re.fullmatch(r"\d{12}", self.account):
            problems.append(f"account {self.account!r} is not a 12-digit AWS account id")
        if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", self.region):
            problems.append(f"region {self.region!r} does not look like an AWS region")
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", self.alarm_email):
            problems.append(f"alarm_email {self.alarm_email!r} is not an e-mail address")
        if self.log_retention_days not in ALLOWED_RETENTION_DAYS:
            problems.append(
                f"log_retention_days {self.log_retention_days} is not one CloudWatch offers"
            )
        accounts = {*WIRING.secrets, *WIRING.carriers}
        missing = accounts - set(self.channel_secret_names)
        extra = set(self.channel_secret_names) - accounts
        if missing or extra:
            problems.append(
                f"channel_secret_names: missing {sorted(missing)}, unknown {sorted(extra)}"
            )
        if not (
            MIN_RAW_BODY_RETENTION_DAYS
            <= self.raw_body_retention_days
            <= MAX_RAW_BODY_RETENTION_DAYS
        ):
            problems.append(
                f"raw_body_retention_days {self.raw_body_retention_days} is outside "
                f"{MIN_RAW_BODY_RETENTION_DAYS}..{MAX_RAW_BODY_RETENTION_DAYS} (at least the "
                "ingest DLQ's retention, so a redriven delivery finds its body)"
            )
        for channel, policy in self.oversell_policy.items():
            spec = BY_NAME.get(channel)
            if policy not in {p.value for p in OversellPolicy}:
                problems.append(f"oversell_policy[{channel!r}]: {policy!r} is not a policy")
            elif spec is None:
                problems.append(f"oversell_policy: {channel!r} is not a channel")
            elif policy != OversellPolicy.HOLD and spec.cancel_lines is None:
                problems.append(f"oversell_policy: {channel!r} cannot cut lines (no cancel_lines)")
        for channel, labels in self.channel_accounts.items():
            if channel not in WIRING.secrets:
                problems.append(f"channel_accounts: {channel!r} is not a channel")
            bad = [x for x in labels if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,31}", x)]
            if bad:
                problems.append(f"channel_accounts[{channel!r}]: labels {bad} are not a-z0-9-")
            if len(set(labels)) != len(labels):
                problems.append(f"channel_accounts[{channel!r}]: a label is named twice")
        if self.api_rate_limit_rps <= 0 or self.api_burst_limit < self.api_rate_limit_rps:
            problems.append("api limits: need rate > 0 and burst >= rate")
        if problems:
            raise ValueError(f"invalid config for {self.name!r}: " + "; ".join(problems))

    @property
    def resource_prefix(self) -> str:
        """Prefix of the physical names Keel sets itself (functions, queues): `keel-<env>`."""
        return f"keel-{self.name}"

    def account_secret_names(self, channel: str) -> list[str]:
        """The secrets of a channel's further accounts (the first's: channel_secret_names)."""
        return [
            f"{self.channel_secret_names[channel]}/{label}"
            for label in self.channel_accounts.get(channel, ())
        ]

    @property
    def retain_data(self) -> bool:
        return self.removal_policy == "retain"


def _secret_names(env: str) -> MappingProxyType[str, str]:
    return MappingProxyType(
        {name: f"keel/{env}/{name}" for name in (*WIRING.secrets, *WIRING.carriers)}
    )


CONFIGS: MappingProxyType[str, EnvConfig] = MappingProxyType(
    {
        "dev": EnvConfig(
            name="dev",
            stack_name="Keel-dev",
            account=None,  # whatever account the CLI credentials are for
            region="eu-west-1",
            alarm_email="keel-alerts-dev@example.com",
            log_retention_days=14,
            removal_policy="destroy",
            termination_protection=False,
            log_level="DEBUG",
            channel_secret_names=_secret_names("dev"),
            api_rate_limit_rps=20,
            api_burst_limit=40,
            waf=False,
            # Test orders only: the shortest the DLQ allows.
            raw_body_retention_days=14,
        ),
        "staging": EnvConfig(
            name="staging",
            stack_name="Keel-staging",
            account="111111111111",  # placeholder: your staging account
            region="eu-west-1",
            alarm_email="keel-alerts-staging@example.com",
            log_retention_days=30,
            removal_policy="destroy",
            termination_protection=False,
            log_level="INFO",
            channel_secret_names=_secret_names("staging"),
            api_rate_limit_rps=50,
            api_burst_limit=100,
            waf=True,
            # Rehearsal data, sometimes copied from real orders: no longer than dev.
            raw_body_retention_days=14,
        ),
        "prod": EnvConfig(
            name="prod",
            stack_name="Keel-prod",
            account="222222222222",  # placeholder: your production account
            region="eu-west-1",
            alarm_email="keel-alerts@example.com",
            log_retention_days=365,
            removal_policy="retain",
            termination_protection=True,
            log_level="INFO",
            channel_secret_names=_secret_names("prod"),
            api_rate_limit_rps=100,
            api_burst_limit=200,
            waf=True,
            # A month to notice a held delivery (the DeliveriesHeld metric, not alarmed yet) and
            # take its order in by hand; after that the channel's own copy is what counts.
            raw_body_retention_days=30,
        ),
    }
)


def load(name: str, *, account: str | None = None, alarm_email: str | None = None) -> EnvConfig:
    """The config for `name`, with the overrides `cdk -c account=… -c alarm_email=…`."""
    if name not in CONFIGS:
        raise ValueError(f"unknown environment {name!r}; choose one of {sorted(CONFIGS)}")
    config = CONFIGS[name]
    if account is not None:
        config = replace(config, account=account)
    if alarm_email is not None:
        config = replace(config, alarm_email=alarm_email)
    return config
