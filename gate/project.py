"""Pulumi project and stack files -> the config map the engine hands to the program and to policy packs.

The engine sends config as `{"<namespace>:<key>": "<string>"}`: strings stay as they are, numbers and
booleans become their string form, lists and objects become JSON.  Keys without a namespace belong to
the project.  `secure:` values are ciphertext the gate cannot (and must not) decrypt; they become a
fixed placeholder marked secret, so nothing secret can reach a report.

Every error names the file and line of the offending value.  When `Pulumi.yaml` declares a config
schema, a project key the stack file sets but the schema does not declare is an error (with the
closest declared key as a suggestion): a typo would otherwise leave the default in force unnoticed.
So is a key of a provider's namespace (`aws:regoin`) that the provider's SDK does not declare.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import json
import re
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
    lines: dict[str, int] = field(default_factory=dict)  # full key -> line of its declaration in Pulumi.yaml

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
    # full key -> (file, line) of the value in force: the stack file, or the default in Pulumi.yaml
    locations: dict[str, tuple[Path, int]] = field(default_factory=dict)

    def secret_values(self) -> set[str]:
        return {self.values[k] for k in self.secret_keys if k in self.values}

    def where(self, key: str, relative_to: Path | None = None) -> str:
        """`Pulumi.dev.yaml:14` for a key set in the stack file; `Pulumi.yaml:96 (the default)` otherwise."""
        path, line = self.locations[key]
        shown = path.relative_to(relative_to).as_posix() if relative_to and path.is_relative_to(relative_to) \
            else str(path)
        return f"{shown}:{line}" + ("" if path.name.startswith(f"Pulumi.{self.stack}.") else " (the default)")


def load_project(directory: Path) -> Project:
    path = directory / "Pulumi.yaml"
    if not path.is_file():
        raise GateError(f"no Pulumi.yaml in program directory {directory}")
    doc, lines = _read_yaml_with_lines(path)
    name = doc.get("name")
    if not isinstance(name, str) or not name:
        raise GateError(f"{path}: `name` must be a non-empty string")
    raw = doc.get("config") or {}
    if not isinstance(raw, dict):
        raise GateError(f"{path}:{lines.get('config', 1)}: `config` must be a mapping")
    schema: dict[str, dict[str, Any]] = {}
    declared_lines: dict[str, int] = {}
    for key, entry in raw.items():
        full = _full_key(name, str(key))
        declared_lines[full] = lines.get(str(key), 1)
        # A bare value is shorthand for a default; a mapping with schema keys is a typed declaration.
        if isinstance(entry, dict) and set(entry) <= _SCHEMA_KEYS:
            schema[full] = dict(entry)
            if "value" in entry and "default" not in entry:
                schema[full]["default"] = entry["value"]
        else:
            schema[full] = {"default": entry}
    return Project(directory=directory, name=name, schema=schema, lines=declared_lines)


def load_stack_config(project: Project, stack: str) -> StackConfig:
    """Schema defaults overlaid with `Pulumi.<stack>.yaml`, validated against the declared types."""
    path = project.directory / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise GateError(f"stack {stack!r}: no {path.name} in {project.directory}")
    doc, lines = _read_yaml_with_lines(path)
    raw = doc.get("config") or {}
    if not isinstance(raw, dict):
        raise GateError(f"{path}:{lines.get('config', 1)}: `config` must be a mapping")

    values: dict[str, str] = {}
    secret_keys: list[str] = []
    locations: dict[str, tuple[Path, int]] = {}
    problems: list[str] = []
    project_file = project.directory / "Pulumi.yaml"
    for key, decl in project.schema.items():
        if "default" in decl and decl["default"] is not None:
            where = f"{project_file}:{project.lines.get(key, 1)}"
            problems += _type_problems(where, key, decl, decl["default"])
            values[key] = _to_wire(decl["default"])
            locations[key] = (project_file, project.lines.get(key, 1))
        if decl.get("secret"):
            secret_keys.append(key)
    for key, value in raw.items():
        full = _full_key(project.name, str(key))
        line = lines.get(str(key), 1)
        where = f"{path}:{line}"
        undeclared = _undeclared(project, full)
        if undeclared:
            problems.append(f"{where}: {undeclared}")
            continue
        locations[full] = (path, line)
        decl = project.schema.get(full, {})
        if isinstance(value, dict) and set(value) == {"secure"}:
            values[full] = _TYPED_PLACEHOLDERS.get(str(decl.get("type")), SECRET_PLACEHOLDER)
            secret_keys.append(full)
            continue
        problems += _type_problems(where, full, decl, value)
        values[full] = _to_wire(value)
    if problems:
        raise GateError("\n".join(problems))
    return StackConfig(stack=stack, values=values, secret_keys=sorted(set(secret_keys)), locations=locations)


def _undeclared(project: Project, full: str) -> str | None:
    """Why a key the stack file sets is not one anything reads (None when it is)."""
    namespace, _, name = full.partition(":")
    if namespace == project.name:
        if not project.schema or full in project.schema:
            return None  # no schema declared: Pulumi accepts any key, so does the gate
        known = [k.split(":", 1)[1] for k in project.schema if k.startswith(project.name + ":")]
        return f"config key {name!r} is not declared in Pulumi.yaml{_suggestion(name, known)}"
    provider_keys = _provider_config_keys(namespace)
    if provider_keys is None or name in provider_keys:
        return None
    return (f"config key {full!r} is not a setting of the {namespace} provider"
            f"{_suggestion(name, sorted(provider_keys), prefix=namespace + ':')}")


def _suggestion(name: str, known: list[str], prefix: str = "") -> str:
    close = difflib.get_close_matches(name, known, n=1) or \
        [k for k in known if k.lower() == name.lower()]
    return f"; did you mean {prefix + close[0]!r}?" if close else ""


@functools.cache
def _provider_config_keys(namespace: str) -> frozenset[str] | None:
    """The config keys a provider's Python SDK declares (its generated `config/vars.py`), read from the
    source rather than imported; None for a namespace without an installed SDK (not checked)."""
    if namespace == "pulumi" or not re.fullmatch(r"[a-z][a-z0-9-]*", namespace):
        return None
    try:
        spec = importlib.util.find_spec("pulumi_" + namespace.replace("-", "_"))
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    source = Path(spec.origin).parent / "config" / "vars.py"
    if not source.is_file():
        return None
    return frozenset(re.findall(r"__config__\.get(?:_\w+)?\('(\w+)'\)", source.read_text(encoding="utf-8")))


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


def _type_problems(where: str, key: str, decl: dict[str, Any], value: Any) -> list[str]:
    try:
        _check_type(where, key, decl, value)
    except GateError as exc:
        return [str(exc)]
    return []


def _check_type(where: str, key: str, decl: dict[str, Any], value: Any) -> None:
    expected = decl.get("type")
    if expected is None:
        return
    python_type = _TYPE_CHECKS.get(str(expected))
    if python_type is None:
        raise GateError(f"{where}: config key {key!r} declares unknown type {expected!r}")
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
            f"{where}: config key {key!r} must be of type {expected}, got {type(value).__name__}{shown}"
        )


def _read_yaml_with_lines(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """The document, and the 1-based line of each key of its `config:` mapping (and of `config`)."""
    doc = _read_yaml(path)
    text = path.read_text(encoding="utf-8")
    lines: dict[str, int] = {}
    root = yaml.compose(text, Loader=SAFE_LOADER)  # a safe loader; nodes carry line marks
    if isinstance(root, yaml.MappingNode):
        for key_node, value_node in root.value:
            if key_node.value == "config":
                lines["config"] = key_node.start_mark.line + 1
                if isinstance(value_node, yaml.MappingNode):
                    for k, _ in value_node.value:
                        lines[str(k.value)] = k.start_mark.line + 1
    return doc, lines


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
