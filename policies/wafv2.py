"""WAFv2 policies: rules, managed protections, metrics and logging.

A web ACL's rules come in four forms: inline `rules`, raw `rule_json` (the WAF API's JSON, PascalCase), and
the companion resources `WebAclRule` and `WebAclRuleGroupAssociation` (which name the ACL by `web_acl_arn`).
Every rule here reads all of them; custom rule groups (`RuleGroup`, `rules` or `rules_json`) are checked
for metrics like web ACLs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import Severity

from . import _tokens as T
from ._meta import resource_policy, stack_policy
from ._model import Resource, Stack
from ._values import UNKNOWN, as_bool, is_set

Finding = tuple[str, str | None]
_COMPANIONS = (T.WAF_WEB_ACL_RULE, T.WAF_RULE_GROUP_ASSOCIATION)
_KNOWN_BAD_INPUTS = "AWSManagedRulesKnownBadInputsRuleSet"


def _field(obj: Any, name: str) -> Any:
    """``name`` of a provider (camelCase) or WAF API (PascalCase) object; UNKNOWN passes through."""
    if obj is UNKNOWN:
        return UNKNOWN
    if not isinstance(obj, Mapping):
        return None
    if name in obj:
        return obj[name]
    return obj.get(name[:1].upper() + name[1:])


def _json_rules(resource: Resource, key: str) -> list[Any] | Any:
    """Rules of a raw JSON input: a list, UNKNOWN, or None when absent or not a JSON list."""
    raw = resource.get(key)
    if raw is UNKNOWN or raw is None:
        return raw
    try:
        rules = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError:
        return None
    return rules if isinstance(rules, list) else None


def _companions(stack: Stack, acl: Resource) -> list[Resource]:
    return stack.referrers(acl, _COMPANIONS, "webAclArn", ["arn"])


@dataclass(frozen=True)
class ManagedGroup:
    """One managed rule group used by a web ACL, with how it is enforced."""

    where: str
    name: Any
    vendor: Any
    counting: bool | None  # override action count (None: unknown)
    overrides: tuple[tuple[str, Any], ...]  # (rule name, action it is overridden to)


def _overrides(statement: Any) -> tuple[tuple[str, Any], ...]:
    found = []
    for item in _field(statement, "ruleActionOverrides") or []:
        action = _field(item, "actionToUse")
        kinds = tuple(k.lower() for k in action) if isinstance(action, Mapping) else UNKNOWN
        found.append((str(_field(item, "name")), kinds))
    return tuple(found)


def _inline_groups(where: str, rules: Any) -> Iterator[ManagedGroup]:
    for index, rule in enumerate(rules if isinstance(rules, list) else []):
        statement = _field(_field(rule, "statement"), "managedRuleGroupStatement")
        if not isinstance(statement, Mapping):
            continue
        override = _field(rule, "overrideAction")
        counting = None if override is UNKNOWN else isinstance(override, Mapping) and any(
            k.lower() == "count" for k in override)
        yield ManagedGroup(f"{where}[{index}]", _field(statement, "name"), _field(statement, "vendorName"),
                           counting, _overrides(statement))


def managed_groups(stack: Stack, acl: Resource) -> list[ManagedGroup] | None:
    """Every managed rule group the ACL uses, in any form; None if some form is unknown at preview."""
    rules, raw = acl.get("rules"), _json_rules(acl, "ruleJson")
    if rules is UNKNOWN or raw is UNKNOWN:
        return None
    groups = list(_inline_groups("rules", rules)) + list(_inline_groups("ruleJson", raw))
    for companion in _companions(stack, acl):
        if companion.type == T.WAF_WEB_ACL_RULE:
            statement = companion.get("statement")
            if statement is UNKNOWN:
                return None
            groups += _inline_groups(companion.label, [{"statement": statement,
                                                        "overrideAction": companion.get("overrideAction")}])
        else:
            group = companion.get("managedRuleGroup")
            if group is UNKNOWN:
                return None
            if isinstance(group, Mapping):
                action = companion.get("overrideAction")
                counting = None if action is UNKNOWN else str(action or "none").lower() == "count"
                groups.append(ManagedGroup(companion.label, group.get("name"), group.get("vendorName"), counting,
                                           _overrides(group)))
    return groups


@stack_policy(
    name="wafv2-web-acl-has-rules",
    description="WAFv2 web ACLs must contain at least one rule or rule group.",
    severity=Severity.MEDIUM,
    category="exposure",
    controls=("WAF.10",),
    remediation="Add `rules` (e.g. AWS managed rule groups and a rate-based rule), `rule_json`, or "
    "`aws.wafv2.WebAclRule` / `WebAclRuleGroupAssociation` resources naming the ACL.",
)
def wafv2_web_acl_has_rules(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    for acl in stack.of_type(T.WAF_WEB_ACL):
        if is_set(acl.get("rules")) or is_set(acl.get("ruleJson")) or _companions(stack, acl):
            continue
        yield f"The web ACL {acl.label} has no rules; an empty web ACL only applies its default action.", acl.urn


def _metrics_off(config: Any) -> bool:
    value = _field(config, "cloudwatchMetricsEnabled")
    return value is not UNKNOWN and as_bool(value) is not True and config is not UNKNOWN


@resource_policy(
    name="wafv2-cloudwatch-metrics",
    description="WAFv2 web ACLs, rule groups and all their rules must publish CloudWatch metrics.",
    severity=Severity.MEDIUM,
    category="operations",
    controls=("WAF.12",),
    remediation="Set `visibility_config.cloudwatch_metrics_enabled=True` on the web ACL or rule group and on "
    "every rule (inline `rules`, `rule_json`/`rules_json` `VisibilityConfig`, `WebAclRule`, "
    "`WebAclRuleGroupAssociation`).",
    resource_types=(T.WAF_WEB_ACL, T.WAF_RULE_GROUP, *_COMPANIONS),
)
def wafv2_cloudwatch_metrics(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if _metrics_off(r.get("visibilityConfig")):
        yield f"The {r.label} must set visibilityConfig.cloudwatchMetricsEnabled to true."
    if r.type in _COMPANIONS:
        return
    raw_key = "ruleJson" if r.type == T.WAF_WEB_ACL else "rulesJson"
    for key, rules in (("rules", r.get("rules")), (raw_key, _json_rules(r, raw_key))):
        for index, rule in enumerate(rules if isinstance(rules, list) else []):
            if _metrics_off(_field(rule, "visibilityConfig")):
                yield (f"Rule '{_field(rule, 'name') or index}' ({key}) of {r.label} must set "
                       "visibilityConfig.cloudwatchMetricsEnabled to true.")


def _log4j_weakened(group: ManagedGroup) -> list[str]:
    """Log4j rules of the group overridden to something other than block."""
    return [name for name, kinds in group.overrides
            if name.startswith("Log4JRCE") and kinds is not UNKNOWN and "block" not in kinds]


@stack_policy(
    name="wafv2-known-bad-inputs",
    description="WAFv2 web ACLs must use the AWS known-bad-inputs managed rule group in block mode "
    "(Log4j and other exploit payloads).",
    severity=Severity.HIGH,
    category="exposure",
    controls=("CKV_AWS_192", "CKV2_AWS_77"),
    remediation="Add a rule with `managed_rule_group_statement` AWSManagedRulesKnownBadInputsRuleSet (vendor "
    "AWS) and `override_action={'none': {}}` (or a `WebAclRuleGroupAssociation` with `override_action='none'`); "
    "do not override its Log4JRCE rules to count.",
    preview_note="An ACL whose rules are built from outputs is unknown at preview and checked at update.",
)
def wafv2_known_bad_inputs(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    for acl in stack.of_type(T.WAF_WEB_ACL):
        groups = managed_groups(stack, acl)
        if groups is None:
            continue
        bad_inputs = [g for g in groups if g.name in (_KNOWN_BAD_INPUTS, UNKNOWN) and g.vendor in ("AWS", UNKNOWN)]
        if not bad_inputs:
            yield (f"The web ACL {acl.label} does not use the {_KNOWN_BAD_INPUTS} managed rule group "
                   "(Log4j / known exploit payloads).", acl.urn)
            continue
        if any(g.counting is not True and not _log4j_weakened(g) for g in bad_inputs):
            continue
        for group in bad_inputs:
            weakened = _log4j_weakened(group)
            why = f"overrides {', '.join(weakened)} to count" if weakened else "overrides the group to count"
            yield (f"The web ACL {acl.label} uses {_KNOWN_BAD_INPUTS} ({group.where}) but {why}, so nothing "
                   "is blocked.", acl.urn)


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
