"""The web ACL: its rules (pure) and what the rendered firewall means for every stack."""

from __future__ import annotations

from typing import Any

import pytest

from components._naming import waf_log_group_name
from components.settings import Settings, settings_from_mapping
from components.waf import MANAGED_RULE_GROUPS, body_inspection_limit, web_acl_rules
from tests.components.test_api import T_LOG_GROUP, T_STAGE, Edge, edge
from tests.harness import stack_config

T_ACL = "aws:wafv2/webAcl:WebAcl"
T_ASSOC = "aws:wafv2/webAclAssociation:WebAclAssociation"
T_LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"


def settings(stack: str, **overrides: Any) -> Settings:
    return settings_from_mapping(stack, stack_config(stack, overrides))


@pytest.fixture
def rendered(stack: str) -> Edge:
    return edge(stack)


def _by_name(rules: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in rules}


def test_rate_rule_blocks_one_ip_over_the_configured_limit_per_5_minutes(stack: str) -> None:
    s = settings(stack)
    rule = _by_name(web_acl_rules(s))["rate-limit-per-ip"]
    statement = rule["statement"]["rate_based_statement"]
    assert statement == {"limit": s.waf_rate_limit, "aggregate_key_type": "IP", "evaluation_window_sec": 300}
    assert rule["action"] == {"block": {}}


def test_body_size_rule_blocks_bodies_over_the_limit_and_anything_wafs_cannot_inspect(stack: str) -> None:
    s = settings(stack)
    rule = _by_name(web_acl_rules(s))["body-size-limit"]
    statement = rule["statement"]["size_constraint_statement"]
    assert statement["comparison_operator"] == "GT"
    assert statement["size"] == s.max_request_body_bytes
    assert statement["field_to_match"] == {"body": {"oversize_handling": "MATCH"}}
    assert rule["action"] == {"block": {}}


def test_managed_groups_keep_their_own_actions_except_the_8kb_body_rule(stack: str) -> None:
    rules = _by_name(web_acl_rules(settings(stack)))
    for group in MANAGED_RULE_GROUPS:
        rule = rules[group]
        assert rule["override_action"] == {"none": {}} and "action" not in rule
        assert rule["statement"]["managed_rule_group_statement"]["vendor_name"] == "AWS"
    common = rules["AWSManagedRulesCommonRuleSet"]["statement"]["managed_rule_group_statement"]
    # Our size rule enforces maxRequestBodyBytes; the group's fixed 8 KB limit only counts.
    assert common["rule_action_overrides"] == [{"name": "SizeRestrictions_BODY", "action_to_use": {"count": {}}}]
    assert set(MANAGED_RULE_GROUPS) >= {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
                                        "AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesSQLiRuleSet"}


def test_every_rule_is_visible_and_uniquely_named_and_ordered(stack: str) -> None:
    rules = web_acl_rules(settings(stack))
    assert len({r["name"] for r in rules}) == len(rules)
    assert len({r["priority"] for r in rules}) == len(rules)
    for rule in rules:
        vis = rule["visibility_config"]
        assert vis["cloudwatch_metrics_enabled"] is True and vis["sampled_requests_enabled"] is True
        assert vis["metric_name"]
    # Our own cheap rules run before the managed groups.
    first_managed = min(r["priority"] for r in rules if r["name"] in MANAGED_RULE_GROUPS)
    assert all(r["priority"] < first_managed for r in rules if r["name"] not in MANAGED_RULE_GROUPS)


@pytest.mark.parametrize(("size", "limit"), [(1, None), (8192, None), (16384, None), (16385, "KB_32"),
                                             (32768, "KB_32"), (40000, "KB_48"), (65536, "KB_64")])
def test_body_inspection_limit_covers_the_allowed_size(size: int, limit: str | None) -> None:
    assert body_inspection_limit(size) == limit


def test_body_inspection_limit_beyond_waf_names_the_setting() -> None:
    with pytest.raises(ValueError, match="maxRequestBodyBytes"):
        body_inspection_limit(65537)


# ---- rendered --------------------------------------------------------------------------------------------


def test_web_acl_is_regional_visible_and_carries_the_rules(rendered: Edge) -> None:
    acl = rendered.graph.one(T_ACL)
    assert acl["scope"] == "REGIONAL"
    assert acl["defaultAction"] == {"allow": {}}
    assert acl["visibilityConfig"]["cloudwatchMetricsEnabled"] is True
    assert acl["visibilityConfig"]["sampledRequestsEnabled"] is True
    assert acl["visibilityConfig"]["metricName"] == acl["name"]  # the WebACL dimension alarms use
    assert {r["name"] for r in acl["rules"]} == {r["name"] for r in web_acl_rules(rendered.settings)}
    assert all(r["visibilityConfig"]["cloudwatchMetricsEnabled"] for r in acl["rules"])
    assert acl.get("associationConfig") is None  # default inspection limit covers the default body size


def test_larger_body_limits_raise_the_inspection_limit() -> None:
    acl = edge("dev", config={"maxRequestBodyBytes": 30000}).graph.one(T_ACL)
    assert acl["associationConfig"] == {"requestBodies": [{"apiGateway": {"defaultSizeInspectionLimit": "KB_32"}}]}


def test_stage_is_associated_with_the_web_acl(rendered: Edge) -> None:
    g = rendered.graph
    (association,) = g.of_type(T_ASSOC)
    assert association.property_dependencies["resourceArn"] == [g.one(T_STAGE).urn]
    assert association.property_dependencies["webAclArn"] == [g.one(T_ACL).urn]


def test_waf_logs_go_to_an_encrypted_aws_waf_logs_group_with_credentials_redacted(rendered: Edge) -> None:
    g = rendered.graph
    s = rendered.settings
    (logging,) = g.of_type(T_LOGGING)
    assert logging.property_dependencies["resourceArn"] == [g.one(T_ACL).urn]
    (group_urn,) = logging.property_dependencies["logDestinationConfigs"]
    group = g.by_urn(group_urn)
    assert group.type == T_LOG_GROUP
    assert group["name"] == waf_log_group_name(s.name_prefix) and group["name"].startswith("aws-waf-logs-")
    assert group["retentionInDays"] == s.log_retention_days
    assert g.depends_on(group, g.named("t-keys-logs"))
    redacted = {f["singleHeader"]["name"] for f in logging["redactedFields"]}
    assert redacted == {"authorization", "x-api-key"}
