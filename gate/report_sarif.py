"""SARIF 2.1.0 report for GitHub code scanning: one run per pack, rules from the pack's metadata."""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
from typing import Any

from gate.model import PREVIEW_UNKNOWN, GateReport, WaiverRecord

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
            # SARIF 2.1.0 §3.27.23: in a run, every result has `suppressions` or none has; [] = not suppressed.
            result["suppressions"] = [_suppression(d.waiver)] if d.waiver is not None else []
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
def _suppression(w: WaiverRecord) -> dict[str, Any]:
    """A waiver as SARIF's `external` suppression (kept outside the source, in the pack config)."""
    return {"kind": "external", "status": "accepted", "justification": w.reason,
            "properties": {"owner": w.owner, "expires": w.expires, "resource": w.resource,
                           **({"ticket": w.ticket} if w.ticket else {})}}


def for_code_scanning(sarif: dict[str, Any]) -> dict[str, Any]:
    """The SARIF without suppressed results.  GitHub code scanning does not act on `suppressions` (it
    is outside the SARIF subset it supports): a waived result uploaded as is would open an alert, and
    fail the PR's code scanning check if its level is `error`.  The full file, with the waivers'
    justifications, is kept as a build artifact and the job summary lists every waiver."""
    out = copy.deepcopy(sarif)
    for run in out.get("runs", []):
        run["results"] = [r for r in run.get("results", []) if not r.get("suppressions")]
    return out


def main(argv: list[str] | None = None) -> int:
    """`python -m gate.report_sarif --for-code-scanning IN.sarif OUT.sarif` (the CI upload step)."""
    parser = argparse.ArgumentParser(prog="python -m gate.report_sarif")
    parser.add_argument("--for-code-scanning", nargs=2, metavar=("IN", "OUT"), type=Path, required=True,
                        help="write IN without its suppressed (waived) results to OUT")
    source, target = parser.parse_args(argv).for_code_scanning
    target.write_text(json.dumps(for_code_scanning(json.loads(source.read_text(encoding="utf-8"))), indent=2)
                      + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

