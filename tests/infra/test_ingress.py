"""The REST API: exactly the wiring's routes, throttled, access-logged; WAF where configured."""

from __future__ import annotations

import pytest

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
    (association,) = associations.values()
    (stage,) = template.of_type("AWS::ApiGateway::Stage")
    assert stage in template.referenced(association["Properties"]["ResourceArn"])


def test_webhook_urls_are_stack_outputs(template: Template) -> None:
    outputs = template.body["Outputs"]
    assert "webhooks/shopify" in template.text(outputs["WebhookUrlShopify"]["Value"])
