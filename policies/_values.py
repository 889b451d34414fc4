"""Plain, unknown-aware views of the properties pulumi_policy hands to a policy.

pulumi_policy wraps resource properties in proxies that raise ``UnknownValueError`` when a value
is unknown during preview; an escaping ``UnknownValueError`` turns the whole policy into an
advisory "can't run policy ... during preview" diagnostic.  Policies here never read the proxies
directly: ``plain`` copies them into ordinary dicts/lists in which every unknown value is the
``UNKNOWN`` marker, so each policy decides explicitly what "set but unknown" means.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

_SENTINELS: Final = frozenset(
    {
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_OBJECT_VALUE,
        UNKNOWN_STRING_VALUE,
    }
)


class _Unknown:
    """A value that is only known after the update (an ARN or id of a resource not created yet)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN: Final = _Unknown()


def is_unknown(value: object) -> bool:
    return value is UNKNOWN


def plain(value: Any) -> Any:
    """Deep-copy ``value`` (proxies included) into dicts/lists with ``UNKNOWN`` for unknowns."""
    if isinstance(value, str):
        return UNKNOWN if value in _SENTINELS else value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key in list(value):  # iterating keys never raises; reading values may
            try:
                out[key] = plain(value[key])
            except UnknownValueError:
                out[key] = UNKNOWN
        return out
    if isinstance(value, Sequence) and not isinstance(value, bytes):
        items: list[Any] = []
        for index in range(len(value)):
            try:
                items.append(plain(value[index]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    return value


def get(data: Any, path: str) -> Any:
    """Read ``a.b.0.c`` from plain data: ``None`` when absent, ``UNKNOWN`` when any step is unknown."""
    current = data
    for step in path.split("."):
        if current is UNKNOWN:
            return UNKNOWN
        if isinstance(current, Mapping):
            current = current.get(step)
        elif isinstance(current, list) and step.isdigit():
            index = int(step)
            current = current[index] if index < len(current) else None
        else:
            return None
        if current is None:
            return None
    return current


def is_set(value: Any) -> bool:
    """True when a value is present: unknown counts as set ("set but unknown is set")."""
    if value is UNKNOWN:
        return True
    if value is None:
        return False
    if isinstance(value, str | list | dict):
        return len(value) > 0
    return True


def as_list(value: Any) -> list[Any]:
    """A scalar, list or absent value as a list (IAM fields and CIDR inputs accept both)."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def as_number(value: Any) -> float | None:
    """Numbers arrive as floats from protobuf Structs and sometimes as strings; None if not numeric."""
    if isinstance(value, bool) or value is None or value is UNKNOWN:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def as_bool(value: Any) -> bool | None:
    """Booleans may arrive as strings ("true") from provider config; None when absent or unknown."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def json_object(value: Any) -> Any:
    """Decode a JSON-encoded object input (policies, provider config); pass dicts/UNKNOWN through.

    Raises ValueError for text that is not JSON so the caller can name the resource.
    """
    if isinstance(value, str):
        return json.loads(value)
    return value
