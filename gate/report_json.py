"""JSON report: the engine's policyEvent shape per diagnostic, plus the verdict and where things are."""

from __future__ import annotations

import json
from typing import Any

from gate.model import GateReport, WaiverRecord
from gate.report import bucket, policy_meta, rule_link, verdict


def to_json(gate_report: GateReport) -> str:
    """Each entry mirrors the engine's policyEvent (camelCase) plus the stack and declaring file:line."""
    events = []
    for d in gate_report.diagnostics:
        meta = policy_meta(gate_report, d.policy_pack_name, d.policy_name)
        events.append({
            "stack": d.stack,
            "policyPackName": d.policy_pack_name,
            "policyPackVersion": d.policy_pack_version,
            "policyName": d.policy_name,
            "description": d.description,
            "message": d.message,
            "enforcementLevel": d.enforcement_level,
            "severity": d.severity,
            "category": d.category,
            "outcome": bucket(d, gate_report.strict),
            "resourceUrn": d.resource_urn,
            "resourceType": d.resource_type,
            "resourceName": d.resource_name,
            "file": d.file,
            "line": d.line,
            "remediation": meta.remediation_steps if meta else "",
            "rule": rule_link(gate_report, d.policy_pack_name, d.policy_name).relative(),
            "modes": list(d.modes),
            **({"waiver": _waiver(d.waiver)} if d.waiver is not None else {}),
        })
    v = verdict(gate_report)
    doc: dict[str, Any] = {
        "passed": v.passed,
        "strict": gate_report.strict,
        "summary": {"stacks": list(v.stacks), "resources": v.resources, "policiesRun": v.policies_run,
                    **v.counts},
        "stacks": [
            {"stack": s.stack, "project": s.project, "resourceCount": s.resource_count,
             "policiesRun": s.policies_run, "resourceTypes": s.resource_types,
             "renderSeconds": round(s.render_seconds, 3), "analyzeSeconds": round(s.analyze_seconds, 3),
             "warnings": s.warnings,
             "components": [{"urn": c.urn, "type": c.type, "name": c.name, "parent": c.parent}
                            for c in s.components]}
            for s in gate_report.stacks
        ],
        "policyPacks": [{"name": p.name, "version": p.version} for p in gate_report.packs],
        "policyEvents": events,
        "gateDiagnostics": [
            {"stack": g.stack, "kind": g.kind, "level": g.level, "message": g.message, "subject": g.subject,
             "file": g.file, "line": g.line, "modes": list(g.modes)}
            for g in gate_report.gate_diagnostics
        ],
        "waivers": [_waiver(w) for w in gate_report.waivers],
    }
    return json.dumps(doc, indent=2) + "\n"


def _waiver(w: WaiverRecord) -> dict[str, Any]:
    return {"stack": w.stack, "policyPackName": w.pack, "policyName": w.policy, "resource": w.resource,
            "reason": w.reason, "owner": w.owner, "expires": w.expires, "ticket": w.ticket, "status": w.status,
            "daysLeft": w.days_left, "waivedResourceUrns": list(w.resources), "note": w.note}
