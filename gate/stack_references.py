"""`pulumi.StackReference`: the referenced stack's outputs, from a fixtures file or unknown.

A StackReference is a resource *read* (`ReadResource` of `pulumi:pulumi:StackReference`, id = the
referenced stack's name), which the engine answers in preview and in update alike from the backend:
`outputs` (secret ones wrapped as secrets) and `secretOutputNames`.  Offline there is no backend, so
the gate answers from `--stack-reference-fixtures FILE` when it names the stack, and otherwise with
both properties unknown: every `get_output` / `require_output` of it is then an unknown value (in
either mode, never a crash), which the gate reports once per reference, at the line that created it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gate.errors import GateError
from gate.project import SAFE_LOADER

STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"


@dataclass(frozen=True)
class ReferencedStack:
    outputs: dict[str, Any]
    secret_output_names: list[str] = field(default_factory=list)


class StackReferenceFixtures:
    """`--stack-reference-fixtures FILE`: YAML mapping a stack name (as the program passes it,
    `org/project/stack`) to `{outputs: {name: value}, secretOutputNames: [name, ...]}`."""

    def __init__(self, stacks: dict[str, ReferencedStack] | None = None, source: str = "") -> None:
        self.stacks = stacks or {}
        self.source = source

    @classmethod
    def for_program(cls, program: Path, given: Path | None = None) -> StackReferenceFixtures | None:
        """The given file, else the program's own `.gate/stack-references.yaml` when it exists."""
        path = given or program / ".gate" / "stack-references.yaml"
        return cls.load(path) if given or path.is_file() else None

    @classmethod
    def load(cls, path: Path) -> StackReferenceFixtures:
        try:
            doc = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)  # noqa: S506 - safe loader
        except (OSError, yaml.YAMLError) as exc:
            raise GateError(f"--stack-reference-fixtures {path}: {exc}") from exc
        if doc is None:
            return cls({}, str(path))
        if not isinstance(doc, dict):
            raise GateError(f"--stack-reference-fixtures {path}: expected a mapping of stack names")
        stacks = {}
        for name, spec in doc.items():
            where = f"--stack-reference-fixtures {path}: {name}"
            if not isinstance(spec, dict) or set(spec) - {"outputs", "secretOutputNames"} \
                    or not isinstance(spec.get("outputs", {}), dict):
                raise GateError(f"{where}: expected {{outputs: {{name: value}}, secretOutputNames: [name]}}")
            secret = spec.get("secretOutputNames") or []
            if not isinstance(secret, list) or not all(isinstance(s, str) for s in secret):
                raise GateError(f"{where}: secretOutputNames must be a list of output names")
            outputs = dict(spec.get("outputs") or {})
            missing = [s for s in secret if s not in outputs]
            if missing:
                raise GateError(f"{where}: secretOutputNames {missing} are not among its outputs")
            stacks[str(name)] = ReferencedStack(outputs, list(secret))
        return cls(stacks, str(path))

    def get(self, name: str) -> ReferencedStack | None:
        return self.stacks.get(name)
