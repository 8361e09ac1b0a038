"""WooCommerce webhooks Keel needs, through REST v3 `/webhooks`: listed, created with Keel's
signing secret, and re-activated. WooCommerce disables a webhook after 5 failed deliveries in a
row and never retries: `status` turns `disabled` and nothing arrives until it is active again.
"""

from __future__ import annotations

from typing import Any

import httpx

from shared.channels.errors import classify_status
from shared.channels.http import request
from shared.channels.port import Subscription
from shared.channels.woocommerce.secret import WooSecret
from shared.channels.woocommerce.stock import API_PREFIX, CHANNEL, http_error

PER_PAGE = 100


class WooWebhooks:
    channel = CHANNEL

    def __init__(self, secret: WooSecret, http: httpx.Client) -> None:
        self._base = secret.base_url
        self._secret = secret.webhook_secret
        self._http = http
        self._auth = httpx.BasicAuth(secret.consumer_key, secret.consumer_secret)

    def subscriptions(self) -> list[Subscription]:
        found: list[Subscription] = []
        for page in range(1, 100):
            response = self._call("GET", "/webhooks", params={"per_page": PER_PAGE, "page": page})
            found.extend(_subscription(w) for w in response.json())
            if page >= int(response.headers.get("x-wp-totalpages", "1") or 1):
                break
        return found

    def subscribe(self, topic: str, address: str) -> Subscription:
        body = {"name": f"Keel {topic}", "topic": topic, "delivery_url": address,
                "secret": self._secret, "status": "active"}  # fmt: skip
        return _subscription(self._call("POST", "/webhooks", json=body).json())

    def repair(self, subscription: Subscription, address: str) -> Subscription:
        body = {"delivery_url": address, "secret": self._secret, "status": "active"}
        path = f"/webhooks/{int(subscription.id)}"
        return _subscription(self._call("PUT", path, json=body).json())

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = f"{self._base}{API_PREFIX}{path}"
        response = request(self._http, method, url, channel=CHANNEL, auth=self._auth, **kwargs)
        error_class = classify_status(response.status_code)
        if error_class is not None:
            raise http_error(error_class, response)
        return response


def _subscription(hook: dict[str, Any]) -> Subscription:
    status = str(hook.get("status", ""))
    return Subscription(
        id=str(hook["id"]),
        topic=str(hook.get("topic", "")),
        address=str(hook.get("delivery_url", "")),
        active=status == "active",
        detail=status,
        ours=str(hook.get("name", "")).startswith("Keel "),
    )


def webhooks(secret: WooSecret, http: httpx.Client) -> WooWebhooks:
    """The registry's subscription manager factory."""
    return WooWebhooks(secret, http)
