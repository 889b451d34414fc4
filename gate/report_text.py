"""Text report for a terminal: the verdict first, then what blocks (with the fix), then the rest.

Resource counts per stack only with `--verbose`: they explain nothing about a finding.
"""

from __future__ import annotations

from gate.model import GateReport
from gate.report import (
    ADVISORY,
    BLOCKING,
    DISABLED,
    UNDECIDED,
    Finding,
    by_policy,
    findings,
    gate_findings,
    policy_meta,
    rule_link,
    update_only,
    verdict,
    waiver_rows,
)

_TITLES = {
    BLOCKING: "BLOCKING - mandatory policies: fix these before merging",
    ADVISORY: "ADVISORY - not blocking",
    UNDECIDED: "UNDECIDED AT PREVIEW - a value the policy reads is unknown until `pulumi up`; "
               "the update run decides them (its findings are above), `--strict` fails on them",
    DISABLED: "DISABLED",
}


def to_text(gate_report: GateReport, *, verbose: bool = False) -> str:
    lines = [verdict(gate_report).line()]
    if verbose:
        lines += _stack_details(gate_report)
    all_findings = findings(gate_report)
    several_packs = len(gate_report.packs) > 1
    several_stacks = len(gate_report.stacks) > 1
    for section in (BLOCKING, ADVISORY, UNDECIDED, DISABLED):
        items = [f for f in all_findings if f.bucket == section]
        if not items:
            continue
        lines += ["", f"{_TITLES[section]} ({len(items)})"]
        for (pack, policy), group in by_policy(items):
            meta = policy_meta(gate_report, pack, policy)
            severity = group[0].first.severity or (meta.severity if meta else "")
            title = " · ".join(x for x in (policy, severity, pack if several_packs else "") if x)
            lines.append(f"  {title}")
            lines.append(f"    {group[0].first.description}")
            for finding in group:
                lines += _finding_lines(finding, several_stacks)
            if section != UNDECIDED:
                if meta is not None and meta.remediation_steps:
                    lines.append(f"    fix:  {meta.remediation_steps}")
                link = rule_link(gate_report, pack, policy).relative()
                if link:
                    lines.append(f"    rule: {link}")
    gate_items = gate_findings(gate_report)
    if gate_items:
        lines += ["", f"GATE - inputs the provider would reject, and where the gate had to guess ({len(gate_items)})"]
        for g in gate_items:
            stacks = f"  [{', '.join(g.stacks)}]" if several_stacks else ""
            lines.append(f"  - [{g.first.level}] {g.first.kind}  {g.where}{stacks}{update_only(g.modes)}")
            lines += [f"        {line}" for line in g.first.message.splitlines()]
    rows = waiver_rows(gate_report, all_findings)
    if rows:
        lines += ["", f"WAIVERS ({len(rows)}) - deviations accepted in review, with an expiry; they never block"]
    for row in rows:
        w = row.record
        stacks = f"  [{', '.join(row.stacks)}]" if several_stacks else ""
        lines.append(f"  {w.policy} · {w.resource} · {w.status}, {row.when} · owner {w.owner}{stacks}")
        lines.append(f"    reason: {w.reason}")
        if w.note:
            lines.append(f"    note: {w.note}")
        if w.ticket:
            lines.append(f"    ticket: {w.ticket}")
        for finding in row.waived:
            d = finding.first
            lines.append(f"    waived: {d.resource_type} {d.resource_name}  {finding.where}".rstrip())
    if not all_findings and not gate_items and not rows:
        lines += ["", "No findings."]
    return "\n".join(lines) + "\n"


def _finding_lines(finding: Finding, several_stacks: bool) -> list[str]:
    d = finding.first
    resource = f"{d.resource_type} {d.resource_name}".strip() if d.resource_type else "(stack)"
    head = "  ".join(x for x in (resource, finding.where) if x)
    if several_stacks:
        head += f"  [{', '.join(finding.stacks)}]"
    out = [f"    - {head}{update_only(finding.modes)}"]
    for text in finding.texts:
        out += [f"        {line}" for line in text.splitlines()]
    return out


def _stack_details(gate_report: GateReport) -> list[str]:
    lines: list[str] = []
    for stack in gate_report.stacks:
        lines.append("")
        lines.append(f"Stack {stack.stack} ({stack.project}): {stack.resource_count} resources, "
                     f"{stack.policies_run} policies run (rendered in {stack.render_seconds:.2f} s, "
                     f"analyzed in {stack.analyze_seconds:.2f} s)")
        lines += [f"    {n:4d}  {type_}" for type_, n in sorted(stack.resource_types.items())]
        lines += [f"  warning: {w}" for w in stack.warnings]
    return lines
