"""Data-source invokes, answered as close to the provider as the gate can without a cloud account.

For each invoke, in this order:
1. a fixture (`--invoke-fixtures FILE`) for its function token, when one matches its arguments: the
   values a policy needs, given by the user;
2. functions the provider computes without asking AWS — `iam.getPolicyDocument` (the provider's own
   merge, `gate.policy_document`) — or from the stack's configuration and the mocked account
   (`getCallerIdentity`, `getRegion`, `getPartition`, `getAvailabilityZones`);
3. otherwise a result shaped from the SDK's own result type (the `typ` the generated function passes
   to `pulumi.runtime.invoke`, or the `Get…Result` class its token names): every field the program can
   read is present, arguments that are also result fields are echoed back as the provider does, ids
   and ARNs are in the service's format (`gate.aws_formats`), lists are non-empty.  The values are
   invented, so such an invoke is reported once per call site (function and file:line) as a
   `GateDiagnostic`; a function whose result type cannot be found returns an empty result and is
   reported as a warning.

Unknown values at preview come from the SDK itself, as with the engine: an invoke with an unknown
argument, or an output-form invoke that depends on a resource still to be created, never reaches the
monitor during a preview and resolves to unknown.

The call site is found by wrapping the `pulumi.runtime.invoke*` functions for the duration of a render
(`tracking_call_sites`): the wrapper records where the program called and the result type in a context
variable, which the SDK carries into the thread that calls the monitor.
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import enum
import functools
import importlib
import inspect
import json
import re
import sys
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc  # type: ignore[import-untyped]
import pulumi
import pulumi.runtime
import yaml
from pulumi.runtime import rpc

from gate import aws_formats
from gate.errors import GateError
from gate.model import INVOKE, NOTE, WARNING
from gate.policy_document import PolicyDocumentError, policy_document
from gate.project import SAFE_LOADER
from gate.source import Notice, SourceLocation, caller_location

_MAX_DEPTH = 4  # nested result objects deeper than this are left empty (none in pulumi-aws needs more)


@dataclass(frozen=True)
class InvokeSite:
    location: SourceLocation | None
    result_type: type | None


_SITE: contextvars.ContextVar[InvokeSite | None] = contextvars.ContextVar("gate_invoke_site", default=None)
_WRAPPED = ("invoke", "invoke_output", "invoke_single", "invoke_output_single", "invoke_async")


@contextlib.contextmanager
def tracking_call_sites() -> Iterator[None]:
    """Wrap the SDK's invoke entry points (as the generated SDKs call them, `pulumi.runtime.invoke…`)
    so each invoke carries its call site and result type; restored on exit."""
    originals = {name: getattr(pulumi.runtime, name) for name in _WRAPPED}
    for name, original in originals.items():
        setattr(pulumi.runtime, name, _tracked(original))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(pulumi.runtime, name, original)


def _tracked(original: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind_partial(*args, **kwargs)
        site = InvokeSite(caller_location(2), bound.arguments.get("typ"))
        token = _SITE.set(site)
        try:
            # Tasks and executor calls the SDK starts from here copy the context, variable included.
            return original(*args, **kwargs)
        finally:
            _SITE.reset(token)

    return wrapper


def current_site() -> InvokeSite | None:
    return _SITE.get()


# --- result types ------------------------------------------------------------------------------------
@functools.cache
def result_type_for(token: str) -> type | None:
    """The SDK's `Get…Result` class for a function token (`aws:ec2/getVpc:getVpc` ->
    `pulumi_aws.ec2.get_vpc.GetVpcResult`), None when the package or class cannot be found."""
    package, _, rest = token.partition(":")
    module_path, _, function = rest.rpartition(":")
    module = module_path.split("/", 1)[0]
    root = "pulumi_" + package.replace("-", "_")
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", function).lower()
    class_name = function[:1].upper() + function[1:] + "Result"
    parents = [root] if module in ("", "index") else [f"{root}.{module}", f"{root}.{module}_"]
    for parent in parents:
        # The function as its package exports it, then the module it lives in.  Importing that module by
        # name would not do: a generated package binds the function and its module to the same name,
        # and a submodule imported by name replaces the function on the package (`'module' object is not
        # callable` in the program afterwards).
        try:
            exported = getattr(importlib.import_module(parent), snake, None)
        except ImportError:
            continue
        home = exported if isinstance(exported, types.ModuleType) else \
            sys.modules.get(getattr(exported, "__module__", "") or "")
        found = getattr(home, class_name, None)
        if isinstance(found, type):
            return found
    return None


@functools.cache
def resource_class_for(type_token: str, version: str = "") -> type | None:
    """The SDK's class for a resource type token, from the resource modules the SDK registers."""
    package, _, rest = type_token.partition(":")
    module_path, _, _member = rest.rpartition(":")
    try:  # the SDK registers its resource modules on import (a program has imported it already)
        importlib.import_module("pulumi_" + package.replace("-", "_"))
    except ImportError:
        return None
    module = rpc.get_resource_module(package, module_path, version)
    info = getattr(module, "mod_info", None)  # pulumi-generated SDKs (pulumi_aws._utilities.Module)
    if not isinstance(info, dict) or type_token not in info.get("classes", {}):
        return None
    found = getattr(importlib.import_module(info["fqn"]), info["classes"][type_token], None)
    return found if isinstance(found, type) else None


@functools.cache
def output_fields(cls: type) -> dict[str, tuple[str, Any]]:
    """Wire name -> (Python name, annotation) of an SDK output type's properties."""
    module_globals = vars(sys.modules[cls.__module__])
    out: dict[str, tuple[str, Any]] = {}
    for klass in reversed(cls.__mro__):
        for python_name, member in vars(klass).items():
            getter = getattr(member, "fget", None)
            wire = getattr(getter, "_pulumi_name", None)
            if wire is None:
                continue
            try:
                hint = typing.get_type_hints(getter, globalns=module_globals).get("return", Any)
            except Exception:  # an annotation that does not resolve is treated as Any
                hint = Any
            if typing.get_origin(hint) is pulumi.Output:  # a resource's property: Output[T]
                (hint,) = typing.get_args(hint) or (Any,)
            out[wire] = (python_name, hint)
    return out


def _is_output_type(value: Any) -> bool:
    return isinstance(value, type) and hasattr(value, "_pulumi_output_type")


def _optional(hint: Any) -> tuple[Any, bool]:
    args = typing.get_args(hint)
    if typing.get_origin(hint) is typing.Union and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else hint), True  # a wider union: `value` takes its first member
    return hint, False


# --- fixtures ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _FixtureEntry:
    when: dict[str, Any]
    result: dict[str, Any]
    error: str | None = None  # the provider's failure instead of a result (a lookup that finds nothing)


class InvokeFailed(grpc.RpcError):
    """A fixture's `error`, raised from the monitor as the engine fails an invoke whose provider returned
    an error (a gRPC error the SDK turns into `invoke of <token> failed: <details>` for the program)."""

    def __init__(self, details: str) -> None:
        super().__init__(details)
        self._details = details

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNKNOWN

    def details(self) -> str:
        return self._details


class InvokeFixtures:
    """`--invoke-fixtures FILE`: YAML mapping a function token to the result fields a policy needs,
    or to a list of entries tried in order, each `{when: {argument: value}, result: {...}}` (no
    `when`: any call) or `{when: ..., error: "message"}` for a provider failure (what a lookup of
    something that does not exist gets).  Field and argument names may be the SDK's (`cidr_block`)
    or the wire's (`cidrBlock`)."""

    def __init__(self, entries: dict[str, list[_FixtureEntry]] | None = None, source: str = "") -> None:
        self.entries = entries or {}
        self.source = source

    @classmethod
    def for_program(cls, program: Path, given: Path | None = None) -> InvokeFixtures | None:
        """The given file, else the program's own `.gate/invokes.yaml` when it exists."""
        path = given or program / ".gate" / "invokes.yaml"
        return cls.load(path) if given or path.is_file() else None

    @classmethod
    def load(cls, path: Path) -> InvokeFixtures:
        try:
            doc = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)  # noqa: S506 - safe loader
        except (OSError, yaml.YAMLError) as exc:
            raise GateError(f"--invoke-fixtures {path}: {exc}") from exc
        if doc is None:
            return cls({}, str(path))
        if not isinstance(doc, dict):
            raise GateError(f"--invoke-fixtures {path}: expected a mapping of function tokens")
        entries: dict[str, list[_FixtureEntry]] = {}
        for token, spec in doc.items():
            where = f"--invoke-fixtures {path}: {token}"
            if not isinstance(token, str) or token.count(":") < 2:
                raise GateError(f"{where}: not a function token (like aws:ec2/getVpc:getVpc)")
            entry_form = isinstance(spec, dict) and bool(set(spec) & {"result", "error"}) \
                and not set(spec) - {"when", "result", "error"}
            items = spec if isinstance(spec, list) else [spec if entry_form else {"result": spec}]
            result_type = result_type_for(token)
            parsed = []
            for item in items:
                if not isinstance(item, dict) or not isinstance(item.get("result", {}), dict) \
                        or set(item) - {"when", "result", "error"} or ("result" in item and "error" in item) \
                        or not isinstance(item.get("error", ""), str):
                    raise GateError(f"{where}: each entry is {{when: {{...}}, result: {{...}}}} or "
                                    "{when: {...}, error: message}")
                result = _to_wire(item.get("result") or {}, result_type, where)
                parsed.append(_FixtureEntry(when=_wire_keys(item.get("when") or {}), result=result,
                                            error=item.get("error")))
            entries[token] = parsed
        return cls(entries, str(path))

    def lookup(self, token: str, args: dict[str, Any]) -> _FixtureEntry | None:
        for entry in self.entries.get(token, []):
            if all(args.get(k) == v for k, v in entry.when.items()):
                return entry
        return None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _wire_keys(values: dict[str, Any]) -> dict[str, Any]:
    return {_camel(str(k)): v for k, v in values.items()}


def _to_wire(values: Any, hint: Any, where: str) -> Any:
    """Fixture values with the keys of output types in wire form (map keys, like tags, left alone)."""
    hint, _ = _optional(hint)
    if _is_output_type(hint) and isinstance(values, dict):
        fields = output_fields(hint)
        by_python = {python: wire for wire, (python, _) in fields.items()}
        out = {}
        for key, value in values.items():
            wire = key if key in fields else by_python.get(key) or _camel(key)
            if wire not in fields:
                close = difflib.get_close_matches(key, list(by_python) + list(fields), n=1)
                hint_text = f"; did you mean {close[0]!r}?" if close else ""
                raise GateError(f"{where}: {hint.__name__} has no field {key!r}{hint_text}")
            out[wire] = _to_wire(value, fields[wire][1], f"{where}.{key}")
        return out
    if typing.get_origin(hint) in (list, Sequence, typing.Sequence) and isinstance(values, list):
        (item,) = typing.get_args(hint) or (Any,)
        return [_to_wire(v, item, where) for v in values]
    return values


# --- the responder -----------------------------------------------------------------------------------
class InvokeResponder:
    """Answers one render's invokes and collects what it had to invent (one notice per call site)."""

    def __init__(self, region: str, fixtures: InvokeFixtures | None = None) -> None:
        self.region = region
        self.fixtures = fixtures or InvokeFixtures()
        self._notices: dict[tuple[str, str, int], Notice] = {}

    @property
    def notices(self) -> list[Notice]:
        return list(self._notices.values())

    def answer(self, token: str, args: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """(result in wire form, failures as the provider reports them)."""
        site = current_site() or InvokeSite(None, None)
        result_type = site.result_type if _is_output_type(site.result_type) else result_type_for(token)
        entry = self.fixtures.lookup(token, args)
        if entry is not None and entry.error is not None:
            raise InvokeFailed(f"invocation of {token} returned an error: {entry.error}")  # the engine's words
        fixture = entry.result if entry is not None else None
        local = _LOCAL.get(token)
        if local is not None:
            try:
                computed = local(self, args)
            except PolicyDocumentError as exc:
                return {}, [("statements", str(exc))]
            return self._shape(result_type, token, args, {**computed, **(fixture or {})}), []
        if fixture is not None:
            return self._shape(result_type, token, args, fixture), []
        if result_type is None:
            self._note(token, site, WARNING,
                       f"invoke {token}: no result type found in its SDK, so it returned an empty result; "
                       f"values read from it are missing (give them with --invoke-fixtures)")
            return {}, []
        self._note(token, site, NOTE,
                   f"invoke {token}: answered with placeholder values shaped from {result_type.__name__} "
                   f"(ids and ARNs in the service's format); give the values a policy needs with "
                   f"--invoke-fixtures")
        return self._shape(result_type, token, args, {}), []

    def answer_read(self, type_token: str, resource_id: str, inputs: dict[str, Any], version: str,
                    location: SourceLocation | None) -> dict[str, Any]:
        """A resource read (`Resource.get(name, id)`): the engine asks the provider for the live
        state, which the gate can only shape from the resource's SDK class, like a data source."""
        cls = resource_class_for(type_token, version)
        site = InvokeSite(location, None)
        if cls is None:
            self._note(type_token, site, WARNING,
                       f"read of {type_token} {resource_id!r}: no SDK class found, so its state is only "
                       "the inputs given")
            return dict(inputs)
        self._note(type_token, site, NOTE,
                   f"read of {type_token} {resource_id!r}: its state is placeholder values shaped from "
                   f"{cls.__name__} (the gate has no account to read it from)")
        _, module, kind = aws_formats.token_parts(type_token)
        context = _Context(region=self.region, module=module, kind=kind, args={"id": resource_id, **inputs},
                           seed=type_token + resource_id)
        state = context.object(cls, {}, inputs, "", 0)
        if "arn" in state and not inputs.get("arn"):
            state["arn"] = context.arn(kind, resource_id)
        return state

    def _note(self, token: str, site: InvokeSite, level: str, message: str) -> None:
        where = site.location
        key = (token, where.path if where else "", where.line if where else 0)
        self._notices.setdefault(key, Notice(kind=INVOKE, level=level, message=message, subject=token,
                                             location=where))

    # Shaping ---------------------------------------------------------------------------------------
    def _shape(self, result_type: type | None, token: str, args: dict[str, Any],
               given: dict[str, Any]) -> dict[str, Any]:
        if result_type is None:
            return dict(given)
        _, module, kind = aws_formats.token_parts(token)
        seed = token + json.dumps(args, sort_keys=True, default=str)
        context = _Context(region=self.region, module=module, kind=aws_formats.singular(kind), args=args,
                           seed=seed)
        return context.object(result_type, given, args, "", 0)

    # Functions answered locally --------------------------------------------------------------------
    def _caller_identity(self, _args: dict) -> dict:
        account = aws_formats.ACCOUNT_ID
        return {"accountId": account, "arn": f"arn:aws:iam::{account}:user/gate", "id": account,
                "userId": "AIDAGATEMOCKUSER"}

    def _region(self, args: dict) -> dict:
        region = args.get("region") or args.get("name") or self.region
        return {"name": region, "region": region, "id": region, "endpoint": f"ec2.{region}.amazonaws.com",
                "description": region}

    def _availability_zones(self, args: dict) -> dict:
        region = args.get("region") or self.region
        letters = "abcdef"
        return {"id": region, "region": region, "names": [f"{region}{c}" for c in letters],
                "zoneIds": [_zone_id(region, i) for i in range(len(letters))], "groupNames": [region],
                "state": args.get("state")}

    def _partition(self, _args: dict) -> dict:
        return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws", "reverseDnsPrefix": "com.amazonaws"}

    def _policy_document(self, args: dict) -> dict:
        return policy_document(args)


def created_outputs(type_token: str, resource_id: str, region: str, state: dict[str, Any]) -> dict[str, Any]:
    """After a create (`pulumi up`), the outputs the provider always returns — the non-optional output
    properties of the resource's SDK class — that `state` lacks, shaped like data-source results: the
    autonamed `name` is the physical id, ids and ARNs are in the service's format.  A program that feeds
    `rule.name` or `function.qualified_arn` into another resource then gets a value, as with the engine,
    instead of None (which would drop the input it feeds)."""
    cls = resource_class_for(type_token)
    if cls is None:
        return {}
    _, module, kind = aws_formats.token_parts(type_token)
    context = _Context(region=region, module=module, kind=kind, args=state, seed=type_token + resource_id)
    out: dict[str, Any] = {}
    for wire, (_, annotation) in output_fields(cls).items():
        if wire in state or wire in ("id", "urn"):
            continue
        hint, optional = _optional(annotation)
        if not optional:
            out[wire] = resource_id if wire == "name" else context.value(hint, wire, f".{wire}", 0)
    return out


_LOCAL: dict[str, Callable[[InvokeResponder, dict], dict]] = {
    "aws:index/getCallerIdentity:getCallerIdentity": InvokeResponder._caller_identity,
    "aws:index/getRegion:getRegion": InvokeResponder._region,
    "aws:index/getAvailabilityZones:getAvailabilityZones": InvokeResponder._availability_zones,
    "aws:index/getPartition:getPartition": InvokeResponder._partition,
    "aws:iam/getPolicyDocument:getPolicyDocument": InvokeResponder._policy_document,
}


def _zone_id(region: str, index: int) -> str:
    parts = region.split("-")
    return f"{parts[0]}{''.join(p[0] for p in parts[1:-1])}{parts[-1]}-az{index + 1}"


@dataclass
class _Context:
    """What a placeholder value is derived from: the function's service and kind, its arguments and a
    seed (the token and arguments), so one call always gets the same values and different calls differ."""

    region: str
    module: str
    kind: str
    args: dict[str, Any]
    seed: str

    def object(self, cls: type, given: dict[str, Any], echo: dict[str, Any], path: str, depth: int) -> dict:
        out: dict[str, Any] = {}
        for wire, (_, annotation) in output_fields(cls).items():
            if wire in given:
                out[wire] = given[wire]
            elif echo.get(wire) is not None:
                out[wire] = echo[wire]  # an argument that is also an attribute comes back as given
            else:
                hint, optional = _optional(annotation)
                out[wire] = None if optional else self.value(hint, wire, f"{path}.{wire}", depth)
        if "id" in out and "arn" in out and "arn" not in given and echo.get("arn") is None and not path:
            out["arn"] = self.arn(self.kind, out["id"])
        return out

    def value(self, annotation: Any, field: str, path: str, depth: int) -> Any:
        hint = annotation
        if typing.get_origin(hint) is typing.Union:
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        origin = typing.get_origin(hint)
        if origin in (list, Sequence, typing.Sequence, tuple):
            (item,) = typing.get_args(hint)[:1] or (Any,)
            count = 1 if _is_output_type(item) else 2
            return [self.value(item, aws_formats.singular(field), f"{path}[{i}]", depth) for i in range(count)]
        if origin in (dict, Mapping, typing.Mapping):
            return {}
        if _is_output_type(hint):
            return {} if depth >= _MAX_DEPTH else self.object(hint, {}, {}, path, depth + 1)
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            return next(iter(hint)).value
        if hint is bool:
            return False
        if hint is int:
            return 0
        if hint is float:
            return 0.0
        if hint is str:
            return self.string(field, path)
        return None

    @property
    def identity(self) -> str:
        """The name the program looked the object up by: `name`, or the argument named after the kind
        (`bucket`, `functionName`, `roleName`)."""
        base = self.kind[:1].lower() + self.kind[1:]
        for key in ("name", base, base + "Name"):
            if isinstance(self.args.get(key), str) and self.args[key]:
                return str(self.args[key])
        return ""

    def string(self, field: str, path: str) -> str:
        seed = self.seed + path
        top_level = path.split("[", 1)[0] in (".id", ".ids")
        if field == "id":
            kind = self.kind if top_level else path.rsplit(".", 2)[-2].split("[", 1)[0] or self.kind
            if top_level and aws_formats.ec2_prefix(kind) is None and self.identity:
                return self.identity
            return aws_formats.physical_id(kind[:1].upper() + kind[1:], seed)
        if field.lower().endswith("accountid") or field in ("ownerId", "owner", "account"):
            return aws_formats.ACCOUNT_ID
        if field == "arn" or field.endswith("Arn"):
            kind = self.kind if field == "arn" else field[:1].upper() + field[1:-3]
            return self.arn(kind, self.identity if kind == self.kind and self.identity
                            else aws_formats.physical_id(kind, seed))
        if field.endswith("Id"):
            kind = field[:1].upper() + field[1:-2]
            if kind.endswith("KmsKey") or kind == "Key":
                return aws_formats.short_hash(seed, 8) + "-1234-4abc-8def-" + aws_formats.short_hash(seed + "k", 12)
            if kind.endswith("Zone"):
                return "Z" + aws_formats.short_hash(seed, 13).upper()
            return aws_formats.physical_id(kind, seed)
        if field == "region":
            return self.region
        if field == "availabilityZone":
            return self.region + "a"
        if field == "availabilityZoneId":
            return _zone_id(self.region, 0)
        if field.lower().endswith("cidrblock") or field == "cidr":
            if "ipv6" in field.lower():
                return "2600:1f18:0:" + aws_formats.short_hash(seed, 4) + "::/56"
            return f"10.{int(aws_formats.short_hash(seed, 2), 16) % 250}.0.0/16"
        if field == "name":
            return self.identity or f"{aws_formats.kebab(self.kind)}-{aws_formats.short_hash(seed, 6)}"
        if field in ("state", "status"):
            return "available"
        if field == "partition":
            return "aws"
        if "policy" in field.lower() or field in ("document", "json"):
            return '{"Version":"2012-10-17","Statement":[]}'
        return ""

    def arn(self, kind: str, resource_id: str) -> str:
        module = _KIND_MODULES.get(kind, self.module)
        name = self.identity if kind == self.kind else ""
        return aws_formats.arn(module, kind, self.region, resource_id=resource_id, name=name or resource_id)


# The service of an ARN named after another kind than the function's own (`roleArn` in an EKS result).
_KIND_MODULES = {"Role": "iam", "Policy": "iam", "User": "iam", "Group": "iam", "InstanceProfile": "iam",
                 "Key": "kms", "KmsKey": "kms", "Topic": "sns", "Queue": "sqs", "Function": "lambda",
                 "LogGroup": "cloudwatch", "Bucket": "s3", "Secret": "secretsmanager",
                 "Certificate": "acm", "Vpc": "ec2", "Subnet": "ec2", "SecurityGroup": "ec2"}
