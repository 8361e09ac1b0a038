"""The REST API: exactly the wiring's routes, byte-exact bodies, throttled, access-logged; WAF
where configured; the operator's outputs."""

from __future__ import annotations

import re

import pytest

from infra.ingress import MAX_BODY_BYTES
from shared.channels.registry import CHANNELS
from shared.wiring import WIRING, HttpRoute
from tests.infra.template import Template

pytestmark = pytest.mark.infra


def test_routes_are_exactly_those_in_the_wiring(template: Template) -> None:
    functions = template.functions()
    expected = {
        (f.trigger.method, f.trigger.path): functions[f.name]
        for f in WIRING.functions
        if isinstance(f.trigger, HttpRoute)
    }
    assert template.routes() == expected
    for method in template.of_type("AWS::ApiGateway::Method").values():
        assert method["Properties"]["Integration"]["Type"] == "AWS_PROXY"


def test_every_body_reaches_the_function_base64_encoded(template: Template) -> None:
    """The HMAC is over the raw bytes: with `*/*` as a binary media type API Gateway passes any
    body base64-encoded (`isBase64Encoded`), so bytes that are not UTF-8 survive."""
    (api,) = template.of_type("AWS::ApiGateway::RestApi").values()
    assert api["Properties"]["BinaryMediaTypes"] == ["*/*"]


def test_stage_is_throttled_and_access_logged(template: Template) -> None:
    (stage,) = template.of_type("AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    assert props["StageName"] == template.config.name
    (settings,) = props["MethodSettings"]
    assert settings["HttpMethod"] == "*"
    assert settings["ResourcePath"] == "/*"
    assert settings["ThrottlingRateLimit"] == template.config.api_rate_limit_rps
    assert settings["ThrottlingBurstLimit"] == template.config.api_burst_limit
    assert "$context.requestId" in props["AccessLogSetting"]["Format"]
    (log_group,) = template.referenced(props["AccessLogSetting"]["DestinationArn"])
    assert template.resources[log_group]["Type"] == "AWS::Logs::LogGroup"


def test_waf_limits_body_size_where_configured(template: Template) -> None:
    acls = template.of_type("AWS::WAFv2::WebACL")
    associations = template.of_type("AWS::WAFv2::WebACLAssociation")
    if not template.config.waf:
        assert not acls and not associations
        return
    (acl_id,) = acls
    (rule,) = template.props(acl_id)["Rules"]
    assert rule["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 413
    regex = rule["Statement"]["RegexMatchStatement"]
    assert regex["FieldToMatch"] == {"SingleHeader": {"Name": "content-length"}}
    blocks = re.compile(regex["RegexString"]).fullmatch
    for length in (0, 1, 999_999, 1_048_576, MAX_BODY_BYTES - 1):
        assert not blocks(str(length)), length
    for length in (MAX_BODY_BYTES, 9_999_999, 10_485_760, 10**12):
        assert blocks(str(length)), length
    # Lambda takes a 6 MB event; the body travels base64-encoded (4/3) with headers around it.
    assert MAX_BODY_BYTES * 4 / 3 + 256 * 1024 < 6 * 1024 * 1024
    (association,) = associations.values()
    (stage,) = template.of_type("AWS::ApiGateway::Stage")
    assert stage in template.referenced(association["Properties"]["ResourceArn"])


def test_webhook_urls_are_stack_outputs(template: Template) -> None:
    """One per channel with a webhook receiver, and none for the others."""
    outputs = template.body["Outputs"]
    receiving = {c.name for c in CHANNELS if c.receiver is not None}
    assert {"shopify", "woocommerce"} <= receiving  # every channel added since has one too
    urls = {k for k in outputs if k.startswith("WebhookUrl")}
    assert urls == {f"WebhookUrl{c.capitalize()}" for c in receiving}
    for channel in receiving:
        value = template.text(outputs[f"WebhookUrl{channel.capitalize()}"]["Value"])
        assert f"webhooks/{channel}" in value


def test_redrive_arns_and_buckets_are_stack_outputs(template: Template) -> None:
    """A redrive names the source queue (`--destination-arn`): messages a function sends to a DLQ
    itself have no DeadLetterQueueSourceArn for SQS to return them by."""
    outputs, queues = template.body["Outputs"], template.queues()
    for spec in WIRING.queues:
        cid = "".join(part.capitalize() for part in spec.name.split("-"))
        assert outputs[f"Queue{cid}Arn"]["Value"] == {"Fn::GetAtt": [queues[spec.name], "Arn"]}
        assert outputs[f"Dlq{cid}DlqArn"]["Value"] == {
            "Fn::GetAtt": [queues[f"{spec.name}-dlq"], "Arn"]
        }
        assert f"Queue{cid}Arn" in outputs[f"Dlq{cid}DlqArn"]["Description"]
    for name, logical_id in template.buckets().items():
        cid = "".join(part.capitalize() for part in name.split("-"))
        assert outputs[f"Bucket{cid}Name"]["Value"] == {"Ref": logical_id}
