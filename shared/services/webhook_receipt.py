"""A channel's webhook delivery, from the raw request to an answer: ping, signature (a shared
secret, or the channel's published key the delivery names), account, delivery id, then receipt
(shared/services/delivery_receipt.py). How a channel is received is its `WebhookReceiver` in the
registry; nothing here knows a channel by name. Stdlib and botocore only (the cold start).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.channels.registry import BY_NAME
from shared.channels.spec import BodyDigest, ChannelKeys, FromHeader, WebhookReceiver, load
from shared.domain.accounts import normalize_account
from shared.services.delivery_receipt import Delivery, Door, bounded_id, from_body, receive

# channel -> the secret of each of its accounts, its first account's first (cached by the caller)
Secrets = Callable[[str], Sequence[Mapping[str, Any]]]

# Unknown key ids that may each make a refetch within one refetch interval: a second rotation
# soon after the first is still picked up, while forged ids cannot hammer the key endpoint.
REFETCHES_PER_INTERVAL = 5


@dataclass(frozen=True)
class Answer:
    """What the webhook answers, and what it logs (and counts) about it."""

    status: int
    message: str
    log: str
    level: str = "info"
    extra: dict[str, Any] = field(default_factory=dict)
    metric: str | None = None


@dataclass
class KeyCache:
    """The keys channels sign with, per container: channel -> (when fetched, {key id: key}),
    and channel -> {unknown key id: when it made a refetch}."""

    keys: dict[str, tuple[float, dict[str, str]]] = field(default_factory=dict)
    refetched_for: dict[str, dict[str, float]] = field(default_factory=dict)
    fetched: list[tuple[str, int]] = field(default_factory=list)  # (channel, keys): to log

    def key(
        self, channel: str, keys: ChannelKeys, headers: Mapping[str, str], secret: Secrets
    ) -> str | None:
        """The key the delivery names: from the cache, else after one refetch; None if
        unknown."""
        key_id = keys.key_id(headers)
        if not key_id:
            return None
        now = time.monotonic()
        cached = self.keys.get(channel)
        fresh = cached is None or now - cached[0] > keys.max_age_s
        known = self._fetch(channel, keys, secret) if fresh or cached is None else cached[1]
        if key_id not in known and not fresh:
            tried = self.refetched_for.setdefault(channel, {})
            for old in [k for k, at in tried.items() if now - at >= keys.refetch_interval_s]:
                del tried[old]
            if key_id not in tried and len(tried) < REFETCHES_PER_INTERVAL:  # once per id
                tried[key_id] = now
                known = self._fetch(channel, keys, secret)
        return known.get(key_id)

    def _fetch(self, channel: str, keys: ChannelKeys, secret: Secrets) -> dict[str, str]:
        fetched = dict(load(keys.fetch)(dict(secret(channel)[0])))
        self.keys[channel] = (time.monotonic(), fetched)
        self.fetched.append((channel, len(fetched)))
        return fetched


def receive_webhook(
    channel: str,
    headers: Mapping[str, str],
    raw: bytes,
    door: Door,
    secret: Secrets,
    keys: KeyCache,
    now: datetime,
) -> Answer:
    """`headers` lower-cased. A secret without the field that signs (or names the account)
    raises: an unfilled secret must not turn into "every delivery has a bad signature"; the
    5xx alarms and the channel retries once the operator has filled it. A channel whose
    deliveries name their account (`account_header`) may have several accounts: a delivery is
    verified with the secret of the account it names."""
    spec = BY_NAME.get(channel)
    if spec is None or spec.receiver is None:
        return Answer(404, f"no webhook receiver for channel {channel!r}", "unknown channel")
    receiver = spec.receiver
    if receiver.is_ping is not None and receiver.is_ping(headers, raw):
        return Answer(200, "pong", "webhook ping acknowledged")
    accounts = secret(channel)
    serving = accounts[0]
    claimed = headers.get(receiver.account_header) if receiver.account_header else None
    if receiver.account_header:
        serving = _serving(accounts, channel, spec.account_field, claimed) or serving
    if not _verified(channel, receiver, raw, headers, serving, secret, keys):
        return Answer(401, "invalid signature", "rejected webhook: bad signature", "warning")
    if receiver.account_header:
        configured = _filled(serving, channel, spec.account_field)
        if claimed is None or normalize_account(configured) != normalize_account(claimed):
            # Validly signed (same app, another shop): never reserve against this stock.
            return Answer(
                403,
                "delivery from an account this endpoint does not serve",
                "rejected webhook: delivery from another account",
                "warning",
                {"account": (claimed or "")[:200]},
                "WebhooksFromOtherAccounts",
            )
    delivery_id = _delivery_id(receiver, headers, raw)
    if not delivery_id:
        return Answer(400, "missing delivery id", "rejected webhook: no delivery id", "warning")
    try:
        text, encoding = raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        # Signed by the channel, so not an attacker's: latin-1 round-trips any bytes, and ingest
        # keeps such a body as a held delivery.
        text, encoding = raw.decode("latin-1"), "latin-1"
    topic = _topic(receiver, headers, raw)
    kept = {h: headers[h][:1024] for h in receiver.kept_headers if h in headers}
    delivery = Delivery(channel, delivery_id, topic, raw, text, encoding, now, kept)
    extra = {"delivery_id": delivery_id, "topic": topic, "bytes": len(raw)}
    if not receive(door, delivery):
        return Answer(200, "duplicate delivery", "duplicate delivery acknowledged", extra=extra)
    return Answer(200, "accepted", "delivery enqueued", extra=extra)


def _serving(
    accounts: Sequence[Mapping[str, Any]], channel: str, field: str, claimed: str | None
) -> Mapping[str, Any] | None:
    """The secret of the account a delivery names, if Keel has one."""
    if claimed is None:
        return None
    wanted = normalize_account(claimed)
    for account in accounts:
        if normalize_account(_filled(account, channel, field)) == wanted:
            return account
    return None


def _verified(
    channel: str,
    receiver: WebhookReceiver,
    raw: bytes,
    headers: Mapping[str, str],
    serving: Mapping[str, Any],
    secret: Secrets,
    keys: KeyCache,
) -> bool:
    signing_secret = _filled(serving, channel, receiver.secret_field)  # filled, or a loud 5xx
    if receiver.keys is None:
        return receiver.verify(signing_secret, raw, headers)
    key = keys.key(channel, receiver.keys, headers, secret)
    return key is not None and receiver.verify(key, raw, headers)


def _filled(secret: Mapping[str, Any], channel: str, name: str) -> str:
    value = secret.get(name)
    if not value:
        raise RuntimeError(f"secret for {channel} has no {name!r}")
    return str(value)


def _delivery_id(receiver: WebhookReceiver, headers: Mapping[str, str], raw: bytes) -> str:
    source = receiver.delivery_id
    if isinstance(source, BodyDigest):
        return "sha256:" + hashlib.sha256(raw).hexdigest()
    return bounded_id(headers.get(source.header, "").strip())


def _topic(receiver: WebhookReceiver, headers: Mapping[str, str], raw: bytes) -> str:
    source = receiver.topic
    if isinstance(source, FromHeader):
        return headers.get(source.header, "")[:200]
    try:
        body: Any = json.loads(raw)
    except (ValueError, RecursionError):
        return ""  # ingest holds what it cannot read (nested too deep, too)
    return from_body(source.path, body)[:200]
