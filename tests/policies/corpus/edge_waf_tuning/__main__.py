"""PR: a web ACL for the public stage.  Managed groups come from a list; the known-bad-inputs group is put in
count mode "while we tune false positives", and a custom rule group for the partner IP allowlist does not
publish metrics."""

from typing import Any

import pulumi
import pulumi_aws as aws

config = pulumi.Config()

MANAGED_GROUPS = {
    # group name -> count only?
    "AWSManagedRulesAmazonIpReputationList": False,
    "AWSManagedRulesCommonRuleSet": False,
    "AWSManagedRulesKnownBadInputsRuleSet": True,  # TODO: back to block after tuning
}


def visibility(metric: str, metrics: bool = True) -> Any:
    return {"cloudwatch_metrics_enabled": metrics, "sampled_requests_enabled": True, "metric_name": metric}


partners = aws.wafv2.IpSet("partners", scope="REGIONAL", ip_address_version="IPV4",
                           addresses=["198.51.100.0/24", "203.0.113.0/24"])
partner_rules = aws.wafv2.RuleGroup(
    "partner-allowlist",
    scope="REGIONAL",
    capacity=10,
    rules=[{
        "name": "allow-partners",
        "priority": 0,
        "action": {"allow": {}},
        "statement": {"ip_set_reference_statement": {"arn": partners.arn}},
        "visibility_config": visibility("allow-partners", metrics=False),
    }],
    visibility_config=visibility("partner-allowlist", metrics=False),
)

rules: list[Any] = [{
    "name": "partners",
    "priority": 0,
    "override_action": {"none": {}},
    "statement": {"rule_group_reference_statement": {"arn": partner_rules.arn}},
    "visibility_config": visibility("partners"),
}]
for priority, (group, count_only) in enumerate(MANAGED_GROUPS.items(), start=10):
    rules.append({
        "name": group,
        "priority": priority,
        "override_action": {"count": {}} if count_only else {"none": {}},
        "statement": {"managed_rule_group_statement": {"name": group, "vendor_name": "AWS"}},
        "visibility_config": visibility(group),
    })

acl = aws.wafv2.WebAcl("public", scope="REGIONAL", default_action={"allow": {}}, rules=rules,
                       visibility_config=visibility("public"))
aws.wafv2.WebAclAssociation("public-stage", resource_arn=config.require("stageArn"), web_acl_arn=acl.arn)
logs = aws.cloudwatch.LogGroup("aws-waf-logs-public", name="aws-waf-logs-public", retention_in_days=30,
                               kms_key_id="arn:aws:kms:eu-west-1:123456789012:key/1b2c3d4e-aaaa-bbbb-cccc-1234567890ab")
aws.wafv2.WebAclLoggingConfiguration("public", resource_arn=acl.arn, log_destination_configs=[logs.arn])
