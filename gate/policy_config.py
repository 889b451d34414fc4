"""Policy pack config reconciled and validated like the engine does before `Configure`.

Precedence, lowest first: each policy's enforcement level and config-schema defaults, the pack's
`initial_config`, then the `--policy-pack-config` file (whose `all` key sets every policy's level).
Properties are then validated against the policy's JSON schema; a bad file is an error (exit 2),
never a silently ignored setting.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema

from gate.errors import GateError, did_you_mean
from gate.model import PackMeta

LEVELS = ("advisory", "mandatory", "remediate", "disabled")


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise GateError(f"policy pack config {path} does not exist") from exc
    except json.JSONDecodeError as exc:
        raise GateError(f"policy pack config {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise GateError(f"policy pack config {path} must be a JSON object of policy name -> config")
    return data


def reconcile(pack: PackMeta, user_config: dict[str, Any], source: str,
              known_elsewhere: frozenset[str] = frozenset()) -> dict[str, dict[str, Any]]:
    """`{policy: {"enforcementLevel": level, **properties}}` for every policy of the pack."""
    result: dict[str, dict[str, Any]] = {}
    for policy in pack.policies:
        props = {k: copy.deepcopy(v["default"]) for k, v in policy.config_schema.items()
                 if isinstance(v, dict) and "default" in v}
        result[policy.name] = {"enforcementLevel": policy.enforcement_level, **props}
    for name, entry in pack.initial_config.items():
        if name in result:
            result[name].update({k: v for k, v in entry.items() if v is not None})

    names = {p.name for p in pack.policies}
    unknown = sorted(set(user_config) - names - known_elsewhere - {"all"})
    if unknown:
        # A pack has dozens of policies: suggest the close names rather than list them all.
        details = "; ".join(f"{name!r}{did_you_mean(name, names | known_elsewhere) or ' matches none'}"
                            for name in unknown)
        raise GateError(f"{source}: unknown polic{'y' if len(unknown) == 1 else 'ies'} {details} "
                        f"(pack {pack.name!r} has {len(names)} policies)")
    if "all" in user_config:
        level = _level(user_config["all"], source, "all")
        for entry in result.values():
            entry["enforcementLevel"] = level
    for name, value in user_config.items():
        if name == "all" or name not in result:
            continue
        if isinstance(value, str):
            result[name]["enforcementLevel"] = _level(value, source, name)
        elif isinstance(value, dict):
            for key, item in value.items():
                result[name][key] = _level(item, source, name) if key == "enforcementLevel" else item
        else:
            raise GateError(f"{source}: {name!r} must be an enforcement level or an object, "
                            f"got {type(value).__name__}")
    for policy in pack.policies:
        _validate(pack, policy.name, result[policy.name], policy.config_schema, policy.required, source)
    return result


def _level(value: Any, source: str, name: str) -> str:
    if value not in LEVELS:
        raise GateError(f"{source}: {name!r} has invalid enforcement level {value!r} "
                        f"(expected one of {', '.join(LEVELS)})")
    return str(value)


def _validate(pack: PackMeta, policy: str, config: dict[str, Any], properties: dict[str, Any],
              required: tuple[str, ...], source: str) -> None:
    schema = {
        "type": "object",
        "properties": {**properties, "enforcementLevel": {"type": "string", "enum": list(LEVELS)}},
        "required": list(required),
    }
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}" for e in errors
        )
        raise GateError(f"{source}: invalid config for policy {policy!r} of pack "
                        f"{pack.name}@{pack.version}: {details}")
