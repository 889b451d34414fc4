"""Render a Report as text, JSON, SARIF 2.1.0 or Markdown (the same formats as the gate)."""

from __future__ import annotations

import json
from typing import Any

from audit.model import Report, Result, Severity, Status

FORMATS = ("text", "json", "sarif", "markdown")
_INFORMATION_URI = "https://github.com/secure-api-platform"  # placeholder project URI; SARIF wants a URI
_SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# SARIF levels by severity for failed checks (GitHub shows error/warning/note).
_LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning", Severity.LOW: "note"}
# SARIF "kind": pass and fail are direct; an error means the check could not decide ("open").
_KIND = {Status.PASS: "pass", Status.FAIL: "fail", Status.ERROR: "open"}
_SEVERITY_ORDER = [Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW]


def render(report: Report, fmt: str) -> str:
    if fmt == "text":
        return to_text(report)
    if fmt == "json":
        return json.dumps(to_json(report), indent=2) + "\n"
    if fmt == "sarif":
        return json.dumps(to_sarif(report), indent=2) + "\n"
    if fmt == "markdown":
        return to_markdown(report)
    raise ValueError(f"--format: unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _ordered(results: list[Result]) -> list[Result]:
    status_rank = {Status.ERROR: 0, Status.FAIL: 1, Status.PASS: 2}
    return sorted(results, key=lambda r: (status_rank[r.status], _SEVERITY_ORDER.index(r.check.severity),
                                          r.check.id, r.resource))


def _summary_line(report: Report) -> str:
    counts = report.counts()
    return (f"{report.tool}: {len(report.results)} checks on {report.target}: {counts['pass']} passed, "
            f"{counts['fail']} failed, {counts['error']} errors")


def to_text(report: Report) -> str:
    lines = []
    for result in _ordered(report.results):
        lines.append(f"{result.status.value.upper():5} {result.check.severity.value:8} {result.check.id}  "
                     f"{result.resource}: {result.message}")
        if result.status is Status.FAIL:
            lines.append(f"      remediation: {result.check.remediation}")
    lines.append(_summary_line(report))
    return "\n".join(lines) + "\n"


def to_json(report: Report) -> dict[str, Any]:
    return {
        "tool": report.tool,
        "target": report.target,
        "summary": {**report.counts(), "total": len(report.results), "exit_code": report.exit_code()},
        "results": [result.as_dict() for result in _ordered(report.results)],
    }


def to_sarif(report: Report) -> dict[str, Any]:
    checks = report.checks()
    index = {check.id: n for n, check in enumerate(checks)}
    rules = [{
        "id": check.id,
        "name": check.id,
        "shortDescription": {"text": check.title},
        "help": {"text": check.remediation},
        "defaultConfiguration": {"level": _LEVEL[check.severity]},
        "properties": {"severity": check.severity.value, "tags": ["security", *check.controls]},
    } for check in checks]
    results = []
    for result in _ordered(report.results):
        results.append({
            "ruleId": result.check.id,
            "ruleIndex": index[result.check.id],
            "kind": _KIND[result.status],
            # SARIF requires level "none" for kinds other than "fail".
            "level": _LEVEL[result.check.severity] if result.status is Status.FAIL else "none",
            "message": {"text": f"{result.resource}: {result.message}"},
            "locations": [{"logicalLocations": [{"fullyQualifiedName": result.resource, "kind": "resource"}]}],
            "properties": {"status": result.status.value, "resource": result.resource},
        })
    notifications = [{
        "level": "error",
        "message": {"text": f"{r.check.id} on {r.resource}: {r.message}"},
        "descriptor": {"id": r.check.id},
    } for r in report.results if r.status is Status.ERROR]
    return {
        "$schema": _SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": f"secure-api-platform-{report.tool}", "informationUri": _INFORMATION_URI,
                                "rules": rules}},
            "invocations": [{"executionSuccessful": not notifications,
                             "toolExecutionNotifications": notifications}],
            "results": results,
            "properties": {"target": report.target},
        }],
    }


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(report: Report) -> str:
    counts = report.counts()
    verdict = {0: "all checks passed", 1: "findings", 2: "errors"}[report.exit_code()]
    lines = [
        f"## {report.tool}: {verdict}",
        "",
        f"Target: `{report.target}`",
        "",
        "| passed | failed | errors |",
        "|---:|---:|---:|",
        f"| {counts['pass']} | {counts['fail']} | {counts['error']} |",
        "",
    ]
    problems = [r for r in _ordered(report.results) if r.status is not Status.PASS]
    if problems:
        lines += ["| status | severity | check | resource | message | remediation |", "|---|---|---|---|---|---|"]
        lines += [f"| {r.status.value} | {r.check.severity.value} | `{r.check.id}` | `{_cell(r.resource)}` | "
                  f"{_cell(r.message)} | {_cell(r.check.remediation)} |" for r in problems]
        lines.append("")
    passed = [r for r in _ordered(report.results) if r.status is Status.PASS]
    if passed:
        lines += ["<details><summary>Passed checks</summary>", "",
                  "| check | resource | message |", "|---|---|---|"]
        lines += [f"| `{r.check.id}` | `{_cell(r.resource)}` | {_cell(r.message)} |" for r in passed]
        lines += ["", "</details>", ""]
    return "\n".join(lines)
