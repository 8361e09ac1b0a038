"""One token cache for every channel that fetches access tokens (bol.com, Amazon LWA), and one
backoff rule for every adapter."""

from __future__ import annotations

import threading

from shared.channels.tokens import TokenCache


def test_a_token_is_renewed_a_margin_before_it_expires_and_dropped_when_refused() -> None:
    cache = TokenCache(refresh_margin_s=30)
    cache.put(("url", "client"), "t1", expires_at=100)
    assert cache.get(("url", "client"), now=69) == "t1"
    assert cache.get(("url", "client"), now=70) is None  # within the margin: renew
    assert cache.get(("url", "other client"), now=0) is None  # whose token it is counts
    cache.drop(("url", "client"))
    assert cache.get(("url", "client"), now=0) is None


def test_concurrent_callers_of_a_cold_cache_fetch_once() -> None:
    cache = TokenCache(refresh_margin_s=30)
    fetched: list[int] = []
    started = threading.Barrier(8)

    def fetch() -> tuple[str, float]:
        fetched.append(1)
        return f"t{len(fetched)}", 300.0

    def call() -> None:
        started.wait()
        assert cache.get_or_fetch("key", lambda: 0.0, fetch) == "t1"

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fetched == [1]
    assert cache.get_or_fetch("key", lambda: 0.0, fetch, force=True) == "t2"


def test_every_adapter_backs_off_from_one_rule() -> None:
    from shared.channels.retry import backoff_s

    for attempt in range(1, 12):
        assert 0 <= backoff_s(attempt, 0.5) <= 0.5 * 2**attempt
        assert 0 <= backoff_s(attempt, 0.5, cap_s=10) <= 10
        assert 1.0 <= backoff_s(attempt, 1.0, floor_s=1.0) <= 2.0**attempt
