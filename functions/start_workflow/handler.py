"""The orders stream -> the order workflow: start one execution per accepted order (named after
its key, so a replayed start is refused by Step Functions), stop the carrier wait of an order
that ended."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from shared.partial_batch import stream_records
from shared.runtime import runtime
from shared.services.workflow import ORDER_EDITED, fail_waiting
from shared.services.workflow_start import Edited, Start, what_follows
from shared.settings import WorkflowSettings
from shared.workflow import execution_name

logger = Logger(service="keel-start-workflow")


def record_handler(record: DynamoDBRecord) -> str:
    ddb = record.dynamodb
    follows = what_follows(ddb.old_image, ddb.new_image) if ddb else None
    if follows is None:
        return "nothing"
    logger.append_keys(correlation_id=follows.order_key)
    rt = runtime()
    sfn = rt.aws("stepfunctions")
    if isinstance(follows, Start):
        try:
            sfn.start_execution(
                stateMachineArn=rt.settings(WorkflowSettings).order_workflow_arn,
                name=execution_name(follows.order_key),
                input=json.dumps({"order_key": follows.order_key}),
            )
        except sfn.exceptions.ExecutionAlreadyExists:
            logger.info("workflow already started")
            return "already started"
        logger.info("workflow started")
        return "started"
    token = rt.shipments.waiting_token(follows.order_key)
    if token is None:
        return "nothing waits"  # the wait, when it comes, checks the order itself
    if isinstance(follows, Edited):
        fail_waiting(sfn, token, f"{follows.order_key} edited: {follows.why}", ORDER_EDITED)
        logger.info("carrier wait stopped: order edited", extra={"why": follows.why})
        return "re-planning"
    fail_waiting(sfn, token, f"{follows.order_key} is {follows.status}")
    logger.info("carrier wait stopped", extra={"status": follows.status})
    return "stopped"


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return stream_records(event, context, record_handler)
