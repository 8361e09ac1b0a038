"""Amazon SP-API notifications Keel needs (Channel.subscriptions) delivered to the
environment's SQS queue: a destination for the queue's ARN (grantless: the app's own token),
then one subscription per notification type (the seller's token).

Amazon keeps one subscription per type and application and cannot move it to another
destination: pointing it elsewhere is deleting it and subscribing again.
"""

from __future__ import annotations

from typing import Any

import httpx

from shared.channels.amazon import CHANNEL as SPEC
from shared.channels.amazon.client import CHANNEL, SpApiClient
from shared.channels.amazon.secret import AmazonSecret
from shared.channels.errors import PermanentError
from shared.channels.port import Subscription

NOTIFICATIONS = "/notifications/v1"
PAYLOAD_VERSION = "1.0"  # every type Keel subscribes to


class AmazonSubscriptions:
    channel = CHANNEL

    def __init__(self, secret: AmazonSecret, http: httpx.Client) -> None:
        self._api = SpApiClient(secret, http)

    def subscriptions(self) -> list[Subscription]:
        arns = {d["destinationId"]: d["resource"].get("sqs", {}).get("arn", "")
                for d in self._destinations()}  # fmt: skip
        found = []
        for kind in SPEC.subscriptions:
            sub = self._subscription(kind)
            if sub is not None:
                found.append(_subscription(sub, kind, arns.get(sub["destinationId"], "")))
        return found

    def subscribe(self, topic: str, address: str) -> Subscription:
        destination = self._destination_for(address)
        body = {"payloadVersion": PAYLOAD_VERSION, "destinationId": destination}
        made = self._api.call(
            "createSubscription", "POST", f"{NOTIFICATIONS}/subscriptions/{topic}", json=body
        ).json()["payload"]
        return _subscription(made, topic, address)

    def repair(self, subscription: Subscription, address: str) -> Subscription:
        self._api.call(
            "deleteSubscriptionById",
            "DELETE",
            f"{NOTIFICATIONS}/subscriptions/{subscription.topic}/{subscription.id}",
            grantless=True,
        )
        return self.subscribe(subscription.topic, address)

    def _subscription(self, kind: str) -> dict[str, Any] | None:
        try:
            response = self._api.call(
                "getSubscription", "GET", f"{NOTIFICATIONS}/subscriptions/{kind}",
                params={"payloadVersion": PAYLOAD_VERSION},
            )  # fmt: skip
        except PermanentError as exc:
            if exc.status == 404:
                return None
            raise
        found: dict[str, Any] = response.json()["payload"]
        return found

    def _destinations(self) -> list[dict[str, Any]]:
        answer = self._api.call(
            "getDestinations", "GET", f"{NOTIFICATIONS}/destinations", grantless=True
        )
        found: list[dict[str, Any]] = answer.json().get("payload") or []
        return found

    def _destination_for(self, arn: str) -> str:
        for destination in self._destinations():
            if destination["resource"].get("sqs", {}).get("arn") == arn:
                return str(destination["destinationId"])
        body = {"name": f"keel-{arn.rsplit(':', 1)[-1]}"[:256],
                "resourceSpecification": {"sqs": {"arn": arn}}}  # fmt: skip
        made = self._api.call(
            "createDestination", "POST", f"{NOTIFICATIONS}/destinations", json=body, grantless=True
        ).json()["payload"]
        return str(made["destinationId"])


def _subscription(sub: dict[str, Any], kind: str, arn: str) -> Subscription:
    return Subscription(
        id=str(sub["subscriptionId"]),
        topic=kind,
        address=arn,
        active=True,  # Amazon has no paused state: a subscription delivers while it exists
        detail=f"payload {sub.get('payloadVersion', '?')}",
    )


def subscriptions(secret: AmazonSecret, http: httpx.Client) -> AmazonSubscriptions:
    """The registry's subscription manager factory."""
    return AmazonSubscriptions(secret, http)
