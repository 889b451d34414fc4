"""The WAFv2 web ACL in front of the API stage: managed rules, per-IP rate limit, body-size limit, logging."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components._naming import physical_name, waf_log_group_name
from components.settings import Settings

# AWS managed rule groups, in evaluation order after our own rules. IP reputation is cheap and drops known
# bad sources before the content rules look at the request.
MANAGED_RULE_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
)
# The Common rule set blocks bodies over 8 KB (SizeRestrictions_BODY). The API accepts up to
# maxRequestBodyBytes, so that one rule only counts and our own size rule enforces the configured limit:
# one setting decides, and the gateway and the function agree with WAF on it.
COMMON_RULE_SET_COUNT_ONLY = ("SizeRestrictions_BODY",)
RATE_WINDOW_SECONDS = 300
# API Gateway forwards at most this much of a body to WAF unless the web ACL raises the limit (costs more).
DEFAULT_BODY_INSPECTION_BYTES = 16 * 1024
_INSPECTION_LIMITS = {16 * 1024: "KB_16", 32 * 1024: "KB_32", 48 * 1024: "KB_48", 64 * 1024: "KB_64"}
REDACTED_HEADERS = ("authorization", "x-api-key")  # WAF wants them lower case


def body_inspection_limit(max_body_bytes: int) -> str | None:
    """The API Gateway body inspection limit needed to see ``max_body_bytes``; None when the default suffices.

    Bodies larger than the inspection limit are "oversize": the size rule treats them as a match (blocked),
    so the limit must be at least the allowed size, or legitimate bodies just under it would be blocked.
    """
    if max_body_bytes <= DEFAULT_BODY_INSPECTION_BYTES:
        return None
    for size, name in sorted(_INSPECTION_LIMITS.items()):
        if max_body_bytes <= size:
            return name
    raise ValueError(
        f"maxRequestBodyBytes: {max_body_bytes} exceeds the largest WAF body inspection limit "
        f"({max(_INSPECTION_LIMITS)} bytes)"
    )


def _visibility(metric: str) -> aws.wafv2.WebAclVisibilityConfigArgsDict:
    return {"cloudwatch_metrics_enabled": True, "sampled_requests_enabled": True, "metric_name": metric}


def web_acl_rules(s: Settings) -> list[dict[str, Any]]:
    """The rules of the web ACL (provider argument shape), highest priority first."""
    rules: list[dict[str, Any]] = [
        {
            # Per source IP over a 5-minute window; stage throttling is global, this isolates one abuser.
            "name": "rate-limit-per-ip",
            "priority": 0,
            "action": {"block": {}},
            "statement": {
                "rate_based_statement": {
                    "limit": s.waf_rate_limit,
                    "aggregate_key_type": "IP",
                    "evaluation_window_sec": RATE_WINDOW_SECONDS,
                }
            },
            "visibility_config": _visibility("rate-limit-per-ip"),
        },
        {
            # Oversize bodies (beyond what WAF can inspect) MATCH: anything WAF cannot see is refused.
            "name": "body-size-limit",
            "priority": 1,
            "action": {"block": {}},
            "statement": {
                "size_constraint_statement": {
                    "comparison_operator": "GT",
                    "size": s.max_request_body_bytes,
                    "field_to_match": {"body": {"oversize_handling": "MATCH"}},
                    "text_transformations": [{"priority": 0, "type": "NONE"}],
                }
            },
            "visibility_config": _visibility("body-size-limit"),
        },
    ]
    for offset, group in enumerate(MANAGED_RULE_GROUPS):
        statement: dict[str, Any] = {"name": group, "vendor_name": "AWS"}
        if group == "AWSManagedRulesCommonRuleSet":
            statement["rule_action_overrides"] = [
                {"name": rule, "action_to_use": {"count": {}}} for rule in COMMON_RULE_SET_COUNT_ONLY
            ]
        rules.append(
            {
                "name": group,
                "priority": 10 + offset,
                # Managed groups take override_action (none = use the group's own block actions), never action.
                "override_action": {"none": {}},
                "statement": {"managed_rule_group_statement": statement},
                "visibility_config": _visibility(group),
            }
        )
    return rules


@dataclass
class FirewallArgs:
    settings: Settings
    """Validated stack settings (rate limit, body limit, retention, naming)."""
    logs_key_arn: pulumi.Input[str]
    """Customer managed key encrypting the WAF log group (its policy trusts logs.<region>)."""
    stage_arn: pulumi.Input[str]
    """ARN of the API Gateway stage the web ACL protects."""


class ApiFirewall(pulumi.ComponentResource):
    """Creates a REGIONAL WAFv2 web ACL (default allow) with: a per-IP rate-based rule, a body-size rule, the
    AWS managed IP-reputation, common, known-bad-inputs and SQLi rule groups; CloudWatch metrics and sampled
    requests on the ACL and every rule; its association with the API stage; and full request logging to a
    KMS-encrypted log group (name prefixed ``aws-waf-logs-`` as WAF requires) with credentials redacted.

    WAF adds the log group's resource policy for ``delivery.logs.amazonaws.com`` itself when the deployer may
    call ``logs:PutResourcePolicy``; an explicit one would be an account-wide resource (10 per region).
    """

    web_acl: aws.wafv2.WebAcl
    log_group: aws.cloudwatch.LogGroup
    association: aws.wafv2.WebAclAssociation
    metric_name: str
    """The web ACL's CloudWatch metric name (the ``WebACL`` dimension of AWS/WAFV2 metrics)."""

    def __init__(self, name: str, args: FirewallArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:api:ApiFirewall", name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)
        acl_name = physical_name(s.name_prefix, "api", 128)
        self.metric_name = acl_name
        inspection = body_inspection_limit(s.max_request_body_bytes)
        # The provider types these as TypedDicts; the plain dicts above are checked by the tests instead.
        rules: list[Any] = web_acl_rules(s)
        allow: aws.wafv2.WebAclDefaultActionArgsDict = {"allow": {}}
        association_config: Any = (
            {"request_bodies": [{"api_gateway": {"default_size_inspection_limit": inspection}}]} if inspection else None
        )

        self.web_acl = aws.wafv2.WebAcl(
            f"{name}-acl",
            name=acl_name,
            description=f"Protects the {s.name_prefix} API stage",
            scope="REGIONAL",
            default_action=allow,
            rules=rules,
            association_config=association_config,
            visibility_config=_visibility(self.metric_name),
            opts=child,
        )
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=waf_log_group_name(s.name_prefix),
            retention_in_days=s.log_retention_days,
            kms_key_id=args.logs_key_arn,
            opts=child,
        )
        aws.wafv2.WebAclLoggingConfiguration(
            f"{name}-logging",
            resource_arn=self.web_acl.arn,
            log_destination_configs=[self.log_group.arn],
            # Bearer tokens and API keys are credentials: never written to logs.
            redacted_fields=[{"single_header": {"name": header}} for header in REDACTED_HEADERS],
            opts=child,
        )
        self.association = aws.wafv2.WebAclAssociation(
            f"{name}-association",
            resource_arn=args.stage_arn,
            web_acl_arn=self.web_acl.arn,
            opts=child,
        )
        self.register_outputs({"webAclArn": self.web_acl.arn, "logGroup": self.log_group.name})
