"""The embedded local stack, assembled from the wiring: moto, gateway, pollers, sandboxes."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto.core.config import default_user_config

from local_stack import moto_patches, powertools_mends
from local_stack.gateway import Gateway
from local_stack.http import LocalHttpServer
from local_stack.lambda_runtime import LambdaRuntime, register_in_moto, unregister_from_moto
from local_stack.moto_server import MotoServer, queue_key, table_key
from local_stack.pollers import Poller, Scheduler, SqsPoller, StreamReader
from local_stack.resources import (
    LOCAL_RAW_BODY_RETENTION_DAYS,
    Provisioned,
    create_state_machines,
    provision,
)
from local_stack.sandboxes import specs
from local_stack.sandboxes.base import ChannelSandbox
from local_stack.sandboxes.line_orders import LineOrders
from local_stack.sandboxes.listing_controls import ListingControls
from local_stack.seed import ListingTarget
from shared.carriers.registry import CARRIER_SPECS
from shared.channels.registry import CHANNELS, check_registry
from shared.channels.spec import Channel, load
from shared.domain.orders import order_key
from shared.names import notification_queue
from shared.stack_outputs import outputs_of
from shared.wiring import (
    CARRIER_ENV,
    DELIVERY_ADDRESSES_ENV,
    WIRING,
    QueueTrigger,
    ScheduleTrigger,
    StreamTrigger,
    Wiring,
    check_wiring,
    stream_failure_queue,
)

STATE_FILE = Path(".keel/local.json")


@dataclass
class LocalConfig:
    prefix: str = "keel-local"
    region: str = "eu-west-1"
    account: str = "123456789012"
    # How soon a message a batch failed comes back. The queues keep the wiring's visibility
    # timeout (minutes, longer than any batch, as in AWS); the pollers make failed messages
    # visible again after this many seconds, so local retries come fast.
    visibility_timeout_s: int = 2
    poll_interval_s: float = 0.05  # pollers without a wake (none now); kept for callers
    idle_poll_s: float = 1.0  # the longest an idle poller waits for the server's word
    # Lambda's MaximumBatchingWindowInSeconds (the wiring's, per queue): off by default, so
    # tests and the demo do not wait for batches to fill; the benchmarks turn it on.
    batching_windows: bool = False
    concurrency: int = 2  # pollers per queue, as Lambda runs several batches at once
    log_level: str = "WARNING"
    raw_body_retention_days: int = LOCAL_RAW_BODY_RETENTION_DAYS  # held deliveries' TTL
    # channel -> "hold" | "cancel-short-lines" (infra/config.py's per environment); none: hold
    oversell_policy: dict[str, str] = field(default_factory=dict)
    # The carrier the workflow books with (infra/config.py's `carrier`); None: the only one.
    carrier: str | None = None
    # Schedules run on their rate (a poll every 5-10 minutes). Tests that fire polls themselves
    # turn it off: a module that runs longer than a rate must not meet an unasked poll.
    timed_schedules: bool = True
    # SQS message delays (a stock write's confirmation checks: 5 s, 10 s, ... in AWS) locally
    # come back after at most this many seconds; None: as sent.
    max_message_delay_s: int | None = 1
    # How long a consumer may hide a message it retries (the sync's auth backoff: 30 s, 60 s);
    # None: as asked. Tests of the journey to a DLQ shorten it.
    max_retry_delay_s: int | None = None
    # channel -> how many further accounts (shops, sellers) it has, each its own sandbox and
    # secret, as a merchant's second shop is configuration (`--seed demo`: a second shop).
    more_accounts: dict[str, int] = field(default_factory=dict)


class LocalStack:
    """One per process at a time: functions read their settings from the process environment,
    as in Lambda, so two stacks in one process would point each other's handlers astray."""

    _active: LocalStack | None = None

    def __init__(
        self,
        config: LocalConfig | None = None,
        wiring: Wiring = WIRING,
        channels: tuple[Channel, ...] = CHANNELS,
    ) -> None:
        self.config = config or LocalConfig()
        problems = check_registry(channels) + check_wiring(wiring, channels)
        if problems:  # half a channel registered: say everything that is missing, build nothing
            raise ValueError("the registry or the wiring is incomplete:\n" + "\n".join(problems))
        self.wiring = wiring
        self.channels = channels
        self.moto = MotoServer()
        # One sandbox per channel, each its own HTTP server: the channels' APIs and control
        # surfaces, and the senders of their webhooks.
        self.sandboxes: dict[str, ChannelSandbox] = {c.name: load(c.sandbox)() for c in channels}
        # Carriers' sandboxes too (their APIs, control surfaces and webhooks).
        self.carrier_sandboxes: dict[str, Any] = {
            name: load(CARRIER_SPECS[name].sandbox)() for name in wiring.carriers
        }
        # Further accounts of a channel: another shop of the same channel, its own sandbox.
        self.more_sandboxes: dict[str, list[Any]] = {
            name: [self._another_account(name, n) for n in range(1, count + 1)]
            for name, count in self.config.more_accounts.items()
            if count > 0
        }
        self.account_servers: dict[str, list[LocalHttpServer]] = {
            name: [
                LocalHttpServer(f"{name}-sandbox-{n}", _controls(sandbox))
                for n, sandbox in enumerate(more, 2)
            ]
            for name, more in self.more_sandboxes.items()
        }
        self.sandbox_servers = {
            **{
                name: LocalHttpServer(f"{name}-sandbox", _controls(sandbox))
                for name, sandbox in self.sandboxes.items()
            },
            **{
                name: LocalHttpServer(f"{name}-sandbox", sandbox)
                for name, sandbox in self.carrier_sandboxes.items()
            },
        }
        self.runtime = LambdaRuntime(wiring.functions, self.config.region, self.config.account)
        self.gateway_server = LocalHttpServer(
            "gateway", Gateway(wiring.functions, self.runtime.invoke)
        )
        self.pollers: list[Poller] = []
        self.schedulers: dict[str, Scheduler] = {}
        self.resources: Provisioned | None = None
        self.function_arns: dict[str, str] = {}
        self._saved_env: dict[str, str | None] = {}
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._session = boto3.session.Session()
        self._session_lock = threading.Lock()  # a session is not thread-safe; clients are
        self._saved_sfn_config = False

    # --- lifecycle ---
    def start(self) -> LocalStack:
        if LocalStack._active is not None:
            raise RuntimeError("another LocalStack is running in this process; stop it first")
        LocalStack._active = self
        moto_patches.install()
        specs.say_once()  # one line when the vendor specs are not beside the repository
        powertools_mends.disabled_metrics_are_cleared()
        moto_patches.cap_message_delays(self.config.max_message_delay_s)
        moto_patches.cap_retry_delays(self.config.max_retry_delay_s)
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.moto.start()
        for server in self._all_sandbox_servers():
            server.start()
        self._set_env(self._base_env())
        self.resources = provision(
            self.wiring,
            self.config.prefix,
            self.moto.endpoint,
            secret_values={**self._channel_secrets(), **self._carrier_secrets()},
            raw_body_retention_days=self.config.raw_body_retention_days,
            oversell_policy=self.config.oversell_policy,
            more_accounts=self._more_account_secrets(),
        )
        self._set_env(
            {
                **self.resources.function_env(),
                **({CARRIER_ENV: self.config.carrier} if self.config.carrier else {}),
            }
        )
        self.runtime.cold_start()
        self.function_arns = register_in_moto(
            self.runtime,
            self.wiring.functions,
            self.config.prefix,
            self.resources.function_env(),
            self.client("lambda"),
            self.client("iam"),
        )
        # moto runs executions for real (Task, Retry, Catch, waitForTaskToken), in a thread.
        self._saved_sfn_config = default_user_config["stepfunctions"]["execute_state_machine"]
        default_user_config["stepfunctions"]["execute_state_machine"] = True
        self.resources.state_machines = create_state_machines(
            self.wiring,
            self.config.prefix,
            self.function_arns,
            self.client("stepfunctions"),
            self.client("iam"),
        )
        self._set_env(self.resources.function_env())
        self._start_pollers()
        self.gateway_server.start()
        self._set_env({DELIVERY_ADDRESSES_ENV: json.dumps(self.delivery_addresses())})
        for channel in self.channels:
            if channel.receiver is not None:
                for sandbox in self.account_sandboxes(channel.name).values():
                    sandbox.notify_to(self.webhook_url_for(channel.name))
            elif channel.queue_receiver is not None:
                # Its notifications go to Keel's queue for it, as the channel's would in AWS.
                self.sandboxes[channel.name].notify_to(self.notification_queue_url(channel.name))
        for name, sandbox in self.carrier_sandboxes.items():
            sandbox.notify_to(self.carrier_webhook_url_for(name))
        return self

    def stop(self) -> None:
        for poller in self.pollers:
            poller.stop()
        for poller in self.pollers:
            poller.join(timeout=5)
        self.gateway_server.stop()
        for server in self._all_sandbox_servers():
            server.stop()
        self.moto.stop()
        default_user_config["stepfunctions"]["execute_state_machine"] = self._saved_sfn_config
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
    def webhook_url_for(self, channel: str) -> str:
        return f"{self.gateway_server.url}/webhooks/{channel}"

    def delivery_addresses(self) -> dict[str, str]:
        """Channel -> where its deliveries must arrive (reconciliation checks subscriptions
        against it), as `keel channels connect` registers them."""
        from shared.services.onboarding import delivery_address

        found = self._endpoints()
        return {
            c.name: delivery_address(found, c)
            for c in self.channels
            if c.receiver is not None or c.queue_receiver is not None
        }

    def notification_queue_url(self, channel: str) -> str:
        """The queue a channel that delivers to a queue sends its notifications to."""
        assert self.resources is not None
        return self.resources.queue_urls[notification_queue(channel)]

    def carrier_webhook_url_for(self, carrier: str) -> str:
        return f"{self.gateway_server.url}/carriers/{carrier}"

    def sandbox_url(self, channel: str) -> str:
        return self.sandbox_servers[channel].url

    def account(self, channel: str) -> str:
        """The account the channel's sandbox is, as order keys spell it."""
        spec = next(c for c in self.channels if c.name == channel)
        return spec.account(self._channel_secrets()[channel])

    def account_sandboxes(self, channel: str) -> dict[str, Any]:
        """Every account of a channel (as its secret names it) -> its sandbox, first first."""
        secrets = self._channel_secrets()
        spec = next(c for c in self.channels if c.name == channel)
        found = {spec.account(secrets[channel]): self.sandboxes[channel]}
        for sandbox, value in zip(
            self.more_sandboxes.get(channel, []),
            self._more_account_secrets().get(channel, []),
            strict=True,
        ):
            found[spec.account(value)] = sandbox
        return found

    def listing_targets(self) -> dict[str, list[ListingTarget]]:
        """Where a SKU may be listed: per channel, each account (its listing key: "" for the
        first) with its sandbox, the marketplaces its secret names, and its sandbox's URL."""
        secrets = self._channel_secrets()
        more = self._more_account_secrets()
        targets: dict[str, list[ListingTarget]] = {}
        for spec in self.channels:
            name = spec.name
            targets[name] = [
                ListingTarget(
                    "",
                    self.sandboxes[name],
                    spec.marketplaces(secrets[name]),
                    self.sandbox_url(name),
                )
            ]
            for sandbox, value, server in zip(
                self.more_sandboxes.get(name, []),
                more.get(name, []),
                self.account_servers.get(name, []),
                strict=True,
            ):
                targets[name].append(
                    ListingTarget(
                        spec.account(value), sandbox, spec.marketplaces(value), server.url
                    )
                )
        return targets

    def account_sandbox_urls(self, channel: str) -> dict[str, str]:
        servers = [self.sandbox_servers[channel], *self.account_servers.get(channel, [])]
        return {
            account: server.url
            for account, server in zip(self.account_sandboxes(channel), servers, strict=True)
        }

    def order_key(self, channel: str, external_id: str | int) -> str:
        return order_key(channel, self.account(channel), str(external_id))

    def fire_schedule(self, schedule: str) -> Any:
        """Run a scheduled function now, as its schedule would (tests and operators)."""
        return self.schedulers[schedule].fire()

    def client(self, service: str) -> Any:
        """One client per service for the stack's life (clients are thread-safe; making one
        loads its service model, tens of ms, which `wait_idle` used to pay every 50 ms)."""
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = self._new_client(service)
            return self._clients[service]

    def _new_client(self, service: str) -> Any:
        """Its own client (and connection pool): for each poller, busy all the time. From the
        stack's one session, so clients share its loaded endpoint and model data (a session
        each loaded them again: over half of a stack's start)."""
        with self._session_lock:
            return self._session.client(
                service, endpoint_url=self.moto.endpoint, region_name=self.config.region
            )

    def endpoints(self) -> dict[str, Any]:
        """What `.keel/local.json` holds: the stack's outputs (`outputs`, the keys a deployed
        stack publishes, which `keel` reads for every environment) and what only a local
        stack has (sandboxes, local-only secrets, webhook URLs)."""
        found = self._endpoints()
        found["alarm_prefix"] = f"{self.config.prefix}-"  # as infra names alarms: <prefix>-...
        found["outputs"] = outputs_of(found)
        return found

    def _endpoints(self) -> dict[str, Any]:
        assert self.resources is not None
        return {
            "aws_endpoint": self.moto.endpoint,
            "region": self.config.region,
            "gateway": self.gateway_server.url,
            "webhooks": {c.name: self.webhook_url_for(c.name) for c in self.channels if c.receiver},
            # Channels that deliver to a queue (no webhook): where their notifications go.
            "notification_queues": {
                c.name: self.notification_queue_url(c.name)
                for c in self.channels
                if c.queue_receiver
            },
            "carrier_webhooks": {
                n: self.carrier_webhook_url_for(n) for n in self.carrier_sandboxes
            },
            "state_machines": self.resources.state_machines,
            "sandboxes": {name: server.url for name, server in self.sandbox_servers.items()},
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
            "account_secrets": self.resources.account_secrets,
            # The account each channel's sandbox is: order keys are channel#account#id.
            "accounts": {c.name: self.account(c.name) for c in self.channels},
            # Every account of each channel, the first (`accounts`) first, and their sandboxes.
            "accounts_all": {c.name: list(self.account_sandboxes(c.name)) for c in self.channels},
            "account_sandboxes": {c.name: self.account_sandbox_urls(c.name) for c in self.channels},
            "buckets": self.resources.buckets,
            "local_only_secrets": {
                key: value
                for sandbox in (*self.sandboxes.values(), *self.carrier_sandboxes.values())
                for key, value in sandbox.local_only_secrets().items()
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
        """Visible + in-flight + delayed messages per queue and DLQ (a delayed stock
        confirmation is work still to do)."""
        assert self.resources is not None
        depths = {}
        urls = {**self.resources.queue_urls}
        urls.update({f"{k}-dlq": v for k, v in self.resources.dlq_urls.items()})
        urls.update(
            {stream_failure_queue(k): v for k, v in self.resources.stream_failure_urls.items()}
        )
        for name, url in urls.items():
            depths[name] = self.moto.queue_depth(
                self.config.account, self.config.region, url.rstrip("/").rsplit("/", 1)[-1]
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

    def _channel_secrets(self) -> dict[str, dict[str, Any]]:
        """What each channel's secret holds locally: what its sandbox needs, checked against
        the channel's secret schema (the same model the functions and the CDK use)."""
        values = {}
        for channel in self.channels:
            value = self.sandboxes[channel.name].keel_secret(self.sandbox_url(channel.name))
            load(channel.secret_schema).model_validate(value)
            values[channel.name] = value
        return values

    def _more_account_secrets(self) -> dict[str, list[dict[str, Any]]]:
        """The secrets of the channels' further accounts, checked like the first's."""
        values: dict[str, list[dict[str, Any]]] = {}
        for name, more in self.more_sandboxes.items():
            schema = load(next(c for c in self.channels if c.name == name).secret_schema)
            for sandbox, server in zip(more, self.account_servers[name], strict=True):
                value = sandbox.keel_secret(server.url)
                schema.model_validate(value)
                values.setdefault(name, []).append(value)
        return values

    def _another_account(self, channel: str, n: int) -> Any:
        first = self.sandboxes.get(channel)
        if first is None:
            raise ValueError(f"more_accounts: no channel {channel!r}")
        if not hasattr(first, "another_account"):
            raise ValueError(f"the {channel} sandbox cannot serve a second account yet")
        return first.another_account(n)

    def _all_sandbox_servers(self) -> list[LocalHttpServer]:
        more = [server for servers in self.account_servers.values() for server in servers]
        return [*self.sandbox_servers.values(), *more]

    def _carrier_secrets(self) -> dict[str, dict[str, Any]]:
        values = {}
        for name, sandbox in self.carrier_sandboxes.items():
            value = sandbox.keel_secret(self.sandbox_url(name))
            load(CARRIER_SPECS[name].secret_schema).model_validate(value)
            values[name] = value
        return values

    def _set_env(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def _start_pollers(self) -> None:
        assert self.resources is not None
        region = self.config.region
        activity = self.moto.app.activity
        for function in self.wiring.functions:
            trigger = function.trigger
            if isinstance(trigger, QueueTrigger):
                # As Lambda's maximum concurrency bounds a channel's rate budget.
                receive_lock = threading.Lock()
                for n in range(min(self.config.concurrency, trigger.max_concurrency or 1000)):
                    poller: Poller = SqsPoller(
                        function.name,
                        self.resources.queue_urls[trigger.queue],
                        self.resources.queue_arns[trigger.queue],
                        trigger.batch_size,
                        self._new_client("sqs"),
                        self.runtime.invoke,
                        region,
                        self.config.poll_interval_s,
                        wake=activity.event(queue_key(self.resources.queue_urls[trigger.queue])),
                        retry_after_s=self.config.visibility_timeout_s,
                        visibility_changed=activity.visibility_changed,
                        idle_s=self.config.idle_poll_s,
                        batching_window_s=(
                            trigger.max_batching_window_s if self.config.batching_windows else 0
                        ),
                        receive_lock=receive_lock,
                        visible=functools.partial(
                            self.moto.queue_visible,
                            self.config.account,
                            region,
                            queue_key(self.resources.queue_urls[trigger.queue]).removeprefix(
                                "sqs:"
                            ),
                        ),
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
                        self._new_client("dynamodbstreams"),
                        self.runtime.invoke,
                        region,
                        self.resources.stream_failure_urls[function.name],
                        self._new_client("sqs"),
                        self.config.poll_interval_s,
                        wake=activity.event(table_key(self.resources.tables[trigger.table])),
                        idle_s=self.config.idle_poll_s,
                        filters=trigger.filters,
                        read_records=functools.partial(
                            self.moto.stream_records,
                            self.config.account,
                            region,
                            self.resources.tables[trigger.table],
                        ),
                    )
                )
            elif isinstance(trigger, ScheduleTrigger):
                scheduler = Scheduler(
                    function.name,
                    trigger.name,
                    trigger.rate_minutes * 60.0,
                    self.runtime.invoke,
                    timed=self.config.timed_schedules,
                )
                self.schedulers[trigger.name] = scheduler
                self.pollers.append(scheduler)
        for poller in self.pollers:
            poller.start()


def quiet_logs() -> None:
    """Handler logs are JSON lines for CloudWatch; locally only warnings and up reach stderr."""
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)


def stores(stack: LocalStack) -> tuple[Any, Any, Any]:
    """Catalog, inventory and order stores pointed at this stack's moto (the functions'
    composition root, given the stack's tables and clients)."""
    rt = runtime_of(stack)
    return rt.catalog, rt.inventory, rt.orders


def _controls(sandbox: ChannelSandbox) -> ListingControls:
    """A sales-channel sandbox's app with the control routes every sandbox shares."""
    return ListingControls(LineOrders(sandbox), sandbox)


def runtime_of(stack: LocalStack) -> Any:
    """The functions' composition root, given this stack's tables, secrets and clients (its
    stores, price book and channel adapters; no queues)."""
    from shared.runtime import Runtime
    from shared.stack_outputs import runtime_env

    assert stack.resources is not None
    return Runtime(env=runtime_env(stack.endpoints()), aws=stack.client)
