"""The embedded local stack, assembled from the wiring: moto, gateway, pollers, sandboxes."""

from __future__ import annotations

import json
import logging
import os
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from local_stack.gateway import Gateway
from local_stack.http import LocalHttpServer
from local_stack.lambda_runtime import LambdaRuntime, register_in_moto, unregister_from_moto
from local_stack.moto_patches import keep_stream_shards_across_rollbacks
from local_stack.moto_server import MotoServer
from local_stack.pollers import Poller, SqsPoller, StreamReader
from local_stack.resources import Provisioned, provision
from local_stack.sandboxes.shopify import ShopifySandbox
from local_stack.sandboxes.woocommerce import WooCommerceSandbox
from shared.wiring import WIRING, QueueTrigger, StreamTrigger, Wiring, stream_failure_queue

STATE_FILE = Path(".keel/local.json")


@dataclass
class LocalConfig:
    prefix: str = "keel-local"
    region: str = "eu-west-1"
    account: str = "123456789012"
    visibility_timeout_s: int = 2  # AWS uses the wiring's (minutes); locally retries come fast
    poll_interval_s: float = 0.05
    concurrency: int = 2  # pollers per queue, as Lambda runs several batches at once
    log_level: str = "WARNING"
    shopify_webhook_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    woo_consumer_key: str = field(default_factory=lambda: "ck_" + secrets.token_hex(20))
    woo_consumer_secret: str = field(default_factory=lambda: "cs_" + secrets.token_hex(20))


class LocalStack:
    """One per process at a time: functions read their settings from the process environment,
    as in Lambda, so two stacks in one process would point each other's handlers astray."""

    _active: LocalStack | None = None

    def __init__(self, config: LocalConfig | None = None, wiring: Wiring = WIRING) -> None:
        self.config = config or LocalConfig()
        self.wiring = wiring
        self.moto = MotoServer()
        self.woo = WooCommerceSandbox(self.config.woo_consumer_key, self.config.woo_consumer_secret)
        self.woo_server = LocalHttpServer("woocommerce-sandbox", self.woo)
        self.shopify = ShopifySandbox(self.config.shopify_webhook_secret)
        self.runtime = LambdaRuntime(wiring.functions, self.config.region, self.config.account)
        self.gateway_server = LocalHttpServer(
            "gateway", Gateway(wiring.functions, self.runtime.invoke)
        )
        self.pollers: list[Poller] = []
        self.resources: Provisioned | None = None
        self.function_arns: dict[str, str] = {}
        self._saved_env: dict[str, str | None] = {}

    # --- lifecycle ---
    def start(self) -> LocalStack:
        if LocalStack._active is not None:
            raise RuntimeError("another LocalStack is running in this process; stop it first")
        LocalStack._active = self
        keep_stream_shards_across_rollbacks()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.moto.start()
        self.woo_server.start()
        self._set_env(self._base_env())
        self.resources = provision(
            self.wiring,
            self.config.prefix,
            self.moto.endpoint,
            secret_values={
                "shopify": {"webhook_secret": self.config.shopify_webhook_secret},
                "woocommerce": {
                    "base_url": self.woo_server.url,
                    "consumer_key": self.config.woo_consumer_key,
                    "consumer_secret": self.config.woo_consumer_secret,
                },
            },
            visibility_timeout_s=self.config.visibility_timeout_s,
        )
        self._set_env(self.resources.function_env())
        self.runtime.cold_start()
        self.function_arns = register_in_moto(
            self.runtime,
            self.wiring.functions,
            self.config.prefix,
            self.resources.function_env(),
            self.client("lambda"),
            self.client("iam"),
        )
        self._start_pollers()
        self.gateway_server.start()
        return self

    def stop(self) -> None:
        for poller in self.pollers:
            poller.stop()
        for poller in self.pollers:
            poller.join(timeout=5)
        self.gateway_server.stop()
        self.woo_server.stop()
        self.moto.stop()
        unregister_from_moto(self.config.prefix)
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self.runtime.cold_start()
        LocalStack._active = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what the outside sees ---
    @property
    def webhook_url(self) -> str:
        return f"{self.gateway_server.url}/webhooks/shopify"

    def client(self, service: str) -> Any:
        return boto3.session.Session().client(
            service, endpoint_url=self.moto.endpoint, region_name=self.config.region
        )

    def endpoints(self) -> dict[str, Any]:
        assert self.resources is not None
        return {
            "aws_endpoint": self.moto.endpoint,
            "region": self.config.region,
            "gateway": self.gateway_server.url,
            "webhooks": {"shopify": self.webhook_url},
            "sandboxes": {"woocommerce": self.woo_server.url},
            "functions": self.function_arns,
            "tables": self.resources.tables,
            "queues": self.resources.queue_urls,
            "dead_letter_queues": {
                **self.resources.dlq_urls,
                **{
                    stream_failure_queue(k): v
                    for k, v in self.resources.stream_failure_urls.items()
                },
            },
            "secrets": self.resources.secrets,
            "buckets": self.resources.buckets,
            "local_only_secrets": {
                "shopify_webhook_secret": self.config.shopify_webhook_secret,
                "woocommerce_consumer_key": self.config.woo_consumer_key,
                "woocommerce_consumer_secret": self.config.woo_consumer_secret,
            },
        }

    def write_state(self, path: Path = STATE_FILE) -> Path:
        """Private from its first byte (it holds local-only secrets), and complete when it
        appears: written beside, then renamed into place."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(json.dumps(self.endpoints(), indent=2) + "\n")
        partial.replace(path)
        return path

    def queue_depths(self) -> dict[str, int]:
        """Visible + in-flight messages per queue and DLQ."""
        assert self.resources is not None
        sqs = self.client("sqs")
        depths = {}
        urls = {**self.resources.queue_urls}
        urls.update({f"{k}-dlq": v for k, v in self.resources.dlq_urls.items()})
        urls.update(
            {stream_failure_queue(k): v for k, v in self.resources.stream_failure_urls.items()}
        )
        for name, url in urls.items():
            attrs = sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
            depths[name] = int(attrs["ApproximateNumberOfMessages"]) + int(
                attrs["ApproximateNumberOfMessagesNotVisible"]
            )
        return depths

    def wait_idle(self, timeout_s: float = 30.0, settle_s: float = 0.3) -> bool:
        """True once, for `settle_s`, no work queue holds a message (visible or in flight), no
        poller is handling a batch, and every stream reader has handled every record."""
        assert self.resources is not None
        deadline = time.monotonic() + timeout_s
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            depths = self.queue_depths()
            idle = (
                all(depths[q] == 0 for q in self.resources.queue_urls)
                and not any(p.busy for p in self.pollers)
                and not any(p.pending() for p in self.pollers if isinstance(p, StreamReader))
            )
            if idle:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= settle_s:
                    return True
            else:
                quiet_since = None
            time.sleep(0.05)
        return False

    # --- internals ---
    def _base_env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_SESSION_TOKEN": "local",
            "AWS_DEFAULT_REGION": self.config.region,
            "AWS_REGION": self.config.region,
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "AWS_ENDPOINT_URL": self.moto.endpoint,
            "MOTO_PORT": str(self.moto.port),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": self.config.log_level,
            "POWERTOOLS_METRICS_NAMESPACE": "Keel",
        }

    def _set_env(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def _start_pollers(self) -> None:
        assert self.resources is not None
        region = self.config.region
        for function in self.wiring.functions:
            trigger = function.trigger
            if isinstance(trigger, QueueTrigger):
                for n in range(self.config.concurrency):
                    poller: Poller = SqsPoller(
                        function.name,
                        self.resources.queue_urls[trigger.queue],
                        self.resources.queue_arns[trigger.queue],
                        trigger.batch_size,
                        self.client("sqs"),
                        self.runtime.invoke,
                        region,
                        self.config.poll_interval_s,
                    )
                    poller.name = f"{poller.name}#{n}"
                    self.pollers.append(poller)
            elif isinstance(trigger, StreamTrigger):
                self.pollers.append(
                    StreamReader(
                        function.name,
                        self.resources.stream_arns[trigger.table],
                        trigger.batch_size,
                        trigger.max_retry_attempts,
                        self.client("dynamodbstreams"),
                        self.runtime.invoke,
                        region,
                        self.resources.stream_failure_urls[function.name],
                        self.client("sqs"),
                        self.config.poll_interval_s,
                    )
                )
        for poller in self.pollers:
            poller.start()


def quiet_logs() -> None:
    """Handler logs are JSON lines for CloudWatch; locally only warnings and up reach stderr."""
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)


def stores(stack: LocalStack) -> tuple[Any, Any, Any]:
    """Catalog, inventory and order stores pointed at this stack's moto."""
    from shared.stores.catalog import CatalogStore
    from shared.stores.inventory import InventoryStore
    from shared.stores.orders import OrderStore

    assert stack.resources is not None
    db = stack.client("dynamodb")
    tables = stack.resources.tables
    return (
        CatalogStore(tables["catalog"], db),
        InventoryStore(tables["inventory"], db),
        OrderStore(tables["orders"], db),
    )
