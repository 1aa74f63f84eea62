"""Regional WAF web ACL on the API stage: AWS managed rules and a per-IP rate limit."""

from __future__ import annotations

import json

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra_cdk.config import StageConfig

RATE_LIMITED_BODY_KEY = "rate_limited"
RATE_LIMITED_BODY = json.dumps(
    {
        "error": {
            "code": "rate_limited",
            "message": "Too many requests from this address",
            "details": [],
            # WAF answers before API Gateway assigns a request id.
            "request_id": "",
        }
    },
    separators=(",", ":"),
)


def _visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )


def _managed(priority: int, name: str, count_only: tuple[str, ...] = ()) -> wafv2.CfnWebACL.RuleProperty:
    """An AWS managed rule group; rules in count_only are only counted, not enforced."""
    overrides = [
        wafv2.CfnWebACL.RuleActionOverrideProperty(
            name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
        )
        for rule in count_only
    ]
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                vendor_name="AWS", name=name, rule_action_overrides=overrides or None
            )
        ),
        visibility_config=_visibility(name),
    )


class ApiFirewall(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig, stage: apigw.Stage) -> None:
        super().__init__(scope, construct_id)
        rate_rule = wafv2.CfnWebACL.RuleProperty(
            name="RatePerIp",
            priority=0,
            action=wafv2.CfnWebACL.RuleActionProperty(
                # WAF's custom response takes precedence over API Gateway's: answer 429 in the envelope.
                block=wafv2.CfnWebACL.BlockActionProperty(
                    custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                        response_code=429,
                        custom_response_body_key=RATE_LIMITED_BODY_KEY,
                        response_headers=[
                            wafv2.CfnWebACL.CustomHTTPHeaderProperty(name="Retry-After", value="60"),
                            wafv2.CfnWebACL.CustomHTTPHeaderProperty(name="X-Content-Type-Options", value="nosniff"),
                        ],
                    )
                )
            ),
            statement=wafv2.CfnWebACL.StatementProperty(
                rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                    aggregate_key_type="IP", limit=config.waf_rate_limit, evaluation_window_sec=300
                )
            ),
            visibility_config=_visibility("RatePerIp"),
        )
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=f"{config.prefix}-api",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            custom_response_bodies={
                RATE_LIMITED_BODY_KEY: wafv2.CfnWebACL.CustomResponseBodyProperty(
                    content_type="APPLICATION_JSON", content=RATE_LIMITED_BODY
                )
            },
            rules=[
                rate_rule,
                # Body size is the handlers' call (413 payload_too_large per API.md), not an 8 KB WAF 403.
                _managed(1, "AWSManagedRulesCommonRuleSet", count_only=("SizeRestrictions_BODY",)),
                _managed(2, "AWSManagedRulesKnownBadInputsRuleSet"),
            ],
            visibility_config=_visibility(f"{config.prefix}-api"),
        )
        association = wafv2.CfnWebACLAssociation(
            self, "Association", resource_arn=stage.stage_arn, web_acl_arn=self.web_acl.attr_arn
        )
        # The stage ARN is assembled from ids, not a reference: make the order explicit.
        association.node.add_dependency(stage)
