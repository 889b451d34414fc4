"""Markdown report for a pull-request comment or `$GITHUB_STEP_SUMMARY`.

Laid out for the width of a PR comment (no table holds a message): the verdict first, then the
findings per policy in collapsible `<details>` sections (blocking ones open), each finding once
with the stacks it appears in, its declaration linked to the commit under review when the CI
context provides one, the fix and a link to the rule; last, a Mermaid diagram of each stack's
ComponentResource tree with the finding counts on its nodes.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from gate.model import WAIVED, Component, Diagnostic, GateReport, StackReport
from gate.report import (
    ADVISORY,
    BLOCKING,
    DISABLED,
    UNDECIDED,
    Finding,
    RuleLink,
    bucket,
    by_policy,
    findings,
    gate_findings,
    policy_meta,
    rule_link,
    stackless_urn,
    update_only,
    verdict,
    waiver_rows,
)

MAX_PER_POLICY = 25  # a comment is capped at 65,536 characters; the SARIF/JSON reports list everything
STACK_TYPE = "pulumi:pulumi:Stack"
_SECTIONS = {
    BLOCKING: ("⛔ Blocking", True),
    ADVISORY: ("⚠️ Advisory", False),
    UNDECIDED: ("❔ Undecided at preview (a value is unknown until `pulumi up`)", False),
    DISABLED: ("Disabled", False),
}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|#~])")


@dataclass(frozen=True)
class CodeLinks:
    """Links into the repository at the commit under review: `<server>/<repo>/blob/<sha>/`."""

    base: str

    def file(self, path: str, line: int = 0) -> str:
        return f"{self.base}{path}" + (f"#L{line}" if line else "")


def code_links(environ: Mapping[str, str]) -> CodeLinks | None:
    """From GitHub Actions' environment: the PR's head commit (what the reviewer reads; GITHUB_SHA is
    the temporary merge commit on pull_request events), else GITHUB_SHA."""
    server, repo = environ.get("GITHUB_SERVER_URL", ""), environ.get("GITHUB_REPOSITORY", "")
    sha = _pull_request_head(environ.get("GITHUB_EVENT_PATH", "")) or environ.get("GITHUB_SHA", "")
    if not (server and repo and re.fullmatch(r"[0-9a-f]{7,64}", sha)):
        return None
    return CodeLinks(base=f"{server.rstrip('/')}/{repo}/blob/{sha}/")


def _pull_request_head(event_path: str) -> str:
    if not event_path:
        return ""
    try:
        event = json.loads(Path(event_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    head = (event.get("pull_request") or {}).get("head") or {} if isinstance(event, dict) else {}
    sha = head.get("sha") if isinstance(head, dict) else None
    return sha if isinstance(sha, str) else ""


def text(value: str) -> str:
    """Plain text, safe inside Markdown and HTML (a policy message is not markup)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(value, quote=False))


def markdown(value: str) -> str:
    """Text a pack author wrote as Markdown (descriptions, remediation: RULES.md renders them so);
    raw HTML in it is shown, not interpreted."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(value: str) -> str:
    """A Markdown code span (HTML `<code>` would still have `__x__` inside it read as bold)."""
    fence = "``" if "`" in value else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def to_markdown(gate_report: GateReport, environ: Mapping[str, str] | None = None) -> str:
    links = code_links(os.environ if environ is None else environ)
    v = verdict(gate_report)
    blocking = v.counts[BLOCKING]
    title = (f"❌ Policy gate failed: {blocking} blocking finding{'' if blocking == 1 else 's'}" if not v.passed
             else "✅ Policy gate passed")
    numbers = [f"**{blocking} blocking**", f"{v.counts[ADVISORY]} advisory", f"{v.counts[WAIVED]} waived"]
    if v.input_errors:
        numbers.insert(0, f"**{v.input_errors} input error{'' if v.input_errors == 1 else 's'}**")
    if v.counts[UNDECIDED]:
        numbers.append(f"{v.counts[UNDECIDED]} undecided at preview")
    lines = [
        f"### {title}",
        "",
        f"{' · '.join(numbers)} — stack{'' if len(v.stacks) == 1 else 's'} "
        f"{', '.join(code(s) for s in v.stacks)} · {v.resources} resources · {v.policies_run} policies run",
    ]
    all_findings = findings(gate_report)
    for section, (heading, open_) in _SECTIONS.items():
        items = [f for f in all_findings if f.bucket == section]
        if not items:
            continue
        lines += ["", f"#### {heading} ({len(items)})"]
        for (pack, policy), group in by_policy(items):
            lines += _policy_section(gate_report, pack, policy, group, open_, links, section)
    lines += _gate_section(gate_report, links)
    lines += _waivers(gate_report, all_findings, links)
    lines += _diagrams(gate_report, all_findings)
    return "\n".join(lines) + "\n"


def _waivers(gate_report: GateReport, all_findings: list[Finding], links: CodeLinks | None) -> list[str]:
    rows = waiver_rows(gate_report, all_findings)
    if not rows:
        return []
    problems = sum(r.record.status in ("expired", "expiring") or (r.record.status == "unused" and not r.record.note)
                   for r in rows)
    out = ["", f"#### 🛂 Waivers ({len(rows)})", "",
           f"<details{' open' if problems else ''}>",
           f"<summary>Deviations accepted in review, each with an owner and an expiry; "
           f"{problems} need{'s' if problems == 1 else ''} attention</summary>", ""]
    for row in rows:
        w = row.record
        head = [f"**{text(w.policy)}** for {code(w.resource)}", f"{_STATUS_ICON.get(w.status, '')} {w.status}",
                text(row.when), f"owner {text(w.owner)}"]
        if len(gate_report.stacks) > 1:
            head.append("stacks " + ", ".join(code(s) for s in row.stacks))
        out.append(f"- {' · '.join(head)}<br>")
        detail = [f"  Reason: {text(w.reason)}"] + ([f"  Note: {text(w.note)}"] if w.note else [])
        if w.ticket:
            detail.append(f"  [Ticket]({w.ticket})")
        for finding in row.waived:
            d = finding.first
            where = code(finding.where) if d.file else ""
            if d.file and links:
                where = f"[{where}]({links.file(d.file, d.line)})"
            detail.append(f"  Waived: **{text(d.resource_name)}** {code(d.resource_type)} {where}".rstrip())
        out += [line + ("<br>" if i < len(detail) - 1 else "") for i, line in enumerate(detail)]
    return [*out, "", "</details>"]


_STATUS_ICON = {"active": "✅", "expiring": "⏳", "expired": "❌", "unused": "🗑️", "undecided": "❔"}


def _policy_section(gate_report: GateReport, pack: str, policy: str, group: list[Finding], open_: bool,
                    links: CodeLinks | None, section: str) -> list[str]:
    meta = policy_meta(gate_report, pack, policy)
    severity = group[0].first.severity or (meta.severity if meta else "")
    several_packs = len(gate_report.packs) > 1
    label = " · ".join(x for x in (f"<b>{html.escape(policy)}</b>", severity,
                                   html.escape(pack) if several_packs else "",
                                   f"{len(group)} finding{'' if len(group) == 1 else 's'}") if x)
    out = ["", f"<details{' open' if open_ else ''}>", f"<summary>{label}</summary>", "",
           markdown(group[0].first.description), ""]
    for finding in group[:MAX_PER_POLICY]:
        out += _finding(finding, links, len(gate_report.stacks) > 1)
    if len(group) > MAX_PER_POLICY:
        out.append(f"- … and {len(group) - MAX_PER_POLICY} more (the JSON and SARIF reports list every one)")
    footer = []
    if section != UNDECIDED and meta is not None and meta.remediation_steps:
        footer.append(f"**Fix:** {markdown(meta.remediation_steps)}")
    rule = _rule_href(rule_link(gate_report, pack, policy), links)
    if rule:
        footer.append(f"[Rule]({rule})")
    if footer:
        out += ["", " · ".join(footer)]
    out += ["", "</details>"]
    return out


def _finding(finding: Finding, links: CodeLinks | None, several_stacks: bool) -> list[str]:
    d = finding.first
    parts = [f"**{text(d.resource_name)}** {code(d.resource_type)}" if d.resource_type else "the stack"]
    if d.file:
        where = code(finding.where)
        parts.append(f"[{where}]({links.file(d.file, d.line)})" if links else where)
    if several_stacks:
        parts.append("stacks " + ", ".join(code(s) for s in finding.stacks))
    if update_only(finding.modes):
        parts.append("update only")
    body = [text(line) for t in finding.texts for line in t.splitlines() if line.strip()]
    # One list item: the resource line, then the policy's words below it.
    return [f"- {' · '.join(parts)}" + ("<br>" if body else "")] + \
        [f"  {line}" + ("<br>" if i < len(body) - 1 else "") for i, line in enumerate(body)]


def _gate_section(gate_report: GateReport, links: CodeLinks | None) -> list[str]:
    """The gate's own diagnostics: inputs the provider would reject (open), places it had to guess."""
    items = gate_findings(gate_report)
    if not items:
        return []
    errors = any(g.first.level == "error" for g in items)
    out = ["", f"<details{' open' if errors else ''}>",
           f"<summary><b>Gate</b>: inputs the provider would reject, and where the gate had to guess "
           f"({len(items)})</summary>", ""]
    for g in items:
        parts = [f"**{g.first.level}** {code(g.first.kind)}"]
        if g.first.file:
            where = code(g.where)
            parts.append(f"[{where}]({links.file(g.first.file, g.first.line)})" if links else where)
        if len(gate_report.stacks) > 1:
            parts.append("stacks " + ", ".join(code(s) for s in g.stacks))
        out.append(f"- {' · '.join(parts)}{update_only(g.modes)}<br>")
        out.append(f"  {text(g.first.message)}")
    return [*out, "", "</details>"]


def _rule_href(link: RuleLink, links: CodeLinks | None) -> str:
    if link.url:
        return link.url
    if link.path:
        return (links.file(link.path) if links else link.path) + f"#{link.anchor}"
    return ""


# --- architecture diagram ---------------------------------------------------------------------------
def _diagrams(gate_report: GateReport, all_findings: list[Finding]) -> list[str]:
    """One Mermaid flowchart per distinct component tree (stacks with the same tree share one, with
    each stack's counts on a node), only when there is something to locate."""
    shown = [d for f in all_findings if f.bucket in (BLOCKING, ADVISORY, UNDECIDED) for d in f.occurrences]
    if not shown:
        return []
    trees: dict[tuple[tuple[str, str, str, str], ...], list[StackReport]] = {}
    for stack in gate_report.stacks:
        if stack.components:
            trees.setdefault(_tree_signature(stack), []).append(stack)
    out = ["", "#### Where in the architecture"] if trees else []
    for stacks in trees.values():
        chart = mermaid_tree(stacks, shown, gate_report.strict)
        out += ["", "<details open>",
                f"<summary>Components of {', '.join(code(s.stack) for s in stacks)}, with their findings</summary>",
                "", "```mermaid", chart, "```", "", "</details>"]
    return out


def _tree_signature(stack: StackReport) -> tuple[tuple[str, str, str, str], ...]:
    key = _node_key(stack)
    return tuple(sorted((key(c.urn), c.type, "" if c.type == STACK_TYPE else c.name, key(c.parent))
                        for c in stack.components))


def _node_key(stack: StackReport) -> Callable[[str], str]:
    """A component's identity across stacks: its URN without the stack; the root stack (whose name
    carries the stack's) is `stack`."""
    root = next((c.urn for c in stack.components if c.type == STACK_TYPE), "")
    return lambda urn: "stack" if urn == root else stackless_urn(urn)


def mermaid_tree(stacks: list[StackReport], diagnostics: list[Diagnostic], strict: bool) -> str:
    """A left-to-right flowchart of the (shared) component tree of `stacks`: one node per component
    (the stack at the root), labelled with its name, its type's short name and, per stack, the
    findings of the resources it directly contains."""
    first = stacks[0]
    tally: dict[str, dict[str, Counter[str]]] = {}  # component key -> stack -> bucket counts
    for stack in stacks:
        key_of = _node_key(stack)
        for d in diagnostics:
            if d.stack == stack.stack:
                owner = stack.owner.get(d.resource_urn, "stack") if d.resource_urn else "stack"
                tally.setdefault(key_of(owner), {}).setdefault(stack.stack, Counter())[bucket(d, strict)] += 1
    node_key = _node_key(first)
    components = sorted(first.components, key=lambda c: _path(c, first))
    ids = {node_key(c.urn): f"n{i}" for i, c in enumerate(components)}
    # Compact spacing: the tree is drawn left to right, its leaves stacked; GitHub honours the directive.
    lines = ['%%{init: {"flowchart": {"nodeSpacing": 12, "rankSpacing": 36}}}%%', "flowchart LR"]
    for c in components:
        key = node_key(c.urn)
        label = [_mermaid_text("stack" if c.type == STACK_TYPE else c.name),
                 f"<i>{_mermaid_text(c.type.rsplit(':', 1)[-1])}</i>"]
        per_stack = {stack: " · ".join(f"{n[b]} {b}" for b in (BLOCKING, ADVISORY, UNDECIDED) if n[b])
                     for stack, n in sorted(tally.get(key, {}).items())}
        if len(stacks) > 1 and len(set(per_stack.values())) == 1 and len(per_stack) == len(stacks):
            label.append(_mermaid_text(next(iter(per_stack.values()))))  # the same in every stack
        else:
            label += [_mermaid_text(f"{stack}: {counts}" if len(stacks) > 1 else counts)
                      for stack, counts in per_stack.items()]
        blocking = any(n[BLOCKING] for n in tally.get(key, {}).values())
        style = ":::blocking" if blocking else ":::advisory" if per_stack else ""
        lines.append(f'  {ids[key]}["{"<br/>".join(label)}"]{style}')
    for c in components:
        parent = node_key(c.parent)
        if c.parent and parent in ids:
            lines.append(f"  {ids[parent]} --> {ids[node_key(c.urn)]}")
    lines += ["  classDef blocking fill:#ffebe9,stroke:#cf222e,color:#1f2328",
              "  classDef advisory fill:#fff8c5,stroke:#9a6700,color:#1f2328"]
    return "\n".join(lines)


def _path(component: Component, stack: StackReport) -> tuple[str, ...]:
    """Names from the root down to the component: a stable order, parents before children."""
    by_urn = {c.urn: c for c in stack.components}
    names: list[str] = []
    current: Component | None = component
    while current is not None and len(names) <= len(by_urn):
        names.append(current.name)
        current = by_urn.get(current.parent)
    return tuple(reversed(names))


def _mermaid_text(value: str) -> str:
    # Mermaid reads quotes, brackets and `#` in a label as syntax; `#<code>;` entities keep any
    # character literal, so everything outside a plain set is written that way.
    return "".join(ch if ch.isalnum() or ch in " -_.:/·" else f"#{ord(ch)};" for ch in value)


__all__ = ["CodeLinks", "code_links", "mermaid_tree", "stackless_urn", "to_markdown"]
