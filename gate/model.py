"""Result types shared by the analyzer driver, the CLI and the reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

VIOLATION = "violation"
PREVIEW_UNKNOWN = "preview-unknown"  # pulumi_policy's "can't run policy ... during preview"
WAIVED = "waived"  # a violation an active waiver covers (the pack's `waivers` policy reported it)

# The two ways the engine runs a program, which the gate runs one after the other: `pulumi preview` of
# a new stack (ids and computed outputs unknown) and `pulumi up` (known).
PREVIEW = "preview"
UPDATE = "update"
MODES = (PREVIEW, UPDATE)

# Kinds of the gate's own diagnostics (GateDiagnostic.kind).
INVOKE = "invoke"  # a data source answered with invented values, or not at all
STACK_REFERENCE = "stack-reference"  # a referenced stack's outputs are unknown
INPUT_TYPE = "input-type"  # an input the provider's Check would reject
# Levels: an "error" fails the gate (the engine would reject the program); "warning" and "note" report a
# place where the gate had to guess, so a result there may differ from `pulumi preview`.
ERROR, WARNING, NOTE = "error", "warning", "note"


@dataclass(frozen=True)
class PolicyMeta:
    """One policy as the pack describes it (GetAnalyzerInfo), for reports and SARIF rules."""

    name: str
    description: str
    enforcement_level: str
    display_name: str = ""
    severity: str = ""
    remediation_steps: str = ""
    url: str = ""
    tags: tuple[str, ...] = ()
    policy_type: str = ""
    framework: str = ""
    config_schema: dict[str, Any] = field(default_factory=dict)
    required: tuple[str, ...] = ()


@dataclass(frozen=True)
class PackMeta:
    name: str
    version: str
    directory: str
    description: str = ""
    policies: tuple[PolicyMeta, ...] = ()
    initial_config: dict[str, dict[str, Any]] = field(default_factory=dict)

    def policy(self, name: str) -> PolicyMeta | None:
        return next((p for p in self.policies if p.name == name), None)


@dataclass(frozen=True)
class WaiverRecord:
    """One waiver of a stack's pack config and what it did in the run."""

    stack: str
    pack: str
    policy: str
    resource: str  # logical name (may hold `*`) or URN, as written
    reason: str
    owner: str
    expires: str  # YYYY-MM-DD
    ticket: str
    status: str  # active | expiring | expired | unused | undecided
    days_left: int  # negative once expired
    resources: tuple[str, ...] = ()  # URNs of the violations it waived
    note: str = ""  # e.g. why an unused waiver may still be used by `pulumi up`


@dataclass(frozen=True)
class Diagnostic:
    """One policy result, shaped like the engine's policyEvent plus where the resource was declared."""

    stack: str
    policy_pack_name: str
    policy_pack_version: str
    policy_name: str
    description: str
    message: str
    enforcement_level: str  # advisory | mandatory | remediate | disabled
    severity: str  # low | medium | high | critical | ""
    category: str  # VIOLATION | PREVIEW_UNKNOWN
    resource_urn: str = ""
    resource_type: str = ""
    resource_name: str = ""
    file: str = ""  # relative to the repo root
    line: int = 0
    modes: tuple[str, ...] = ()  # the modes (PREVIEW, UPDATE) it was reported in; () = not recorded
    waiver: WaiverRecord | None = None  # for a WAIVED diagnostic: the waiver that covers it

    @property
    def is_mandatory_violation(self) -> bool:
        return self.category == VIOLATION and self.enforcement_level in ("mandatory", "remediate")

    @property
    def update_only(self) -> bool:
        """Reported by `pulumi up` but not by the preview CI runs (a value only known once created)."""
        return self.modes == (UPDATE,)


@dataclass(frozen=True)
class GateDiagnostic:
    """A finding of the gate itself, not of a policy, at the program's file:line: where the gate could
    not model the engine faithfully, or an input the provider would reject."""

    stack: str
    kind: str  # INVOKE | STACK_REFERENCE | INPUT_TYPE
    level: str  # ERROR | WARNING | NOTE
    message: str
    subject: str = ""  # the function token, resource URN or referenced stack concerned
    file: str = ""  # relative to the repo root
    line: int = 0
    modes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Component:
    """One ComponentResource of the stack (or the stack itself), for the architecture diagram."""

    urn: str
    type: str
    name: str
    parent: str = ""


@dataclass
class StackReport:
    stack: str
    project: str
    resource_count: int
    resource_types: dict[str, int]
    render_seconds: float
    analyze_seconds: float
    diagnostics: list[Diagnostic]
    warnings: list[str] = field(default_factory=list)
    policies_run: int = 0  # policies enabled (not `disabled`) across the stack's packs
    components: list[Component] = field(default_factory=list)
    owner: dict[str, str] = field(default_factory=dict)  # resource URN -> URN of its nearest component
    gate_diagnostics: list[GateDiagnostic] = field(default_factory=list)
    waivers: list[WaiverRecord] = field(default_factory=list)


@dataclass
class GateReport:
    stacks: list[StackReport]
    packs: list[PackMeta]
    strict: bool
    repo_root: str

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return [d for s in self.stacks for d in s.diagnostics]

    @property
    def gate_diagnostics(self) -> list[GateDiagnostic]:
        return [d for s in self.stacks for d in s.gate_diagnostics]

    def gate_errors(self) -> list[GateDiagnostic]:
        """What the provider would reject (the engine's preview would fail): these fail the gate too."""
        return [d for d in self.gate_diagnostics if d.level == ERROR]

    @property
    def waivers(self) -> list[WaiverRecord]:
        return [w for s in self.stacks for w in s.waivers]

    def failing(self) -> list[Diagnostic]:
        """The diagnostics that make the gate fail (exit 1)."""
        return [
            d for d in self.diagnostics
            if d.is_mandatory_violation or (self.strict and d.category == PREVIEW_UNKNOWN)
        ]

    @property
    def exit_code(self) -> int:
        return 1 if self.failing() or self.gate_errors() else 0
