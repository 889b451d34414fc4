"""WAFv2 web ACL policies."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from . import _tokens as T
from ._meta import resource_policy, stack_policy
from ._model import Resource, Stack
from ._values import UNKNOWN, is_set


@resource_policy(
    name="wafv2-web-acl-has-rules",
    description="WAFv2 web ACLs must contain at least one rule or rule group.",
    severity=Severity.MEDIUM,
    category="exposure",
    controls=("WAF.10",),
    remediation="Add `rules` (e.g. AWS managed rule groups and a rate-based rule) or `rule_json`.",
    resource_types=(T.WAF_WEB_ACL,),
)
def wafv2_web_acl_has_rules(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if not is_set(r.get("rules")) and not is_set(r.get("ruleJson")):
        yield f"The web ACL {r.label} has no rules; an empty web ACL only applies its default action."


@resource_policy(
    name="wafv2-cloudwatch-metrics",
    description="WAFv2 web ACLs and their rules must publish CloudWatch metrics.",
    severity=Severity.MEDIUM,
    category="operations",
    controls=("WAF.12",),
    remediation="Set `visibility_config.cloudwatch_metrics_enabled=True` on the web ACL and on every rule.",
    resource_types=(T.WAF_WEB_ACL,),
)
def wafv2_cloudwatch_metrics(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if r.get("visibilityConfig.cloudwatchMetricsEnabled") not in (True, UNKNOWN):
        yield f"The web ACL {r.label} must set visibilityConfig.cloudwatchMetricsEnabled to true."
    rules = r.get("rules")
    if isinstance(rules, list):
        for index, rule in enumerate(rules):
            if rule is UNKNOWN or not isinstance(rule, dict):
                continue
            enabled = (rule.get("visibilityConfig") or {}).get("cloudwatchMetricsEnabled") \
                if isinstance(rule.get("visibilityConfig"), dict) else rule.get("visibilityConfig")
            if enabled not in (True, UNKNOWN):
                yield (f"Rule '{rule.get('name', index)}' of web ACL {r.label} must set "
                       "visibilityConfig.cloudwatchMetricsEnabled to true.")


@stack_policy(
    name="wafv2-logging",
    description="WAFv2 web ACLs should have logging enabled to an aws-waf-logs- destination.",
    severity=Severity.LOW,
    category="operations",
    controls=("WAF.11",),
    remediation="Create an `aws.wafv2.WebAclLoggingConfiguration` with `resource_arn=web_acl.arn` and a "
    "destination whose name starts with `aws-waf-logs-`.",
)
def wafv2_logging(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    for acl in stack.of_type(T.WAF_WEB_ACL):
        configs = stack.referrers(acl, [T.WAF_LOGGING], "resourceArn", ["arn"])
        if not configs:
            yield f"The web ACL {acl.label} has no WebAclLoggingConfiguration.", acl.urn
            continue
        for conf in configs:
            for dest in conf.get("logDestinationConfigs") or []:
                if isinstance(dest, str) and "aws-waf-logs-" not in dest:
                    yield (f"The WAF logging configuration {conf.label} sends to {dest}; the destination name "
                           "must start with 'aws-waf-logs-'.", conf.urn)
