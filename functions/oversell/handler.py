"""The orders stream -> each channel's oversell policy for orders held for stock (see
shared/services/oversell.py). A channel's failure retries the record; a permanent one ends in
the function's stream-failure queue (alarmed) and the order stays held for a person."""

from __future__ import annotations

from functools import partial
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from shared.channels.errors import PermanentError
from shared.channels.port import CancelsLines
from shared.domain.oversell import OversellPolicy
from shared.metrics import count
from shared.partial_batch import stream_records
from shared.runtime import runtime
from shared.services.oversell import follow_policy, policy_trigger
from shared.settings import OversellSettings

logger = Logger(service="keel-oversell")


def _canceller(channel: str, account: str) -> CancelsLines | None:
    """Built only for an order the policy cuts: the rest never import httpx."""
    kit = runtime().channel(channel)
    return kit.line_canceller(account) if kit.can("cancel_lines") else None


def record_handler(record: DynamoDBRecord) -> str:
    ddb = record.dynamodb
    trigger = policy_trigger(ddb.old_image, ddb.new_image) if ddb else None
    if trigger is None:
        return "nothing"
    logger.append_keys(correlation_id=trigger.order_key)
    rt = runtime()
    policy = rt.settings(OversellSettings).oversell_policy.get(trigger.channel, OversellPolicy.HOLD)
    try:
        done = follow_policy(
            trigger.order_key, policy, rt.orders, rt.inventory, partial(_canceller, trigger.channel)
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
    return stream_records(event, context, record_handler)
