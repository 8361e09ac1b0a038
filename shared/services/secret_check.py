"""Is each credential Keel holds usable? (`keel secrets check`, #22)

For every secret of a channel (each account's) and of the carrier: it exists, it is filled (no
field left as the deploy's empty placeholder, the schema accepts it), and, for a channel that
polls, one authenticated read succeeds (the first page of its orders changed from now on: read
only, nothing taken in). Never a value in what it says: field names and the channel's error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from shared.channels.errors import AuthError, ChannelError
from shared.channels.spec import load
from shared.validation import describe


class SecretOwner(Protocol):
    """A channel or a carrier: what its secret must hold."""

    @property
    def name(self) -> str: ...

    @property
    def secret_schema(self) -> str: ...


@dataclass(frozen=True)
class SecretCheck:
    owner: str
    secret: str  # its name in Secrets Manager
    present: bool
    filled: bool
    reads: bool | None  # None: no read to try (a carrier, a channel that cannot poll)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class SecretMissing(Exception):
    """What `read` raises for a secret name Secrets Manager does not have."""


def check_secret(
    owner: SecretOwner,
    secret_name: str,
    read: Callable[[str], str],
    http: Any,
    now: datetime,
) -> SecretCheck:
    """`read(name)` is the secret's string (SecretMissing when there is none)."""
    import json

    try:
        raw = json.loads(read(secret_name))
    except SecretMissing:
        return SecretCheck(owner.name, secret_name, False, False, None, ["no such secret"])
    except ValueError:
        return SecretCheck(owner.name, secret_name, True, False, None, ["not a JSON object"])
    if not isinstance(raw, dict):
        return SecretCheck(owner.name, secret_name, True, False, None, ["not a JSON object"])
    schema = load(owner.secret_schema)
    empty = sorted(
        name
        for name, spec in schema.model_fields.items()
        if spec.is_required() and raw.get(name) in (None, "")
    )
    if empty:
        said = f"not filled: {', '.join(empty)} (docs/deploy.md §4)"
        return SecretCheck(owner.name, secret_name, True, False, None, [said])
    try:
        model: BaseModel = schema.model_validate(raw)
    except ValidationError as exc:
        return SecretCheck(owner.name, secret_name, True, False, None, [describe(exc)])
    poll = getattr(owner, "poll_orders", None)
    if poll is None:
        return SecretCheck(owner.name, secret_name, True, True, None)
    try:
        next(iter(load(poll)(model, http).fetch_orders(now)), None)
    except AuthError as exc:
        said = f"{owner.name} refused the credentials: {exc}"
        return SecretCheck(owner.name, secret_name, True, True, False, [said])
    except ChannelError as exc:
        said = f"an authenticated read failed: {type(exc).__name__}: {exc}"
        return SecretCheck(owner.name, secret_name, True, True, False, [said])
    return SecretCheck(owner.name, secret_name, True, True, True)
