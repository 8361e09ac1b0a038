"""How an adapter says what a failure means, so consumers know whether to retry."""

from __future__ import annotations


class ChannelError(Exception):
    """Base class: `channel` and `status` say where it came from."""

    def __init__(self, message: str, *, channel: str, status: int | None = None) -> None:
        super().__init__(message)
        self.channel = channel
        self.status = status


class RetryableError(ChannelError):
    """Try again later: rate limits, 5xx, timeouts, connection failures."""

    def __init__(
        self,
        message: str,
        *,
        channel: str,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, channel=channel, status=status)
        self.retry_after_s = retry_after_s


class PermanentError(ChannelError):
    """A retry would get the same answer: validation errors, unknown listings, bad credentials."""


class AuthError(PermanentError):
    """401/403: the credential is wrong, or being rotated. Consumers refresh the cached secret
    and retry a bounded number of times before giving up with reason "auth"."""


class UnknownAccount(PermanentError):
    """No secret of the channel serves this account (shop, store, seller)."""


class NothingToDo(ChannelError):
    """The channel already shows what Keel wants, or the change is stale."""


def classify_status(status: int) -> type[ChannelError] | None:
    """HTTP status -> error class; None when the call succeeded."""
    if status < 400:
        return None
    if status in (408, 425, 429) or status >= 500:
        return RetryableError
    if status in (401, 403):
        return AuthError
    return PermanentError
