"""Access tokens an adapter fetched (bol.com client credentials, Amazon LWA), kept per process
(a warm Lambda environment) and renewed a margin before they expire: one cache shape for every
channel, where there were two. Keys say whose token it is (token URL or client, and the
credential), so two accounts never share one."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable


class TokenCache:
    def __init__(self, refresh_margin_s: float) -> None:
        self.refresh_margin_s = refresh_margin_s
        self._tokens: dict[Hashable, tuple[str, float]] = {}  # key -> token, expires at
        self._lock = threading.RLock()

    def get(self, key: Hashable, now: float) -> str | None:
        """The token, unless it is within the margin of expiring (or absent)."""
        with self._lock:
            found = self._tokens.get(key)
        if found is None or found[1] - self.refresh_margin_s <= now:
            return None
        return found[0]

    def put(self, key: Hashable, token: str, expires_at: float) -> None:
        with self._lock:
            self._tokens[key] = (token, expires_at)

    def drop(self, key: Hashable) -> None:
        """The channel refused it (revoked, expired early): the next call fetches anew."""
        with self._lock:
            self._tokens.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()

    def get_or_fetch(
        self,
        key: Hashable,
        now: Callable[[], float],
        fetch: Callable[[], tuple[str, float]],
        force: bool = False,
    ) -> str:
        """The cached token, or one `fetch()` gives (token, seconds it lives): one fetch at a
        time, so concurrent callers of a cold cache wait for it instead of each fetching."""
        with self._lock:
            cached = None if force else self.get(key, now())
            if cached is not None:
                return cached
            token, lives_s = fetch()
            self.put(key, token, now() + lives_s)
            return token
