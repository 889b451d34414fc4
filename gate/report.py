"""Gate reports: what every format shares (verdict, findings merged across stacks, rule links, redaction).

Formats live beside this module: `report_text` (terminal), `report_markdown` (PR comment / job
summary), `report_json` (engine policyEvent shape), `report_sarif` (SARIF 2.1.0 for code scanning).

No format includes resource inputs; policy messages are passed through `redact` first, so a secret a
policy echoes back (even the gate's placeholder) is never printed.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gate.model import (
    MODES,
    PREVIEW_UNKNOWN,
    UPDATE,
    WAIVED,
    Diagnostic,
    GateDiagnostic,
    GateReport,
    PackMeta,
    PolicyMeta,
    WaiverRecord,
)

REDACTED = "[secret]"
_MIN_SECRET_LEN = 4  # shorter strings ("0", "") would mangle every message

BLOCKING, ADVISORY, UNDECIDED, DISABLED = "blocking", "advisory", "undecided", "disabled"
BUCKETS = (BLOCKING, ADVISORY, UNDECIDED, WAIVED, DISABLED)  # report order
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "": 4}


def redact(diagnostic: Diagnostic, secrets: set[str]) -> Diagnostic:
    message = diagnostic.message
    for secret in sorted((s for s in secrets if len(s) >= _MIN_SECRET_LEN), key=len, reverse=True):
        message = message.replace(secret, REDACTED)
    return dataclasses.replace(diagnostic, message=message)


def bucket(d: Diagnostic, strict: bool) -> str:
    """Where a diagnostic goes in the report: what blocks the merge first."""
    if d.category == WAIVED:
        return WAIVED
    if d.category == PREVIEW_UNKNOWN:
        return BLOCKING if strict else UNDECIDED
    if d.is_mandatory_violation:
        return BLOCKING
    return DISABLED if d.enforcement_level == "disabled" else ADVISORY


@dataclass(frozen=True)
class Verdict:
    passed: bool
    stacks: tuple[str, ...]
    resources: int
    policies_run: int
    counts: dict[str, int]  # per bucket, after merging a finding present in several stacks
    strict_undecided: int = 0  # with --strict: undecided-at-preview findings counted as blocking
    input_errors: int = 0  # inputs the provider's Check would reject (they fail the gate too)

    def line(self) -> str:
        """The one summary line: verdict, then the numbers that explain it."""
        word = "passed" if self.passed else "FAILED"
        stacks = ", ".join(self.stacks)
        parts = [f"{self.counts[BLOCKING]} blocking", f"{self.counts[ADVISORY]} advisory",
                 f"{self.counts[WAIVED]} waived"]
        if self.counts[UNDECIDED]:
            parts.append(f"{self.counts[UNDECIDED]} undecided at preview")
        if self.strict_undecided:
            parts[0] += f" ({self.strict_undecided} undecided at preview: --strict)"
        if self.input_errors:
            parts.insert(0, f"{self.input_errors} input error{_s(self.input_errors)}")
        return (f"gate: {word} - {', '.join(parts)} - {len(self.stacks)} stack{_s(self.stacks)} ({stacks}), "
                f"{self.resources} resources, {self.policies_run} policies run")


def verdict(gate_report: GateReport) -> Verdict:
    merged = findings(gate_report)
    counts = Counter(f.bucket for f in merged)
    return Verdict(
        passed=gate_report.exit_code == 0,
        stacks=tuple(s.stack for s in gate_report.stacks),
        resources=sum(s.resource_count for s in gate_report.stacks),
        policies_run=max((s.policies_run for s in gate_report.stacks), default=0),
        counts={b: counts[b] for b in BUCKETS},
        strict_undecided=sum(f.bucket == BLOCKING and f.first.category == PREVIEW_UNKNOWN for f in merged),
        input_errors=sum(f.first.level == "error" for f in gate_findings(gate_report)),
    )


def summary_line(gate_report: GateReport) -> str:
    return verdict(gate_report).line()


def _s(items: Iterable[object] | int) -> str:
    n = items if isinstance(items, int) else len(list(items))
    return "" if n == 1 else "s"


@dataclass(frozen=True)
class Finding:
    """One policy result, once however many stacks it appears in (same policy, same resource, same
    declaration): `occurrences` holds each stack's diagnostic."""

    bucket: str
    occurrences: tuple[Diagnostic, ...]

    @property
    def first(self) -> Diagnostic:
        return self.occurrences[0]

    @property
    def stacks(self) -> tuple[str, ...]:
        return tuple(d.stack for d in self.occurrences)

    @property
    def texts(self) -> tuple[str, ...]:
        """The policy's own words for this resource (the description line pulumi_policy puts first is
        shown once per policy, not per finding); one entry per distinct text across the stacks."""
        return tuple(dict.fromkeys(finding_text(d) for d in self.occurrences))

    @property
    def where(self) -> str:
        d = self.first
        return f"{d.file}:{d.line}" if d.file else ""

    @property
    def modes(self) -> tuple[str, ...]:
        """The modes (preview, update) any of its stacks reported it in."""
        seen = {m for d in self.occurrences for m in d.modes}
        return tuple(m for m in MODES if m in seen)


def update_only(modes: tuple[str, ...]) -> str:
    """" (update only)" for a finding `pulumi up` reports but the preview CI runs do not."""
    return " (update only)" if tuple(modes) == (UPDATE,) else ""


@dataclass(frozen=True)
class GateFinding:
    """One of the gate's own diagnostics, once however many stacks it appears in."""

    occurrences: tuple[GateDiagnostic, ...]

    @property
    def first(self) -> GateDiagnostic:
        return self.occurrences[0]

    @property
    def stacks(self) -> tuple[str, ...]:
        return tuple(d.stack for d in self.occurrences)

    @property
    def where(self) -> str:
        return f"{self.first.file}:{self.first.line}" if self.first.file else ""

    @property
    def modes(self) -> tuple[str, ...]:
        seen = {m for d in self.occurrences for m in d.modes}
        return tuple(m for m in MODES if m in seen)


def gate_findings(gate_report: GateReport) -> list[GateFinding]:
    """The gate's own diagnostics merged across stacks, errors first."""
    groups: dict[tuple[str, ...], list[GateDiagnostic]] = {}
    for g in gate_report.gate_diagnostics:
        groups.setdefault((g.level, g.kind, g.message, g.file, str(g.line)), []).append(g)
    order = {"error": 0, "warning": 1, "note": 2}
    return sorted((GateFinding(tuple(items)) for items in groups.values()),
                  key=lambda f: (order.get(f.first.level, 3), f.first.kind, f.where, f.first.message))


def stackless_urn(urn: str) -> str:
    """`urn:pulumi:<stack>::<project>::<type>::<name>` without the stack, to match stacks up."""
    head, sep, rest = urn.partition("::")
    return rest if sep and head.startswith("urn:pulumi:") else urn


def finding_text(d: Diagnostic) -> str:
    if d.category == PREVIEW_UNKNOWN:  # "can't run policy 'x' from policy pack 'p@v1' during preview: <why>"
        return d.message.partition(" during preview: ")[2] or d.message
    message = d.message
    if d.description and message.startswith(d.description):
        message = message[len(d.description):].lstrip("\n")
    return message.strip() or d.description


def findings(gate_report: GateReport) -> list[Finding]:
    """Every diagnostic, merged across stacks, blocking first, then by severity and policy."""
    groups: dict[tuple[str, ...], list[Diagnostic]] = {}
    for d in gate_report.diagnostics:
        b = bucket(d, gate_report.strict)
        # A stack-level finding (no resource) is the same finding when it says the same thing.
        resource = stackless_urn(d.resource_urn) if d.resource_urn else finding_text(d)
        key = (b, d.policy_pack_name, d.policy_name, resource, d.file, str(d.line))
        groups.setdefault(key, []).append(d)
    merged = [Finding(bucket=key[0], occurrences=tuple(items)) for key, items in groups.items()]
    return sorted(merged, key=lambda f: (BUCKETS.index(f.bucket), SEVERITY_ORDER.get(f.first.severity, 4),
                                         f.first.policy_pack_name, f.first.policy_name,
                                         f.first.resource_type, f.first.resource_name, f.where))


def by_policy(items: list[Finding]) -> list[tuple[tuple[str, str], list[Finding]]]:
    """Findings grouped by (pack, policy), keeping the order of `findings`."""
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in items:
        groups.setdefault((f.first.policy_pack_name, f.first.policy_name), []).append(f)
    return list(groups.items())


def policy_meta(gate_report: GateReport, pack: str, policy: str) -> PolicyMeta | None:
    meta = next((p for p in gate_report.packs if p.name == pack), None)
    return meta.policy(policy) if meta is not None else None


@dataclass(frozen=True)
class RuleLink:
    """Where a policy is documented: the pack's own URL for it, else its entry in a RULES.md that
    ships with the pack (a path relative to the repo root plus the heading's anchor)."""

    url: str = ""
    path: str = ""
    anchor: str = ""

    def relative(self) -> str:
        return self.url or (f"{self.path}#{self.anchor}" if self.path else "")


def rule_link(gate_report: GateReport, pack: str, policy: str) -> RuleLink:
    meta = policy_meta(gate_report, pack, policy)
    if meta is not None and meta.url:
        return RuleLink(url=meta.url)
    pack_meta = next((p for p in gate_report.packs if p.name == pack), None)
    if pack_meta is None:
        return RuleLink()
    rules = _rules_file(pack_meta, gate_report.repo_root)
    if rules is None or policy not in rules[1]:
        return RuleLink()
    return RuleLink(path=rules[0], anchor=policy)


def _rules_file(pack: PackMeta, repo_root: str) -> tuple[str, frozenset[str]] | None:
    return _find_rules(pack.directory, repo_root)


@functools.lru_cache(maxsize=16)
def _find_rules(pack_dir: str, repo_root: str) -> tuple[str, frozenset[str]] | None:
    """RULES.md in the pack directory or one of its parents up to the repo root, with the policy
    names it has a `### <name>` entry for (so a link is only made to an entry that exists)."""
    root = Path(repo_root).resolve()
    directory = Path(pack_dir).resolve()
    for candidate in (directory, *directory.parents):
        path = candidate / "RULES.md"
        if path.is_file():
            headings = frozenset(line[4:].strip() for line in path.read_text(encoding="utf-8").splitlines()
                                 if line.startswith("### "))
            try:
                relative = path.relative_to(root).as_posix()
            except ValueError:
                relative = path.as_posix()
            return relative, headings
        if candidate == root:
            break
    return None


@dataclass(frozen=True)
class WaiverRow:
    """One waiver as reports list it: the same waiver (same policy, resource, reason, owner, expiry and
    status) in several stacks' configs is one row with its stacks."""

    record: WaiverRecord
    stacks: tuple[str, ...]
    waived: tuple[Finding, ...]  # the findings it excused (merged across stacks)

    @property
    def when(self) -> str:
        left = self.record.days_left
        if left < 0:
            return f"expired on {self.record.expires}"
        return f"{left} day{'' if left == 1 else 's'} left (expires {self.record.expires})"


def waiver_rows(gate_report: GateReport, merged: list[Finding] | None = None) -> list[WaiverRow]:
    merged = findings(gate_report) if merged is None else merged
    groups: dict[tuple[object, ...], list[WaiverRecord]] = {}
    for w in gate_report.waivers:
        key = (w.pack, w.policy, w.resource, w.reason, w.owner, w.expires, w.ticket, w.status)
        groups.setdefault(key, []).append(w)
    rows = []
    order = {"expired": 0, "unused": 1, "undecided": 2, "expiring": 3, "active": 4}
    for records in groups.values():
        keys = {(r.stack, r.pack, r.policy, r.resource) for r in records}
        waived = tuple(f for f in merged if f.bucket == WAIVED and any(
            d.waiver is not None and (d.stack, d.waiver.pack, d.waiver.policy, d.waiver.resource) in keys
            for d in f.occurrences))
        rows.append(WaiverRow(record=records[0], stacks=tuple(r.stack for r in records), waived=waived))
    return sorted(rows, key=lambda r: (order.get(r.record.status, 5), r.record.policy, r.record.resource))
