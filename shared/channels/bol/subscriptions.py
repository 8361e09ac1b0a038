"""bol.com push subscriptions Keel needs (`/retailer/subscriptions`): one WEBHOOK subscription
per resource Keel acts on, pointing at the environment's webhook. A create or an update is a
process (202): it counts as done when its process status says SUCCESS.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from shared.channels.bol import process
from shared.channels.bol.client import CHANNEL, BolClient
from shared.channels.bol.secret import BolSecret
from shared.channels.errors import RetryableError
from shared.channels.port import Subscription

ONE = "/retailer/subscriptions/{subscription-id}"
WAIT_S, POLL_EVERY_S = 60.0, 0.5


class BolSubscriptions:
    channel = CHANNEL

    def __init__(
        self,
        secret: BolSecret,
        http: httpx.Client,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = BolClient(secret, http, sleep=sleep)
        self._sleep, self._clock = sleep, clock

    def subscriptions(self) -> list[Subscription]:
        body = self.client.call("GET", "/retailer/subscriptions").json()
        return [
            _subscription(sub, resource)
            for sub in body.get("subscriptions") or []
            for resource in sub.get("resources") or []
        ]

    def subscribe(self, topic: str, address: str) -> Subscription:
        request = {"resources": [topic], "url": address, "subscriptionType": "WEBHOOK",
                   "enabled": True}  # fmt: skip
        self._done(self.client.call("POST", "/retailer/subscriptions", json=request))
        for found in self.subscriptions():
            if found.topic == topic and found.address == address and found.active:
                return found
        missing = f"subscription for {topic} not listed after it was made"
        raise RetryableError(missing, channel=CHANNEL)

    def repair(self, subscription: Subscription, address: str) -> Subscription:
        path = f"/retailer/subscriptions/{subscription.id}"
        current = self.client.call("GET", path, endpoint=ONE).json()
        request = {"resources": current.get("resources") or [subscription.topic], "url": address,
                   "subscriptionType": "WEBHOOK", "enabled": True}  # fmt: skip
        self._done(self.client.call("PUT", path, json=request, endpoint=ONE))
        now = self.client.call("GET", path, endpoint=ONE).json()
        return _subscription(now, subscription.topic)

    def _done(self, response: httpx.Response) -> None:
        status = process.accepted(response)
        deadline = self._clock() + WAIT_S
        while status.status not in process.TERMINAL:
            if self._clock() > deadline:
                raise RetryableError("subscription change still pending", channel=CHANNEL)
            self._sleep(POLL_EVERY_S)
            status = process.read(self.client, status.id)
        if status.status != "SUCCESS":
            raise RetryableError(f"subscription change {status.reason}", channel=CHANNEL)


def _subscription(sub: dict[str, Any], resource: str) -> Subscription:
    enabled = sub.get("enabled", True) is not False
    return Subscription(
        id=str(sub["id"]),
        topic=resource,
        address=str(sub.get("url", "")),
        active=enabled and sub.get("subscriptionType", "WEBHOOK") == "WEBHOOK",
        detail=f"{sub.get('subscriptionType', 'WEBHOOK')} {'enabled' if enabled else 'disabled'}",
    )


def subscriptions(secret: BolSecret, http: httpx.Client) -> BolSubscriptions:
    """The registry's subscription manager factory."""
    return BolSubscriptions(secret, http)
