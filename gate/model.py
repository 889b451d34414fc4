"""Result types shared by the analyzer driver, the CLI and the reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

VIOLATION = "violation"
PREVIEW_UNKNOWN = "preview-unknown"  # pulumi_policy's "can't run policy ... during preview"


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

    @property
    def is_mandatory_violation(self) -> bool:
        return self.category == VIOLATION and self.enforcement_level in ("mandatory", "remediate")


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


@dataclass
class GateReport:
    stacks: list[StackReport]
    packs: list[PackMeta]
    strict: bool
    repo_root: str

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return [d for s in self.stacks for d in s.diagnostics]

    def failing(self) -> list[Diagnostic]:
        """The diagnostics that make the gate fail (exit 1)."""
        return [
            d for d in self.diagnostics
            if d.is_mandatory_violation or (self.strict and d.category == PREVIEW_UNKNOWN)
        ]

    @property
    def exit_code(self) -> int:
        return 1 if self.failing() else 0
