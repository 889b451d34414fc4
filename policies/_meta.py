"""Policy metadata in one place, and the adapter to pulumi_policy Policy objects.

A policy is a plain function decorated with ``@resource_policy(...)`` or ``@stack_policy(...)``.
The decorator records the metadata (name, description, severity, control ids, remediation,
config schema with defaults) and turns the function into a ``PolicyDef``; ``registry`` lists them.

Resource policy functions receive ``(resource, config)`` and yield violation messages.
Stack policy functions receive ``(stack, config)`` and yield ``(message, urn_or_None)``.
Either may raise ``NotApplicable`` to report that the policy does not apply to this stack/resource.

Every policy (but ``waivers``) also takes a ``waivers`` setting (``_waivers``): the wrapper here drops
a violation an active waiver covers and records it in the pack's ledger, which the advisory ``waivers``
policy reports; an expired waiver's violation is reported, saying it expired.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from . import _waivers
from ._model import Resource, Stack, resource_from_args, resource_from_policy_resource

# What a policy protects decides whether a stack may relax it (see RULES.md, "What may differ between
# environments"): exposure policies are mandatory in every stack; only resilience policies relax per stack;
# operations policies (detection, logging, hygiene) may be raised by a stack config but never lowered.
Category = Literal["exposure", "resilience", "operations"]
CATEGORIES: dict[str, str] = {
    "exposure": "confidentiality, exposure, transport, authentication, encryption at rest, secrets, admin or "
    "wildcard IAM: mandatory in every stack, settings only in the pack defaults",
    "resilience": "durability, availability, retention, cost: may relax per stack (level and settings)",
    "operations": "detection, logging, tracing, hygiene: a stack config may raise the level, never lower it "
    "or change settings",
}

ResourceCheck = Callable[[Resource, Mapping[str, Any]], Iterable[str]]
StackCheck = Callable[[Stack, Mapping[str, Any]], Iterable[tuple[str, str | None]]]

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "boolean": (bool,),
    "integer": (int, float),
    "number": (int, float),
    "string": (str,),
    "array": (list,),
    "object": (dict,),
}


class _LastConverted(threading.local):
    """The last ``Resource`` / ``Stack`` built, per server thread, keyed by the object it was built from.

    The pack's servicer (``_serve``) hands every policy of one request the same properties proxy (Analyze)
    and the same resource list (AnalyzeStack); converting them once serves all policies of the request.
    With the stock servicer the objects differ per policy and nothing is reused.  Policies never mutate
    what they are given, so sharing is safe.
    """

    source: object = None
    converted: object = None


_LAST_RESOURCE = _LastConverted()
_LAST_STACK = _LastConverted()


def _resource_of(args: ResourceValidationArgs) -> Resource:
    if _LAST_RESOURCE.source is not args.props:
        _LAST_RESOURCE.converted = resource_from_args(args)
        _LAST_RESOURCE.source = args.props
    return cast(Resource, _LAST_RESOURCE.converted)


def _stack_of(args: StackValidationArgs) -> Stack:
    if _LAST_STACK.source is not args.resources:
        _LAST_STACK.converted = Stack(resource_from_policy_resource(r) for r in args.resources)
        _LAST_STACK.source = args.resources
    return cast(Stack, _LAST_STACK.converted)


class NotApplicable(Exception):
    """Raised by a policy function when the policy does not apply (reason is reported)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PolicyConfigError(ValueError):
    """A policy's configuration value has the wrong type; the message names policy and setting."""


@dataclass(frozen=True)
class PolicyDef:
    name: str
    description: str
    severity: Severity
    controls: tuple[str, ...]
    remediation: str
    scope: Literal["resource", "stack"]
    check: Callable[..., Iterable[Any]]
    category: Category
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    resource_types: tuple[str, ...] = ()
    guarantee: bool = False
    preview_note: str = ""
    waivable: bool = True

    @property
    def relaxable(self) -> bool:
        """Whether a stack config may lower this policy's level or change its settings."""
        return self.category == "resilience"

    @property
    def default_level(self) -> EnforcementLevel:
        """Exposure policies, platform guarantees and critical/high controls block; the rest advise."""
        if self.category == "exposure" or self.guarantee or self.severity in (Severity.CRITICAL, Severity.HIGH):
            return EnforcementLevel.MANDATORY
        return EnforcementLevel.ADVISORY

    def settings(self, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
        """Schema defaults overlaid with the configured values, type-checked against the schema."""
        values = {key: spec["default"] for key, spec in self.config.items()}
        given: Mapping[str, Any] = overrides or {}
        for key, value in given.items():
            if key in ("enforcementLevel", "waivers"):
                continue
            spec = self.config.get(key)
            if spec is None:
                raise PolicyConfigError(
                    f"policy '{self.name}' has no setting '{key}' (known: {sorted(self.config) or 'none'})"
                )
            expected = _JSON_TYPES[spec["type"]]
            if not isinstance(value, expected) or (spec["type"] != "boolean" and isinstance(value, bool)):
                raise PolicyConfigError(
                    f"policy '{self.name}' setting '{key}' must be {spec['type']}, got {value!r}"
                )
            if spec["type"] == "integer":
                number = cast(float, value)  # isinstance-checked against int/float above
                if number != int(number):
                    raise PolicyConfigError(
                        f"policy '{self.name}' setting '{key}' must be an integer, got {value!r}")
                values[key] = int(number)  # protobuf Structs carry every number as a float
            else:
                values[key] = value
        return values

    def schema(self) -> PolicyConfigSchema | None:
        properties = {k: dict(v) for k, v in self.config.items()}
        if self.waivable:
            properties["waivers"] = _waivers.waiver_schema(self.guarantee)
        return PolicyConfigSchema(properties=properties) if properties else None

    def waivers(self, overrides: Mapping[str, Any] | None) -> tuple[_waivers.Waiver, ...]:
        """The configured waivers, checked (dates, no glob for a guarantee), noted in the ledger."""
        raw = (overrides or {}).get("waivers")
        if not self.waivable or not raw:
            return ()
        try:
            parsed = _parse_waivers(self.name, json.dumps(raw, sort_keys=True), self.guarantee, _waivers.today())
        except _waivers.WaiverError as exc:
            raise PolicyConfigError(str(exc)) from None
        with _LEDGER_LOCK:
            _LEDGER.declared[self.name] = parsed
        return parsed

    def build(self) -> Policy:
        """The pulumi_policy Policy object the analyzer runs."""
        common: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "enforcement_level": self.default_level,
            "config_schema": self.schema(),
            "severity": self.severity,
            "tags": list(self.controls),
            "remediation_steps": self.remediation,
        }
        if self.scope == "resource":
            return ResourceValidationPolicy(validate=self._validate_resource, **common)
        return StackValidationPolicy(validate=self._validate_stack, **common)

    def _validate_resource(self, args: ResourceValidationArgs, report: ReportViolation) -> None:
        waivers = self.waivers(args.get_config())  # before the type filter: the ledger needs them all
        if self.resource_types and args.resource_type not in self.resource_types:
            return
        settings = self.settings(args.get_config())
        resource = _resource_of(args)
        try:
            messages = list(self.check(resource, settings))
        except NotApplicable as exc:
            args.not_applicable(exc.reason)
            return
        except UnknownValueError:
            _undecided(self.name, waivers, {args.urn: args.name})
            raise
        for message, _ in _apply_waivers(self.name, waivers, [(m, args.urn) for m in messages],
                                         {args.urn: args.name}):
            report(message, None)

    def _validate_stack(self, args: StackValidationArgs, report: ReportViolation) -> None:
        waivers = self.waivers(args.get_config())
        settings = self.settings(args.get_config())
        stack = _stack_of(args)
        names = {r.urn: r.name for r in args.resources}
        try:
            findings = list(self.check(stack, settings))
        except NotApplicable as exc:
            args.not_applicable(exc.reason)
            return
        except UnknownValueError:
            _undecided(self.name, waivers, names)
            raise
        for message, urn in _apply_waivers(self.name, waivers, findings, names):
            report(message, urn)


# The pack process's record of waivers across the engine's calls (see `_waivers.Ledger`).
_LEDGER = _waivers.Ledger()
_LEDGER_LOCK = threading.Lock()


@functools.lru_cache(maxsize=256)
def _parse_waivers(policy: str, raw_json: str, guarantee: bool, on: Any) -> tuple[_waivers.Waiver, ...]:
    # Cached: a policy runs on every resource with the same config; parsing once per config is enough.
    return _waivers.parse(policy, json.loads(raw_json), guarantee=guarantee, on=on)


def _apply_waivers(policy: str, waivers: tuple[_waivers.Waiver, ...], findings: Iterable[tuple[str, str | None]],
                   names: Mapping[str, str]) -> Iterator[tuple[str, str | None]]:
    """The findings no active waiver covers; an expired waiver's finding says it expired."""
    on = _waivers.today()
    for message, urn in findings:
        waiver = _waivers.first_match(waivers, urn, names.get(urn, "")) if waivers and urn else None
        if waiver is None:
            yield message, urn
            continue
        key = (policy, waiver.resource)
        with _LEDGER_LOCK:
            if waiver.status(on) == _waivers.EXPIRED:
                _LEDGER.expired_hits.add(key)
            else:
                _LEDGER.waived.setdefault(key, {}).setdefault(cast(str, urn), message)
        if waiver.status(on) == _waivers.EXPIRED:
            yield message + _waivers.void_note(waiver), urn


def _undecided(policy: str, waivers: tuple[_waivers.Waiver, ...], names: Mapping[str, str]) -> None:
    with _LEDGER_LOCK:
        for waiver in waivers:
            if any(waiver.matches(urn, name) for urn, name in names.items()):
                _LEDGER.undecided.add((policy, waiver.resource))


def waiver_notices(preview: bool) -> list[tuple[str, str | None]]:
    """The `waivers` policy's findings: each waived violation, and each unused/expiring/expired waiver.
    The ledger starts afresh afterwards: AnalyzeStack ends an analysis (a process serving another one,
    as tests do, must not report this one's waivers)."""
    with _LEDGER_LOCK:
        notices = _LEDGER.notices(_waivers.today(), preview=preview)
        _LEDGER.clear()
    return notices


def _decorator(
    scope: Literal["resource", "stack"],
    *,
    name: str,
    description: str,
    severity: Severity,
    controls: Iterable[str],
    remediation: str,
    category: Category,
    config: Mapping[str, Mapping[str, Any]] | None = None,
    resource_types: Iterable[str] = (),
    guarantee: bool = False,
    preview_note: str = "",
    waivable: bool = True,
) -> Callable[[Callable[..., Iterable[Any]]], PolicyDef]:
    if category not in CATEGORIES:
        raise TypeError(f"policy '{name}' category must be one of {sorted(CATEGORIES)}, got {category!r}")
    for key, spec in (config or {}).items():
        if "default" not in spec or spec.get("type") not in _JSON_TYPES or not spec.get("description"):
            raise TypeError(f"policy '{name}' setting '{key}' needs a type, a description and a default")

    def wrap(fn: Callable[..., Iterable[Any]]) -> PolicyDef:
        if fn.__name__ != name.replace("-", "_"):
            raise TypeError(f"policy function {fn.__name__} must be named after its policy '{name}'")
        return PolicyDef(
            name=name,
            description=description,
            severity=severity,
            controls=tuple(controls),
            remediation=remediation,
            scope=scope,
            check=fn,
            category=category,
            config=dict(config or {}),
            resource_types=tuple(resource_types),
            guarantee=guarantee,
            preview_note=preview_note,
            waivable=waivable,
        )

    return wrap


def resource_policy(**kwargs: Any) -> Callable[[Callable[..., Iterable[Any]]], PolicyDef]:
    return _decorator("resource", **kwargs)


def stack_policy(**kwargs: Any) -> Callable[[Callable[..., Iterable[Any]]], PolicyDef]:
    return _decorator("stack", **kwargs)


def string_list(description: str, default: list[str]) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string"}, "description": description, "default": default}


def integer(description: str, default: int, minimum: int = 0) -> dict[str, Any]:
    return {"type": "integer", "minimum": minimum, "description": description, "default": default}


def boolean(description: str, default: bool) -> dict[str, Any]:
    return {"type": "boolean", "description": description, "default": default}


def reset_waiver_ledger() -> None:
    with _LEDGER_LOCK:
        _LEDGER.clear()
