"""The orders stream -> each channel's oversell policy for orders held for stock (see
shared/services/oversell.py). A channel's failure retries the record; a permanent one ends in
the function's stream-failure queue (alarmed) and the order stays held for a person."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from shared.aws import client
from shared.channels.errors import PermanentError
from shared.channels.port import CancelsLines
from shared.channels.registry import BY_NAME
from shared.channels.spec import load
from shared.domain.oversell import OversellPolicy
from shared.metrics import count
from shared.secret_cache import get_json
from shared.services.oversell import follow_policy, policy_trigger
from shared.settings import OversellSettings, SecretName, env_prefix
from shared.stores.inventory import InventoryStore
from shared.stores.orders import OrderStore

if TYPE_CHECKING:
    import httpx

logger = Logger(service="keel-oversell")


@cache
def _settings() -> OversellSettings:
    return OversellSettings()  # type: ignore[call-arg]  # values come from the environment


@cache
def _http() -> httpx.Client:
    """Only an order the policy cancels lines of calls a channel: the rest never import httpx."""
    import httpx

    return httpx.Client(timeout=httpx.Timeout(15.0, connect=3.0))


def _canceller(channel: str) -> CancelsLines | None:
    spec = BY_NAME.get(channel)
    if spec is None or spec.cancel_lines is None:
        return None
    secret_name = SecretName(_env_prefix=env_prefix(channel)).secret_name  # type: ignore[call-arg]
    secret = get_json(secret_name, _settings().secret_cache_seconds)
    adapter: CancelsLines = load(spec.cancel_lines)(
        load(spec.secret_schema).model_validate(secret), _http()
    )
    return adapter


def record_handler(record: DynamoDBRecord) -> str:
    ddb = record.dynamodb
    trigger = policy_trigger(ddb.old_image, ddb.new_image) if ddb else None
    if trigger is None:
        return "nothing"
    logger.append_keys(correlation_id=trigger.order_key)
    settings = _settings()
    policy = settings.oversell_policy.get(trigger.channel, OversellPolicy.HOLD)
    db = client("dynamodb")
    try:
        done = follow_policy(
            trigger.order_key,
            policy,
            OrderStore(settings.orders_table, db),
            InventoryStore(settings.inventory_table, db),
            lambda: _canceller(trigger.channel),
        )
    except PermanentError as exc:  # the channel refused: the order waits for a person
        logger.warning("oversell policy refused", extra={"error": str(exc)[:500]})
        count("OversellPolicyRefused", 1, "keel-oversell", channel=trigger.channel)
        return "refused"
    logger.info("oversell policy", extra={"policy": policy.value, "done": done})
    if done.startswith("cut "):
        count("OrdersCutForStock", 1, "keel-oversell", channel=trigger.channel)
    return done


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    processor = BatchProcessor(
        event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
    )
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
