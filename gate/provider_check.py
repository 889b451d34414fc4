"""The part of a provider's `Check` the gate can run offline: input values against their declared types.

The engine sends every registration's inputs to the provider's `Check` before anything else (and
before the analyzers); the AWS provider rejects a value of the wrong type there — `enable_dns_support=
"yes please"` fails the preview.  The types come from the SDK the program uses: the resource's
`<Name>Args` input type (`pulumi._types.input_type_types`: wire name -> annotation) and, below it, the
nested `…Args` input types and enum classes.  Only what is known and plain is checked: unknown values,
secrets are checked by their contents; resource references and assets pass, as do values Terraform's
type conversion accepts (a number given as a string that parses, "true"/"false"/"1"/"0" for a bool, a
number or a bool where a string is expected).  Keys an input type does not declare are left to the
provider (the SDK passes unknown keys through untranslated).  Nothing here is a hand-written list: a
resource type the SDK does not describe is not checked.
"""

from __future__ import annotations

import collections.abc
import enum
import functools
import sys
import typing
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi import _types as sdk_types
from pulumi.runtime import rpc

from gate.invokes import resource_class_for
from gate.wire import SECRET_SIG, SIG_KEY

# The strings Terraform's type conversion (cty) turns into a bool; any other string is "a bool is required".
_TRUE_FALSE = {"true", "false", "1", "0"}


@dataclass(frozen=True)
class Spec:
    kind: str  # any | bool | int | float | str | enum | list | map | object | union
    item: Spec | None = None
    values: tuple[Any, ...] = ()
    options: tuple[Spec, ...] = ()
    cls: type | None = None


ANY = Spec("any")


def check_inputs(type_token: str, inputs: dict[str, Any], version: str = "") -> list[str]:
    """Problems the provider's Check would report for these (wire-form) inputs: `path: message`."""
    fields = _resource_fields(type_token, version)
    if fields is None:
        return []
    problems: list[str] = []
    for key, value in inputs.items():
        spec = fields.get(key)
        if spec is not None:
            _check(value, spec, key, problems)
    return problems


@functools.cache
def _resource_fields(type_token: str, version: str) -> dict[str, Spec] | None:
    if type_token.startswith("pulumi:"):  # providers (JSON-encoded nested config) and built-ins
        return None
    cls = resource_class_for(type_token, version)
    if cls is None:
        return None
    args = getattr(sys.modules[cls.__module__], cls.__name__ + "Args", None)
    if args is None or not sdk_types.is_input_type(args):
        return None
    return _fields(args)


@functools.cache
def _fields(input_type: type) -> dict[str, Spec]:
    try:
        return {wire: _spec(hint) for wire, hint in sdk_types.input_type_types(input_type).items()}
    except Exception:  # an SDK type the gate cannot read is not checked
        return {}


def _spec(hint: Any) -> Spec:
    origin = typing.get_origin(hint)
    if origin is typing.Union:
        members = [a for a in typing.get_args(hint) if not _is_plumbing(a)]
        specs = tuple(dict.fromkeys(_spec(m) for m in members))
        if any(s.kind == "any" for s in specs) or not specs:
            return ANY
        enums = [s for s in specs if s.kind == "enum"]
        if enums and any(s.kind == "str" for s in specs):
            specs = tuple(s for s in specs if s.kind != "enum")  # Union[str, SomeEnum]: any string
        return specs[0] if len(specs) == 1 else Spec("union", options=specs)
    if origin in (list, collections.abc.Sequence):
        (item,) = typing.get_args(hint)[:1] or (Any,)
        return Spec("list", item=_spec(item))
    if origin in (dict, collections.abc.Mapping):
        args = typing.get_args(hint)
        return Spec("map", item=_spec(args[1]) if len(args) == 2 else ANY)
    if hint is bool:
        return Spec("bool")
    if hint is int:
        return Spec("int")
    if hint is float:
        return Spec("float")
    if hint is str:
        return Spec("str")
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return Spec("enum", values=tuple(m.value for m in hint), cls=hint)
    if isinstance(hint, type) and (sdk_types.is_input_type(hint) or typing.is_typeddict(hint)):
        return Spec("object", cls=hint)
    return ANY  # assets, archives, Any, forward references the SDK left unresolved


def _is_plumbing(hint: Any) -> bool:
    """The parts of `Input[T]` that are not T: Awaitable[T], Output[T], None."""
    return hint is type(None) or typing.get_origin(hint) is collections.abc.Awaitable \
        or typing.get_origin(hint) is pulumi.Output or hint is pulumi.Output


def _object_fields(spec: Spec) -> dict[str, Spec]:
    assert spec.cls is not None
    if sdk_types.is_input_type(spec.cls):
        return _fields(spec.cls)
    return {}  # a TypedDict: its keys are the Python names the SDK translates; left to the provider


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value:g}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return repr(value)


_EXPECTED = {"bool": "a boolean", "int": "an integer", "float": "a number", "str": "a string",
             "list": "a list", "map": "a map", "object": "an object"}


def _check(value: Any, spec: Spec, path: str, problems: list[str]) -> None:
    if value is None or value == rpc.UNKNOWN or spec.kind == "any":
        return
    if isinstance(value, dict) and SIG_KEY in value:
        if value[SIG_KEY] == SECRET_SIG:
            _check(value.get("value"), spec, path, problems)
        return  # a resource reference, an asset or an archive
    problem = _mismatch(value, spec, path, problems)
    if problem:
        problems.append(f"{path}: expected {problem}, got {_describe(value)}")


def _mismatch(value: Any, spec: Spec, path: str, problems: list[str]) -> str | None:
    kind = spec.kind
    if kind == "bool":
        ok = isinstance(value, bool) or (isinstance(value, str) and value in _TRUE_FALSE)
        return None if ok else _EXPECTED[kind]
    if kind in ("int", "float"):
        number = _as_number(value)
        if number is None or (kind == "int" and number != int(number)):
            return _EXPECTED[kind]
        return None
    if kind == "str":
        return None if isinstance(value, (str, int, float, bool)) else _EXPECTED[kind]
    if kind == "enum":
        if any(value == v for v in spec.values):
            return None
        names = ", ".join(repr(v) for v in spec.values[:8]) + (", ..." if len(spec.values) > 8 else "")
        return f"one of {spec.cls.__name__ if spec.cls else 'the enum'} ({names})"
    if kind == "list":
        if not isinstance(value, list):
            return _EXPECTED[kind]
        for i, item in enumerate(value):
            _check(item, spec.item or ANY, f"{path}[{i}]", problems)
        return None
    if kind == "map":
        if not isinstance(value, dict):
            return _EXPECTED[kind]
        for key, item in value.items():
            _check(item, spec.item or ANY, f"{path}.{key}", problems)
        return None
    if kind == "object":
        if not isinstance(value, dict):
            return _EXPECTED[kind]
        fields = _object_fields(spec)
        for key, item in value.items():
            if key in fields:
                _check(item, fields[key], f"{path}.{key}", problems)
        return None
    if kind == "union":
        for option in spec.options:
            trial: list[str] = []
            if _mismatch(value, option, path, trial) is None and not trial:
                return None
        return " or ".join(_EXPECTED.get(o.kind, o.kind) for o in spec.options)
    return None


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None
