"""SARIF 2.1.0 report for GitHub code scanning: one run per pack, rules from the pack's metadata."""

from __future__ import annotations

import json
from typing import Any

from gate.model import PREVIEW_UNKNOWN, GateReport

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


_SARIF_LEVEL = {"mandatory": "error", "remediate": "error", "advisory": "warning", "disabled": "note"}
_SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}


def to_sarif(gate_report: GateReport) -> str:
    runs = []
    for pack in gate_report.packs:
        rules: list[dict[str, Any]] = []
        index: dict[str, int] = {}
        for policy in sorted(pack.policies, key=lambda p: p.name):
            index[policy.name] = len(rules)
            rule: dict[str, Any] = {
                "id": policy.name,
                "name": policy.name,
                "shortDescription": {"text": policy.description or policy.name},
                "fullDescription": {"text": policy.description or policy.name},
                "defaultConfiguration": {"level": _SARIF_LEVEL.get(policy.enforcement_level, "warning")},
                "properties": {"enforcementLevel": policy.enforcement_level,
                               "tags": ["security", "pulumi-policy", *policy.tags]},
            }
            if policy.remediation_steps:
                rule["help"] = {"text": policy.remediation_steps}
            if policy.url:
                rule["helpUri"] = policy.url
            if policy.severity:
                rule["properties"]["security-severity"] = _SECURITY_SEVERITY[policy.severity]
            rules.append(rule)
        results = []
        for d in gate_report.diagnostics:
            if d.policy_pack_name != pack.name:
                continue
            level = "note" if d.category == PREVIEW_UNKNOWN and not gate_report.strict else \
                "error" if d.category == PREVIEW_UNKNOWN else _SARIF_LEVEL.get(d.enforcement_level, "warning")
            result: dict[str, Any] = {
                "ruleId": d.policy_name,
                "level": level,
                "message": {"text": f"[{d.stack}] {d.message}"},
                "properties": {"stack": d.stack, "enforcementLevel": d.enforcement_level,
                               "category": d.category, "resourceUrn": d.resource_urn,
                               "resourceType": d.resource_type, "modes": list(d.modes)},
                "partialFingerprints": {"gateResource/v1": f"{d.stack}|{d.policy_name}|{d.resource_urn}"},
            }
            if d.policy_name in index:
                result["ruleIndex"] = index[d.policy_name]
            if d.file:
                result["locations"] = [{"physicalLocation": {
                    "artifactLocation": {"uri": d.file, "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": max(d.line, 1)},
                }}]
            results.append(result)
        runs.append({
            "tool": {"driver": {"name": f"pulumi-policy-gate/{pack.name}", "version": pack.version or "0.0.0",
                                "informationUri": "https://www.pulumi.com/docs/using-pulumi/crossguard/",
                                "rules": rules}},
            "automationDetails": {"id": f"gate/{pack.name}/{'+'.join(s.stack for s in gate_report.stacks)}/"},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": "file://" + gate_report.repo_root.rstrip("/") + "/"}},
            "results": results,
        })
    if gate_report.gate_diagnostics:
        runs.append(_gate_run(gate_report))
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": runs}, indent=2) + "\n"


def _gate_run(gate_report: GateReport) -> dict[str, Any]:
    """The gate's own diagnostics (not a pack's): a run of their own, one rule per kind."""
    kinds = sorted({g.kind for g in gate_report.gate_diagnostics})
    results = []
    for g in gate_report.gate_diagnostics:
        result: dict[str, Any] = {"ruleId": f"gate/{g.kind}", "ruleIndex": kinds.index(g.kind),
                                  "level": g.level if g.level in ("error", "warning", "note") else "note",
                                  "message": {"text": f"[{g.stack}] {g.message}"},
                                  "properties": {"stack": g.stack, "subject": g.subject, "modes": list(g.modes)}}
        if g.file:
            result["locations"] = [{"physicalLocation": {
                "artifactLocation": {"uri": g.file, "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": max(g.line, 1)}}}]
        results.append(result)
    return {
        "tool": {"driver": {"name": "pulumi-policy-gate", "informationUri": "https://www.pulumi.com/docs/iac/concepts/",
                            "rules": [{"id": f"gate/{k}", "name": k, "shortDescription": {"text": k}}
                                      for k in kinds]}},
        "automationDetails": {"id": f"gate/engine/{'+'.join(s.stack for s in gate_report.stacks)}/"},
        "originalUriBaseIds": {"%SRCROOT%": {"uri": "file://" + gate_report.repo_root.rstrip("/") + "/"}},
        "results": results,
    }

