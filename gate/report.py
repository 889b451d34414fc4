"""Gate reports: text (terminal), json (engine policyEvent shape), SARIF 2.1.0, markdown (PR comment).

No format includes resource inputs; policy messages are passed through `redact` first, so a secret a
policy echoes back (even the gate's placeholder) is never printed.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter, defaultdict
from typing import Any

from gate.model import PREVIEW_UNKNOWN, Diagnostic, GateReport

REDACTED = "[secret]"
_MIN_SECRET_LEN = 4  # shorter strings ("0", "") would mangle every message
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def redact(diagnostic: Diagnostic, secrets: set[str]) -> Diagnostic:
    message = diagnostic.message
    for secret in sorted((s for s in secrets if len(s) >= _MIN_SECRET_LEN), key=len, reverse=True):
        message = message.replace(secret, REDACTED)
    return dataclasses.replace(diagnostic, message=message)


def render_report(gate_report: GateReport, fmt: str) -> str:
    renderers = {"text": to_text, "json": to_json, "sarif": to_sarif, "markdown": to_markdown}
    return renderers[fmt](gate_report)


def _counts(gate_report: GateReport) -> Counter[str]:
    counts: Counter[str] = Counter()
    for d in gate_report.diagnostics:
        counts[d.category if d.category == PREVIEW_UNKNOWN else d.enforcement_level] += 1
    return counts


def summary_line(gate_report: GateReport) -> str:
    counts = _counts(gate_report)
    verdict = "FAILED" if gate_report.exit_code else "passed"
    stacks = ", ".join(s.stack for s in gate_report.stacks)
    return (f"gate: {verdict} - stacks {stacks}: {counts['mandatory'] + counts['remediate']} mandatory, "
            f"{counts['advisory']} advisory, {counts[PREVIEW_UNKNOWN]} could not run during preview"
            + (" (--strict: these fail)" if gate_report.strict and counts[PREVIEW_UNKNOWN] else ""))


def _where(d: Diagnostic) -> str:
    return f"{d.file}:{d.line}" if d.file else "(stack)"


def _grouped(diagnostics: list[Diagnostic]) -> dict[tuple[str, str], list[Diagnostic]]:
    groups: dict[tuple[str, str], list[Diagnostic]] = defaultdict(list)
    for d in diagnostics:
        groups[(d.policy_pack_name, d.policy_name)].append(d)
    return dict(sorted(groups.items()))


def to_text(gate_report: GateReport) -> str:
    lines: list[str] = []
    for stack in gate_report.stacks:
        lines.append(f"Stack {stack.stack} ({stack.project}): {stack.resource_count} resources "
                     f"(rendered in {stack.render_seconds:.2f} s, analyzed in {stack.analyze_seconds:.2f} s)")
        for type_, n in sorted(stack.resource_types.items()):
            lines.append(f"    {n:4d}  {type_}")
        violations = [d for d in stack.diagnostics if d.category != PREVIEW_UNKNOWN]
        unknown = [d for d in stack.diagnostics if d.category == PREVIEW_UNKNOWN]
        for (pack, policy), items in _grouped(violations).items():
            lines.append(f"  [{items[0].enforcement_level}] {pack}/{policy} ({len(items)})")
            for d in items:
                lines.append(f"      {_where(d)}  {d.resource_type} {d.resource_name}".rstrip())
                lines.extend(f"        {m}" for m in d.message.splitlines())
        if unknown:
            strict_note = " - FAILS with --strict" if gate_report.strict else ""
            lines.append(f"  Could not run during preview (unknown values){strict_note}:")
            for d in unknown:
                lines.append(f"      {_where(d)}  {d.policy_name}: {d.resource_type} {d.resource_name}".rstrip())
        if not stack.diagnostics:
            lines.append("  no policy violations")
        lines.append("")
    counts = _counts(gate_report)
    lines.append(f"Totals: mandatory {counts['mandatory'] + counts['remediate']}, advisory {counts['advisory']}, "
                 f"disabled {counts['disabled']}, could not run during preview {counts[PREVIEW_UNKNOWN]}")
    lines.append(summary_line(gate_report).removeprefix("gate: "))
    return "\n".join(lines) + "\n"


def to_json(gate_report: GateReport) -> str:
    """Each entry mirrors the engine's policyEvent (camelCase) plus the stack and declaring file:line."""
    events = [
        {
            "stack": d.stack,
            "policyPackName": d.policy_pack_name,
            "policyPackVersion": d.policy_pack_version,
            "policyName": d.policy_name,
            "description": d.description,
            "message": d.message,
            "enforcementLevel": d.enforcement_level,
            "severity": d.severity,
            "category": d.category,
            "resourceUrn": d.resource_urn,
            "resourceType": d.resource_type,
            "resourceName": d.resource_name,
            "file": d.file,
            "line": d.line,
        }
        for d in gate_report.diagnostics
    ]
    doc = {
        "passed": gate_report.exit_code == 0,
        "strict": gate_report.strict,
        "stacks": [
            {"stack": s.stack, "project": s.project, "resourceCount": s.resource_count,
             "resourceTypes": s.resource_types, "renderSeconds": round(s.render_seconds, 3),
             "analyzeSeconds": round(s.analyze_seconds, 3), "warnings": s.warnings}
            for s in gate_report.stacks
        ],
        "policyPacks": [{"name": p.name, "version": p.version} for p in gate_report.packs],
        "policyEvents": events,
    }
    return json.dumps(doc, indent=2) + "\n"


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
                               "resourceType": d.resource_type},
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
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": runs}, indent=2) + "\n"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def to_markdown(gate_report: GateReport) -> str:
    counts = _counts(gate_report)
    icon = ":x:" if gate_report.exit_code else ":white_check_mark:"
    lines = [
        f"### {icon} Policy gate {'failed' if gate_report.exit_code else 'passed'}",
        "",
        "| Stack | Resources | Mandatory | Advisory | Can't run in preview |",
        "|---|---:|---:|---:|---:|",
    ]
    for s in gate_report.stacks:
        c = Counter(d.category if d.category == PREVIEW_UNKNOWN else d.enforcement_level for d in s.diagnostics)
        lines.append(f"| `{s.stack}` | {s.resource_count} | {c['mandatory'] + c['remediate']} | {c['advisory']} "
                     f"| {c[PREVIEW_UNKNOWN]} |")
    diagnostics = [d for d in gate_report.diagnostics if d.enforcement_level != "disabled"]
    if diagnostics:
        lines += ["", "| Level | Stack | Policy | Resource | Declared at | Message |", "|---|---|---|---|---|---|"]
        order = {"mandatory": 0, "remediate": 0, "advisory": 1}
        for d in sorted(diagnostics, key=lambda d: (d.category == PREVIEW_UNKNOWN,
                                                    order.get(d.enforcement_level, 2), d.policy_name)):
            level = "can't run (preview)" if d.category == PREVIEW_UNKNOWN else d.enforcement_level
            resource = f"`{d.resource_type}` {d.resource_name}".strip() if d.resource_type else "(stack)"
            lines.append(f"| {level} | `{d.stack}` | `{d.policy_pack_name}/{d.policy_name}` | {resource} | "
                         f"`{_where(d)}` | {_md_escape(d.message)} |")
    lines += ["", f"Totals: {counts['mandatory'] + counts['remediate']} mandatory, {counts['advisory']} advisory, "
                  f"{counts[PREVIEW_UNKNOWN]} could not run during preview"
                  + (" (fail: --strict)" if gate_report.strict and counts[PREVIEW_UNKNOWN] else "") + "."]
    return "\n".join(lines) + "\n"
