"""Pulumi project and stack files -> the config map the engine hands to the program and to policy packs.

The engine sends config as `{"<namespace>:<key>": "<string>"}`: strings stay as they are, numbers and
booleans become their string form, lists and objects become JSON.  Keys without a namespace belong to
the project.  `secure:` values are ciphertext the gate cannot (and must not) decrypt; they become a
fixed placeholder marked secret, so nothing secret can reach a report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gate.errors import GateError

# Fixed, non-revealing stand-ins for `secure:` values, typed by the schema so programs that parse the
# value (int(...), json.loads) still run.
SECRET_PLACEHOLDER = "gate-secret-placeholder"  # noqa: S105 - a stand-in, not a credential
_TYPED_PLACEHOLDERS = {"integer": "0", "boolean": "false", "array": "[]", "object": "{}"}
_SCHEMA_KEYS = {"type", "description", "default", "secret", "items", "value"}
# libyaml's safe loader when PyYAML was built with it (same documents, ~10x faster), else the pure one.
SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Project:
    """A Pulumi project directory: its name and its config schema (`Pulumi.yaml` `config:`)."""

    directory: Path
    name: str
    schema: dict[str, dict[str, Any]]

    def stack_names(self) -> list[str]:
        """Every stack with a `Pulumi.<stack>.yaml` file, sorted."""
        names = []
        for path in sorted(self.directory.glob("Pulumi.*.yaml")):
            names.append(path.name[len("Pulumi.") : -len(".yaml")])
        return names


@dataclass(frozen=True)
class StackConfig:
    """Config of one stack, in the engine's wire form."""

    stack: str
    values: dict[str, str]
    secret_keys: list[str] = field(default_factory=list)

    def secret_values(self) -> set[str]:
        return {self.values[k] for k in self.secret_keys if k in self.values}


def load_project(directory: Path) -> Project:
    path = directory / "Pulumi.yaml"
    if not path.is_file():
        raise GateError(f"no Pulumi.yaml in program directory {directory}")
    doc = _read_yaml(path)
    name = doc.get("name")
    if not isinstance(name, str) or not name:
        raise GateError(f"{path}: `name` must be a non-empty string")
    raw = doc.get("config") or {}
    if not isinstance(raw, dict):
        raise GateError(f"{path}: `config` must be a mapping")
    schema: dict[str, dict[str, Any]] = {}
    for key, entry in raw.items():
        full = _full_key(name, str(key))
        # A bare value is shorthand for a default; a mapping with schema keys is a typed declaration.
        if isinstance(entry, dict) and set(entry) <= _SCHEMA_KEYS:
            schema[full] = dict(entry)
            if "value" in entry and "default" not in entry:
                schema[full]["default"] = entry["value"]
        else:
            schema[full] = {"default": entry}
    return Project(directory=directory, name=name, schema=schema)


def load_stack_config(project: Project, stack: str) -> StackConfig:
    """Schema defaults overlaid with `Pulumi.<stack>.yaml`, validated against the declared types."""
    path = project.directory / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise GateError(f"stack {stack!r}: no {path.name} in {project.directory}")
    doc = _read_yaml(path)
    raw = doc.get("config") or {}
    if not isinstance(raw, dict):
        raise GateError(f"{path}: `config` must be a mapping")

    values: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, decl in project.schema.items():
        if "default" in decl and decl["default"] is not None:
            _check_type(path, key, decl, decl["default"])
            values[key] = _to_wire(decl["default"])
        if decl.get("secret"):
            secret_keys.append(key)
    for key, value in raw.items():
        full = _full_key(project.name, str(key))
        decl = project.schema.get(full, {})
        if isinstance(value, dict) and set(value) == {"secure"}:
            values[full] = _TYPED_PLACEHOLDERS.get(str(decl.get("type")), SECRET_PLACEHOLDER)
            secret_keys.append(full)
            continue
        _check_type(path, full, decl, value)
        values[full] = _to_wire(value)
    return StackConfig(stack=stack, values=values, secret_keys=sorted(set(secret_keys)))


def _full_key(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def _to_wire(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


_TYPE_CHECKS: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "boolean": bool,
    "array": list,
    "object": dict,
}


def _check_type(path: Path, key: str, decl: dict[str, Any], value: Any) -> None:
    expected = decl.get("type")
    if expected is None:
        return
    python_type = _TYPE_CHECKS.get(str(expected))
    if python_type is None:
        raise GateError(f"{path}: config key {key!r} declares unknown type {expected!r}")
    ok = isinstance(value, python_type)
    if expected == "integer" and isinstance(value, bool):
        ok = False
    # The engine accepts "42" / "true" written as strings for typed keys.
    if not ok and isinstance(value, str):
        ok = (expected == "integer" and value.lstrip("-").isdigit()) or (
            expected == "boolean" and value in ("true", "false")
        )
    if not ok:
        # Never echo a value declared secret, even in an error message.
        shown = "" if decl.get("secret") else f" {value!r}"
        raise GateError(
            f"{path}: config key {key!r} must be of type {expected}, got {type(value).__name__}{shown}"
        )


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise GateError(f"{path}: invalid YAML: {exc}") from exc
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise GateError(f"{path}: expected a mapping at the top level")
    return doc
