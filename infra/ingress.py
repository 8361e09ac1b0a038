"""The public edge: a REST API, one method per wiring `HttpRoute` (`POST /webhooks/{channel}`).

Bodies reach the function byte-exact: `binary_media_types=["*/*"]` makes API Gateway pass every
request body base64-encoded (`isBase64Encoded`), whatever its Content-Type. Without it API
Gateway treats a JSON body as text, and bytes that are not UTF-8 would not survive to the HMAC,
which is computed over the exact raw bytes.

Limits, outermost first:
- stage throttling (rate and burst from the config): a flood gets 429s, which channels retry;
- with `config.waf`, a WAFv2 web ACL answers 413 to any request whose Content-Length is
  4,000,000 or more, before API Gateway or Lambda are billed for it. WAF has no numeric
  comparison and inspects at most 64 KB of a body, so the header's digits are the test. The
  bound comes from Lambda: a synchronous invocation takes at most 6 MB (6,291,456 bytes) of
  event, and the base64 body is 4/3 of the raw one, so raw bodies up to ~4.5 MB fit with room
  for headers; a larger one would fail as a 5xx instead of a clear 413;
- API Gateway's own 10 MB cap (and, without WAF, Lambda's 6 MB event limit as a 5xx).
Bodies too large for an SQS message (the envelope over the handler's inline limit) are put in
the raw-bodies bucket by the handler and travel by reference.
Authentication is the channel's HMAC signature over the raw body, checked in the handler.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.compute import RETENTION
from infra.config import EnvConfig
from infra.nag import acknowledge
from shared.wiring import HttpRoute, Wiring

# Every request body reaches the handler base64-encoded and byte-exact (see the docstring).
BINARY_MEDIA_TYPES = ["*/*"]
# Content-Length >= 4,000,000: seven digits starting 4-9, or eight and more (see the docstring).
MAX_BODY_BYTES = 4_000_000
OVERSIZED_CONTENT_LENGTH = r"^([4-9][0-9]{6}|[0-9]{8,})$"


class Ingress(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        wiring: Wiring,
        config: EnvConfig,
        functions: Mapping[str, lambda_.IFunction],
    ) -> None:
        super().__init__(scope, id)
        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=RETENTION[config.log_retention_days],
            removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
        )
        self.api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=f"{config.resource_prefix}-api",
            description=f"Keel {config.name}: channel webhooks",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            binary_media_types=BINARY_MEDIA_TYPES,
            cloud_watch_role=False,  # see the APIG6 acknowledgement below
            deploy_options=apigw.StageOptions(
                stage_name=config.name,
                throttling_rate_limit=config.api_rate_limit_rps,
                throttling_burst_limit=config.api_burst_limit,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.custom(_ACCESS_LOG_FORMAT),
                tracing_enabled=True,
            ),
        )
        acknowledge(
            self.api,
            "AwsSolutions-APIG6",
            "Execution logging needs the account-wide API Gateway CloudWatch role "
            "(AWS::ApiGateway::Account), a per-region singleton that per-environment stacks in "
            "one account would overwrite and a teardown would remove. Access logs (with "
            "$context.error.message and integration status) plus the function's logs cover the "
            "single proxy route.",
        )
        acknowledge(
            self.api,
            "AwsSolutions-APIG2",
            "Body validation would reject a validly signed but malformed webhook before the "
            "handler can keep it as a held delivery (docs/decisions.md: nothing is lost); the "
            "handler verifies the HMAC over the raw body before reading it.",
        )

        self.routes: list[tuple[HttpRoute, str]] = []
        for spec in wiring.functions:
            if not isinstance(spec.trigger, HttpRoute):
                continue
            route = spec.trigger
            resource = self.api.root.resource_for_path(route.path.lstrip("/"))
            method = resource.add_method(
                route.method,
                apigw.LambdaIntegration(functions[spec.name], allow_test_invoke=False),
                authorization_type=apigw.AuthorizationType.NONE,
            )
            for finding in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
                acknowledge(
                    method,
                    finding,
                    "Channels (Shopify, WooCommerce) cannot present IAM, Cognito or API-key "
                    "credentials; each webhook is authenticated by its HMAC-SHA256 signature "
                    "over the raw body with the channel secret, verified in the handler.",
                )
            self.routes.append((route, spec.name))

        if config.waf:
            self._web_acl(config)
        else:
            acknowledge(
                self.api,
                "AwsSolutions-APIG3",
                f"No WAF in {config.name} (config.waf=False, ~5 USD/month per web ACL): it only "
                "receives test webhooks; stage throttling, API Gateway's 10 MB cap and Lambda's "
                "6 MB event limit still apply. Staging and prod have the web ACL.",
            )

    def url_for(self, path: str) -> str:
        """Public URL of a resource path such as `/webhooks/shopify` (a token until deploy)."""
        return self.api.url_for_path(path)

    def _web_acl(self, config: EnvConfig) -> None:
        name = f"{config.resource_prefix}-api"
        acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=name,
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(name),
            custom_response_bodies={
                "too-large": wafv2.CfnWebACL.CustomResponseBodyProperty(
                    content_type="APPLICATION_JSON", content='{"message": "body too large"}'
                )
            },
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="body-too-large",
                    priority=0,
                    action=wafv2.CfnWebACL.RuleActionProperty(
                        block=wafv2.CfnWebACL.BlockActionProperty(
                            custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                                response_code=413, custom_response_body_key="too-large"
                            )
                        )
                    ),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        regex_match_statement=wafv2.CfnWebACL.RegexMatchStatementProperty(
                            field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(
                                single_header={"Name": "content-length"}
                            ),
                            regex_string=OVERSIZED_CONTENT_LENGTH,
                            text_transformations=[
                                wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")
                            ],
                        )
                    ),
                    visibility_config=_visibility(f"{name}-body-too-large"),
                )
            ],
        )
        wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            resource_arn=self.api.deployment_stage.stage_arn,
            web_acl_arn=acl.attr_arn,
        )


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


# JSON access log: the standard fields plus why API Gateway or the integration failed.
_ACCESS_LOG_FORMAT = (
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
    '"requestTime":"$context.requestTime","httpMethod":"$context.httpMethod",'
    '"resourcePath":"$context.resourcePath","path":"$context.path",'
    '"status":"$context.status","protocol":"$context.protocol",'
    '"responseLength":"$context.responseLength","latencyMs":"$context.responseLatency",'
    '"integrationStatus":"$context.integration.status",'
    '"integrationLatencyMs":"$context.integration.latency",'
    '"error":"$context.error.message","waf":"$context.wafResponseCode",'
    '"userAgent":"$context.identity.userAgent"}'
)
