"""The channel registry: every channel Keel speaks, each declared as data by its own package.

A channel is one package under `shared/channels/<channel>/` whose `__init__` exports `CHANNEL`,
a `spec.Channel` record: how its webhooks are received, the schema of its secret, how order
lines match listings, its inbound parser, its outbound stock adapter and its sandbox. The wiring,
the functions, the local stack and the CDK stack read `CHANNELS`; nothing else names a channel.
Adding a channel is adding its package here (README: "Adding a channel").

Stdlib only: the webhook ack path imports this.
"""

from __future__ import annotations

from shared.channels.amazon import CHANNEL as AMAZON
from shared.channels.bol import CHANNEL as BOL
from shared.channels.shopify import CHANNEL as SHOPIFY
from shared.channels.spec import Channel, load
from shared.channels.woocommerce import CHANNEL as WOOCOMMERCE

CHANNELS: tuple[Channel, ...] = (SHOPIFY, WOOCOMMERCE, BOL, AMAZON)
BY_NAME: dict[str, Channel] = {c.name: c for c in CHANNELS}


def check_registry(channels: tuple[Channel, ...]) -> list[str]:
    """What is half-registered: every problem, so one run shows them all."""
    problems: list[str] = []
    names = [c.name for c in channels]
    if len(set(names)) != len(names):
        problems.append(f"channel names repeat: {names}")
    for c in channels:
        if c.receiver is not None and c.queue_receiver is not None:
            problems.append(f"{c.name}: deliveries come by webhook or by queue, not both")
        if c.receives_deliveries != (c.inbound is not None):
            problems.append(
                f"{c.name}: a receiver (webhook or queue) and an inbound parser come together"
            )
        if c.poll_orders is not None and c.line_item_ref is None:
            problems.append(f"{c.name}: polled orders need line_item_ref to match listings")
        if c.fetch_order is not None and c.inbound is None:
            problems.append(f"{c.name}: fetch_order serves an inbound parser's notices")
        if c.inbound is not None and c.line_item_ref is None:
            problems.append(f"{c.name}: inbound orders need line_item_ref to match listings")
        for label, path in (
            ("secret_schema", c.secret_schema),
            ("sandbox", c.sandbox),
            ("inbound", c.inbound),
            ("outbound_stock", c.outbound_stock),
            ("poll_orders", c.poll_orders),
            ("fetch_order", c.fetch_order),
            ("confirm_shipment", c.confirm_shipment),
            ("cancel_lines", c.cancel_lines),
            ("accept_cancellation", c.accept_cancellation),
            ("outbound_prices", c.outbound_prices),
            ("offer_changes", c.offer_changes),
            ("read_competition", c.read_competition),
            ("estimate_fees", c.estimate_fees),
        ):
            if path is None:
                continue
            try:
                load(path)
            except (ImportError, AttributeError, ValueError) as exc:
                problems.append(f"{c.name}: {label} {path!r} does not load: {exc}")
        schema_fields = _schema_fields(c.secret_schema)
        if schema_fields is not None and c.account_field not in schema_fields:
            problems.append(f"{c.name}: account_field {c.account_field!r} is not in its secret")
        if c.offer_changes is not None and (c.offer_ref is None or c.inbound is None):
            problems.append(
                f"{c.name}: offer changes come through an inbound door and name offer_ref"
            )
        if c.outbound_prices is not None and not c.publishes_stock:
            problems.append(f"{c.name}: prices go out on the sync queue stock publishing has")
        if c.sync.max_concurrency is not None and c.sync.max_concurrency < 2:
            problems.append(f"{c.name}: Lambda's SQS maximum concurrency is at least 2")
        if c.sync.rows_per_call < 1:
            problems.append(f"{c.name}: a stock-write call carries at least one listing")
        if c.sync.batch_size > 10 and c.sync.max_batching_window_s < 1:
            problems.append(f"{c.name}: Lambda takes SQS batches over 10 only with a window")
    return problems


def _schema_fields(secret_schema: str) -> set[str] | None:
    """The secret model's field names; None when it does not load (reported above)."""
    try:
        return set(load(secret_schema).model_fields)
    except (ImportError, AttributeError, ValueError):
        return None
