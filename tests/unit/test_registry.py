"""The channel registry's recipe: a channel is one package, declared once, fully or not at all."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from pathlib import Path

import pytest

import shared.channels
from local_stack.sandboxes.base import ChannelSandbox
from shared.channels.registry import CHANNELS, check_registry
from shared.channels.spec import Channel, FromBody, QueueReceiver, SyncPolicy, load
from shared.wiring import WIRING, build_wiring, check_wiring

ROOT = Path(__file__).resolve().parents[2]


def test_the_registry_and_the_wiring_are_complete() -> None:
    assert check_registry(CHANNELS) == []
    assert check_wiring(WIRING, CHANNELS) == []


def test_every_channel_package_is_registered() -> None:
    """A package under shared/channels/ that declares CHANNEL but is not in the registry would
    be a channel half-added: its code exists, nothing runs it."""
    declared = []
    for info in pkgutil.iter_modules(shared.channels.__path__):
        if info.ispkg:
            module = importlib.import_module(f"shared.channels.{info.name}")
            if isinstance(getattr(module, "CHANNEL", None), Channel):
                declared.append(module.CHANNEL.name)
    assert sorted(declared) == sorted(c.name for c in CHANNELS)


@pytest.mark.parametrize("channel", CHANNELS, ids=lambda c: c.name)
def test_each_sandbox_speaks_the_control_surface_and_its_secret_fits_the_schema(
    channel: Channel,
) -> None:
    sandbox = load(channel.sandbox)()
    assert isinstance(sandbox, ChannelSandbox)
    secret = sandbox.keel_secret("http://127.0.0.1:9")
    load(channel.secret_schema).model_validate(secret)
    if channel.receiver is not None:  # a channel delivering to a queue signs nothing
        assert f"{channel.name}_webhook_secret" in sandbox.local_only_secrets()
    assert all(k.startswith(f"{channel.name}_") for k in sandbox.local_only_secrets())


def test_half_registered_channels_are_reported() -> None:
    shopify = next(c for c in CHANNELS if c.name == "shopify")
    parser_only = dataclasses.replace(shopify, name="a", receiver=None)
    receiver_only = dataclasses.replace(shopify, name="b", inbound=None)
    no_matching = dataclasses.replace(shopify, name="c", line_item_ref=None)
    broken_path = dataclasses.replace(shopify, name="d", outbound_stock="shared.nowhere:x")
    too_little = dataclasses.replace(shopify, name="e", sync=SyncPolicy(max_concurrency=1))
    no_rows = dataclasses.replace(shopify, name="f", sync=SyncPolicy(rows_per_call=0))
    no_window = dataclasses.replace(
        shopify, name="g", sync=SyncPolicy(batch_size=11, max_batching_window_s=0)
    )
    problems = check_registry(
        (parser_only, receiver_only, no_matching, broken_path, too_little, no_rows, no_window)
    )
    assert {p.split(":")[0] for p in problems} == {"a", "b", "c", "d", "e", "f", "g"}


def test_a_shipment_confirmer_that_does_not_load_is_reported() -> None:
    shopify = next(c for c in CHANNELS if c.name == "shopify")
    broken = dataclasses.replace(shopify, confirm_shipment="shared.channels.shopify:nothing")
    assert [p for p in check_registry((broken,)) if "confirm_shipment" in p] != []


def test_a_new_channel_gets_its_queue_function_secret_and_relay_route_from_the_registry() -> None:
    woo = next(c for c in CHANNELS if c.name == "woocommerce")
    etsy = dataclasses.replace(woo, name="etsy", sync=SyncPolicy(batch_size=20, timeout_s=30))
    wiring = build_wiring((*CHANNELS, etsy))
    assert check_wiring(wiring, (*CHANNELS, etsy)) == []
    assert wiring.queue("sync-etsy").visibility_timeout_s == 180  # 6x the consumer's timeout
    consumer = wiring.function("sync-etsy")
    assert consumer.env == {"KEEL_CHANNEL": "etsy"} and consumer.secrets == ("etsy",)
    assert "sync-etsy" in wiring.function("relay").sends_to
    assert "sync-etsy" in wiring.function("relay-catalog").sends_to
    assert "etsy" in wiring.function("webhook").secrets and "etsy" in wiring.secrets


def test_a_wiring_that_lost_a_channel_part_is_reported() -> None:
    stale = dataclasses.replace(
        WIRING,
        queues=tuple(q for q in WIRING.queues if q.name != "sync-shopify"),
        functions=tuple(
            dataclasses.replace(f, sends_to=()) if f.name == "relay" else f
            for f in WIRING.functions
        ),
    )
    problems = check_wiring(stale, CHANNELS)
    assert any("no sync-shopify queue" in p for p in problems)
    assert any("relay does not send to sync-woocommerce" in p for p in problems)


def test_nothing_outside_the_channel_packages_names_a_channel_in_code() -> None:
    """The wiring, the functions, the stores, the services and the stack code read the registry.
    (Scenarios, sandboxes and tests may name channels: they are test equipment.) Carriers too:
    the workflow's is chosen by configuration (KEEL_CARRIER), not named in code."""
    from shared.carriers.registry import CARRIERS

    names = [*(c.name for c in CHANNELS), *CARRIERS]
    roots = ["functions", "shared/services", "shared/stores", "shared/domain", "infra"]
    roots += ["shared/wiring.py", "shared/settings.py", "local_stack/stack.py"]
    roots += ["local_stack/resources.py", "local_stack/pollers.py", "local_stack/gateway.py"]
    offenders = []
    for root in roots:
        path = ROOT / root
        for file in [path] if path.is_file() else sorted(path.rglob("*.py")):
            for number, line in enumerate(file.read_text().splitlines(), 1):
                code = line.split("#")[0]
                if any(f'"{n}"' in code or f"'{n}'" in code for n in names):
                    offenders.append(f"{file.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_a_channel_that_delivers_to_a_queue_gets_the_queue_its_consumer_and_its_senders() -> None:
    """The queue-delivery mechanism, channel-agnostic: a channel declaring a QueueReceiver gets
    `notifications-<channel>` (+DLQ) open to its documented senders, and a consumer that sends
    to ingest; ingest reads its secret; no webhook is involved."""
    woo = next(c for c in CHANNELS if c.name == "woocommerce")
    queued = dataclasses.replace(
        woo,
        name="etsy",
        receiver=None,
        queue_receiver=QueueReceiver(
            senders=("437568002678",),
            delivery_id=FromBody(("Meta", "Id")),
            topic=FromBody(("Type",)),
            sender_actions=("sqs:SendMessage", "sqs:GetQueueAttributes"),
        ),
    )
    assert check_registry((queued,)) == []
    wiring = build_wiring((*CHANNELS, queued))
    assert check_wiring(wiring, (*CHANNELS, queued)) == []
    queue = wiring.queue("notifications-etsy")
    assert queue.senders == ("437568002678",)
    assert queue.sender_actions == ("sqs:SendMessage", "sqs:GetQueueAttributes")
    consumer = wiring.function("notifications-etsy")
    assert consumer.handler == "functions.queue_delivery.handler:handler"
    assert consumer.env == {"KEEL_CHANNEL": "etsy"} and consumer.sends_to == ("ingest",)
    assert consumer.timeout_s * 6 <= queue.visibility_timeout_s
    assert "etsy" in wiring.function("ingest").secrets
    assert "etsy" not in wiring.function("webhook").secrets
    both = dataclasses.replace(queued, receiver=woo.receiver)
    assert any("not both" in p for p in check_registry((both,)))
    lost = dataclasses.replace(wiring, queues=tuple(q for q in wiring.queues if q is not queue))
    assert any("notifications-etsy" in p for p in check_wiring(lost, (queued,)))


def test_every_subscription_a_channel_asks_for_is_one_its_parser_acts_on() -> None:
    """docs/deploy.md tells operators to subscribe these: each must reach an order (or, for
    offer notifications, the repricer; for listing news, a read of the listing)."""
    from shared.channels.amazon.notifications import (
        ANY_OFFER_CHANGED,
        ORDER_CHANGE,
        QUANTITY_CHANGE,
    )
    from shared.channels.shopify.listing_news import TOPICS as SHOPIFY_NEWS
    from shared.channels.shopify.orders import ORDER_TOPICS as SHOPIFY_TOPICS
    from shared.channels.woocommerce.listing_news import TOPIC as WOO_NEWS
    from shared.channels.woocommerce.orders import DELETED_TOPIC
    from shared.channels.woocommerce.orders import ORDER_TOPICS as WOO_TOPICS

    acted_on = {
        "shopify": SHOPIFY_TOPICS | SHOPIFY_NEWS,
        "woocommerce": WOO_TOPICS | {DELETED_TOPIC, WOO_NEWS},
        "bol": {"ORDER"},
        "amazon": {ORDER_CHANGE, ANY_OFFER_CHANGED, QUANTITY_CHANGE},
    }
    for channel in CHANNELS:
        assert channel.subscriptions, channel.name
        assert set(channel.subscriptions) <= acted_on[channel.name], channel.name


def test_the_workflows_carrier_is_the_configured_one_or_the_only_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared.carriers import registry as carriers

    (only,) = carriers.CARRIER_SPECS.values()
    assert carriers.workflow_carrier(None) is only
    assert carriers.workflow_carrier(only.name) is only
    with pytest.raises(ValueError, match="no carrier 'dhl'"):
        carriers.workflow_carrier("dhl")
    second = dataclasses.replace(only, name="dhl")
    monkeypatch.setitem(carriers.CARRIER_SPECS, "dhl", second)
    with pytest.raises(ValueError, match="set KEEL_CARRIER"):
        carriers.workflow_carrier(None)
    assert carriers.workflow_carrier("dhl") is second
