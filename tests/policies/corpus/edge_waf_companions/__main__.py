"""PR: a shared web ACL managed by several teams: the ACL itself ignores `rules`, and each managed group is
attached by a WebAclRuleGroupAssociation (the provider's documented pattern), the rate limit by a WebAclRule."""

import pulumi
import pulumi_aws as aws

GROUPS = ["AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesCommonRuleSet",
          "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesSQLiRuleSet"]


def metrics(name: str) -> aws.wafv2.WebAclVisibilityConfigArgsDict:
    return {"cloudwatch_metrics_enabled": True, "sampled_requests_enabled": True, "metric_name": name}


acl = aws.wafv2.WebAcl("shared", scope="REGIONAL", default_action={"allow": {}}, visibility_config=metrics("shared"),
                       opts=pulumi.ResourceOptions(ignore_changes=["rules"]))
for priority, group in enumerate(GROUPS, start=10):
    aws.wafv2.WebAclRuleGroupAssociation(
        f"shared-{group}",
        web_acl_arn=acl.arn,
        rule_name=group,
        priority=priority,
        managed_rule_group={"name": group, "vendor_name": "AWS"},
        visibility_config=metrics(group),
    )
aws.wafv2.WebAclRule(
    "shared-rate-limit",
    web_acl_arn=acl.arn,
    name="rate-limit",
    priority=0,
    action={"block": {}},
    statement={"rate_based_statement": {"limit": 1000, "aggregate_key_type": "IP"}},
    visibility_config=metrics("rate-limit"),
)
logs = aws.cloudwatch.LogGroup("aws-waf-logs-shared", name="aws-waf-logs-shared", retention_in_days=365,
                               kms_key_id="arn:aws:kms:eu-west-1:123456789012:key/1b2c3d4e-aaaa-bbbb-cccc-1234567890ab")
aws.wafv2.WebAclLoggingConfiguration("shared", resource_arn=acl.arn, log_destination_configs=[logs.arn])
