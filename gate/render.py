"""Run a Pulumi Python program under mocks and capture what the engine would receive.

`render(program_dir, stack)` runs `<program_dir>/__main__.py` the way the Python language host does
(the SDK's `run_in_stack`, the program dir as CWD and on `sys.path`), against a resource monitor that
records every RegisterResource request.  In preview (the default) the monitor answers like the engine
for a stack that does not exist yet: inputs come back as outputs, ids and every computed output stay
unknown.  Each render runs on its own thread with a fresh event loop and fresh runtime settings, so
several stacks render one after another in one process without leaking state.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import runpy
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from google.protobuf import json_format, struct_pb2  # type: ignore[import-untyped]
from pulumi.runtime import config as pulumi_config
from pulumi.runtime import rpc
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.mocks import MockEngine, MockMonitor, MockResourceArgs
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from gate.errors import GateError
from gate.invokes import InvokeFixtures, tracking_call_sites
from gate.mocks import GateMocks
from gate.model import ERROR, INPUT_TYPE, STACK_REFERENCE, WARNING
from gate.project import Project, StackConfig, load_project, load_stack_config
from gate.provider_check import check_inputs
from gate.sdk_speedups import sdk_speedups
from gate.source import Notice, SourceLocation, is_user_file
from gate.stack_references import STACK_REFERENCE_TYPE, StackReferenceFixtures
from gate.transforms import EngineTransforms
from gate.wire import RESOURCE_SIG, SECRET_SIG, SIG_KEY, UNKNOWN

__all__ = ["SECRET_SIG", "SIG_KEY", "UNKNOWN", "CapturedResource", "RenderResult", "SourceLocation", "is_unknown",
           "render"]

_RESOURCE_SIG_BYTES = RESOURCE_SIG.encode()
STACK_TYPE = "pulumi:pulumi:Stack"
PROVIDER_PREFIX = "pulumi:providers:"


@dataclass
class CapturedResource:
    """One resource registration as the engine sees it (camelCase inputs, unknowns as the sentinel)."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    properties: struct_pb2.Struct  # wire form, what the engine forwards to analyzers
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    provider: str = ""  # provider reference "<urn>::<id>"; "" = the package's default provider
    protect: bool = False
    ignore_changes: list[str] = field(default_factory=list)
    delete_before_replace: bool | None = None
    retain_on_delete: bool | None = None
    additional_secret_outputs: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    replace_on_changes: list[str] = field(default_factory=list)
    custom_timeouts: dict[str, float] = field(default_factory=dict)
    import_id: str = ""
    version: str = ""
    source: SourceLocation | None = None
    id: str = ""  # "" while unknown (preview)

    @property
    def wire_inputs(self) -> dict[str, Any]:
        """Inputs exactly as marshalled: secrets wrapped in their signature object, unknowns as UNKNOWN."""
        return json_format.MessageToDict(self.properties)

    @property
    def inputs(self) -> dict[str, Any]:
        """Inputs with secrets unwrapped; unknown values are the string `UNKNOWN` (see `is_unknown`)."""
        return _unwrap_secrets(self.wire_inputs)

    @property
    def is_provider(self) -> bool:
        return self.type.startswith(PROVIDER_PREFIX)

    def provider_urn(self) -> str:
        return self.provider.rsplit("::", 1)[0] if self.provider else ""


def is_unknown(value: Any) -> bool:
    return value == UNKNOWN


@dataclass
class RenderResult:
    project: str
    stack: str
    preview: bool
    resources: list[CapturedResource]
    outputs: dict[str, Any]
    errors: list[str]
    warnings: list[str]
    logs: list[str]
    seconds: float
    secret_values: set[str] = field(default_factory=set)
    notices: list[Notice] = field(default_factory=list)  # what the gate had to guess, and where

    @property
    def ok(self) -> bool:
        return not self.errors

    def by_urn(self) -> dict[str, CapturedResource]:
        return {r.urn: r for r in self.resources}

    def of_type(self, type_: str) -> list[CapturedResource]:
        return [r for r in self.resources if r.type == type_]

    def raise_for_errors(self) -> None:
        if self.errors:
            raise GateError(f"stack {self.stack!r}: the program failed:\n" + "\n".join(self.errors))


_RENDER_LOCK = threading.Lock()  # CWD, sys.path and sys.modules are process-wide


def render(
    program_dir: str | os.PathLike[str],
    stack: str,
    *,
    preview: bool = True,
    config: StackConfig | None = None,
    project: Project | None = None,
    organization: str = "organization",
    timeout: float = 600.0,
    on_resource: Callable[[CapturedResource], None] | None = None,
    invoke_fixtures: InvokeFixtures | None = None,
    stack_references: StackReferenceFixtures | None = None,
) -> RenderResult:
    """Render one stack of the program; errors raised by the program land in `RenderResult.errors`.

    `on_resource`, if given, is called with each captured resource as soon as it is registered, in
    the order of `RenderResult.resources` (the default provider before its first user), from the
    SDK's worker threads: keep it short (e.g. put the resource on a queue).  A resource passed to
    it is complete: later registrations never change it.
    `invoke_fixtures` / `stack_references` give the values of data sources and referenced stacks.
    """
    directory = Path(program_dir).resolve()
    project = project if project is not None else load_project(directory)
    stack_config = config if config is not None else load_stack_config(project, stack)
    region = stack_config.values.get("aws:region", "")
    monitor = CapturingMonitor(GateMocks(region, invoke_fixtures), preview, stack_config, on_resource,
                               stack_references)
    logs: list[str] = []
    outcome: dict[str, Any] = {}

    def target() -> None:
        outcome["errors"] = _run_program(directory, project.name, stack, preview, organization,
                                         stack_config, monitor, logs)

    started = time.perf_counter()
    with _RENDER_LOCK:
        thread = threading.Thread(target=target, name=f"gate-render-{stack}", daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            raise GateError(f"stack {stack!r}: the program did not finish within {timeout:.0f} s")
    elapsed = time.perf_counter() - started
    monitor.transforms.close()
    return RenderResult(
        project=project.name,
        stack=stack,
        preview=preview,
        resources=monitor.finish(),
        outputs=monitor.stack_outputs,
        errors=outcome.get("errors", ["the render thread ended without a result"]),
        warnings=[],
        logs=logs,
        seconds=elapsed,
        secret_values=stack_config.secret_values(),
        notices=monitor.notices(),
    )


def _run_program(directory: Path, project: str, stack: str, preview: bool, organization: str,
                 config: StackConfig, monitor: CapturingMonitor, logs: list[str]) -> list[str]:
    """Body of the render thread: the same steps as the SDK's inline-program language server."""
    logger = logging.getLogger(f"gate.render.{stack}")
    logger.propagate = False
    logger.handlers[:] = [_ListHandler(logs)]
    settings = pulumi_settings.Settings(
        project=project, stack=stack, monitor=monitor, engine=MockEngine(logger),
        dry_run=preview, organization=organization, root_directory=str(directory),
        legacy_apply_enabled=False,
    )
    pulumi_settings.configure(settings)
    pulumi_settings.ROOT.set(None)
    pulumi_config.set_all_config(dict(config.values), list(config.secret_keys))

    shadowed = _stash_shadowed_modules(directory)
    modules_before = set(sys.modules)
    old_cwd = os.getcwd()
    sys.path.insert(0, str(directory))
    os.chdir(directory)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    errors: list[str] = []
    main = directory / "__main__.py"
    try:
        if not main.is_file():
            return [f"no __main__.py in {directory}"]
        def program() -> None:
            runpy.run_path(str(main), run_name="__main__")

        with sdk_speedups(), tracking_call_sites():
            loop.run_until_complete(run_in_stack(program))
    except BaseException as exc:
        errors.append(_describe_program_error(exc, directory) + _config_locations(str(exc), config, project,
                                                                                  directory))
    finally:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
        asyncio.set_event_loop(None)
        os.chdir(old_cwd)
        if sys.path and sys.path[0] == str(directory):
            sys.path.pop(0)
        _forget_program_modules(modules_before, directory)
        sys.modules.update(shadowed)
    return errors


def _describe_program_error(exc: BaseException, directory: Path) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    location = ""
    for frame in reversed(frames):
        if is_user_file(frame.filename):
            location = f" at {_relative(frame.filename, directory)}:{frame.lineno}"
            break
    return f"{type(exc).__name__}{location}: {exc}"


def _config_locations(message: str, config: StackConfig, project: str, directory: Path) -> str:
    """Where each config key an error message names is set (`Pulumi.dev.yaml:14`, or the default's line in
    Pulumi.yaml), so a settings error raised deep in the program points at the value to fix."""
    found: list[tuple[int, str]] = []
    for key in config.locations:
        short = key.split(":", 1)[1] if key.startswith(f"{project}:") else key
        match = re.search(rf"(?<![\w:.-]){re.escape(short)}(?![\w-])", message)
        if match:
            found.append((match.start(), f"\n  {short}: {config.where(key, directory)}"))
    return "".join(text for _, text in sorted(found))


def _stash_shadowed_modules(directory: Path) -> dict[str, Any]:
    """Take out of sys.modules the already-imported modules the program's own files would shadow
    (e.g. another project's `components` package), so the program imports its own; restored after."""
    own = {p.stem for p in directory.glob("*.py")} | {p.name for p in directory.iterdir() if p.is_dir()}
    prefix = str(directory) + os.sep
    stashed = {}
    for name in list(sys.modules):
        top = name.split(".", 1)[0]
        module_file = getattr(sys.modules[name], "__file__", None) or ""
        if top in own and top != "__main__" and not module_file.startswith(prefix):
            stashed[name] = sys.modules.pop(name)
    return stashed


def _forget_program_modules(before: set[str], directory: Path) -> None:
    """Drop modules the program imported from its own directory, so the next render re-imports them
    (another program may have a `components` package of its own)."""
    prefix = str(directory) + os.sep
    for name in set(sys.modules) - before:
        module_file = getattr(sys.modules.get(name), "__file__", None) or ""
        # A virtualenv inside the program dir (.venv/) holds libraries, not the program: keep those
        # (re-importing pulumi_aws would register its package twice).
        if module_file.startswith(prefix) and is_user_file(module_file):
            del sys.modules[name]


class _ListHandler(logging.Handler):
    """Collects the program's engine Log calls (pulumi.log.*) for the report."""

    def __init__(self, sink: list[str]) -> None:
        super().__init__()
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(f"{record.levelname.lower()}: {record.getMessage()}")


# --- the monitor ---------------------------------------------------------------------------------

def _relative(path: str, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return path


class CapturingMonitor(MockMonitor):
    """A resource monitor that records each RegisterResource request and answers like the engine."""

    def __init__(self, mocks: GateMocks, preview: bool, config: StackConfig,
                 on_resource: Callable[[CapturedResource], None] | None = None,
                 stack_references: StackReferenceFixtures | None = None) -> None:
        super().__init__(mocks)
        self.mocks: GateMocks = mocks
        self.preview = preview
        self.config = config
        self.stack_outputs: dict[str, Any] = {}
        self.transforms = EngineTransforms()
        self.stack_references = stack_references or StackReferenceFixtures()
        self._lock = threading.Lock()
        self._captured: list[CapturedResource] = []
        self._defaults: dict[str, CapturedResource] = {}
        self._on_resource = on_resource
        self._stack_urn = ""
        self._notices: list[Notice] = []

    def notices(self) -> list[Notice]:
        with self._lock:
            return self._notices + self.mocks.invokes.notices

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The engine leaves the root stack out of a child's qualified type; MockMonitor does not.
        if parent and parent == self._stack_urn:
            parent = ""
        return super().make_urn(parent, type_, name)

    # Registration ------------------------------------------------------------------------------
    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type != STACK_TYPE:
            request = self.transforms.apply(request)  # inherited options, then transforms (engine order)
        self.transforms.record(urn, request)
        captured = _capture(request, urn)
        if request.type == STACK_TYPE:
            self._stack_urn = urn
            self._record(captured)
            return resource_pb2.RegisterResourceResponse(urn=urn)
        if not request.custom:
            self._record(captured)
            return resource_pb2.RegisterResourceResponse(urn=urn, object=struct_pb2.Struct())
        if not captured.is_provider:
            self._check_inputs(captured)
        if self.preview:
            # A create in preview: the provider echoes the (checked) inputs; ids and computed outputs
            # are unknown, which the SDK encodes by leaving them out of the response.
            response = resource_pb2.RegisterResourceResponse(urn=urn, id="", object=request.object)
        else:
            inputs = rpc.deserialize_properties(request.object)
            captured.id, state = self.mocks.new_resource(_resource_args(request, inputs))
            obj = _sync_await(rpc.serialize_properties(state, {}))
            response = resource_pb2.RegisterResourceResponse(urn=urn, id=captured.id, object=obj)
        self._record(captured)
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, captured.id, {})
        return response

    def _check_inputs(self, res: CapturedResource) -> None:
        """The provider's Check, as far as types go (`gate.provider_check`): an error at the program's line."""
        problems = check_inputs(res.type, res.wire_inputs, res.version)
        if problems:
            with self._lock:
                self._notices.extend(
                    Notice(kind=INPUT_TYPE, level=ERROR, subject=res.urn, location=res.source,
                           message=f"{res.type} resource {res.name!r} has a problem the provider's Check "
                                   f"would reject: {problem}")
                    for problem in problems)

    def _record(self, res: CapturedResource) -> None:
        """Append in registration order; a custom resource without an explicit provider gets the
        engine's default provider for its package and version, recorded just before its first user."""
        with self._lock:
            if res.custom and not res.provider and not res.is_provider and res.type != STACK_TYPE:
                key = f"{res.type.split(':', 1)[0]}@{res.version}"
                default = self._defaults.get(key)
                if default is None:
                    default = self._defaults[key] = self._default_provider(res.type.split(":", 1)[0], res.version)
                    self._append(default)
                res.provider = f"{default.urn}::{default.id or UNKNOWN}"
            self._append(res)

    def _append(self, res: CapturedResource) -> None:
        self._captured.append(res)
        if self._on_resource is not None:
            self._on_resource(res)

    def RegisterStackTransform(self, request: Any) -> Any:
        self.transforms.register_stack(request)
        return super().RegisterStackTransform(request)

    def RegisterStackInvokeTransform(self, request: Any) -> Any:
        self.transforms.register_stack_invoke(request)
        return super().RegisterStackInvokeTransform(request)

    def Invoke(self, request: Any) -> Any:
        return super().Invoke(self.transforms.apply_invoke(request))

    def ReadResource(self, request: Any) -> Any:
        """A read: a stack reference from its fixtures (or unknown), another resource shaped from its
        SDK class (the engine would read the live state from the provider)."""
        urn = self.make_urn(request.parent, request.type, request.name)
        location = _source_location(request)
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, request.id, {})
        if request.type == STACK_REFERENCE_TYPE:
            state = self._stack_reference(request.id, location)
            if state is None:
                # The engine's answer for a read it could not perform: `unknown`, which the SDK
                # resolves as unknown outputs in preview and in update alike.
                return resource_pb2.ReadResourceResponse(urn=urn, properties=_struct({"name": request.id}),
                                                         unknown=True)
        else:
            inputs = rpc.deserialize_properties(request.properties)
            state = self.mocks.invokes.answer_read(request.type, request.id, inputs, request.version, location)
        return resource_pb2.ReadResourceResponse(urn=urn, properties=_struct(state), id=request.id)

    def _stack_reference(self, name: str, location: SourceLocation | None) -> dict[str, Any] | None:
        referenced = self.stack_references.get(name)
        if referenced is None:
            with self._lock:
                self._notices.append(Notice(
                    kind=STACK_REFERENCE, level=WARNING, subject=name, location=location,
                    message=f"stack reference {name!r}: its outputs are unknown (no --stack-reference-fixtures "
                            "entry for it), so every value read from it is unknown"))
            return None
        secret = set(referenced.secret_output_names)
        outputs = {k: ({SIG_KEY: SECRET_SIG, "value": v} if k in secret else v)
                   for k, v in referenced.outputs.items()}
        return {"name": name, "outputs": outputs, "secretOutputNames": sorted(secret)}

    def RegisterResourceOutputs(self, request: Any) -> Any:
        if request.urn and request.urn == self._stack_urn:
            self.stack_outputs = _unwrap_secrets(json_format.MessageToDict(request.outputs))
        return super().RegisterResourceOutputs(request)

    # Results -----------------------------------------------------------------------------------
    def finish(self) -> list[CapturedResource]:
        """Captured resources in registration order, with the engine's default providers inserted
        before the first resource that uses them."""
        with self._lock:
            return list(self._captured)

    def _default_provider(self, package: str, version: str) -> CapturedResource:
        name = "default" + ("_" + version.replace(".", "_").replace("-", "_") if version else "")
        props: dict[str, Any] = {
            key.split(":", 1)[1]: value
            for key, value in self.config.values.items()
            if key.startswith(package + ":")
        }
        if version:
            props["version"] = version
        struct = struct_pb2.Struct()
        struct.update(props)
        urn = f"urn:pulumi:{self.config.stack}::{self._project()}::{PROVIDER_PREFIX}{package}::{name}"
        return CapturedResource(urn=urn, type=PROVIDER_PREFIX + package, name=name, custom=True, parent="",
                                properties=struct, version=version,
                                id="" if self.preview else f"{name}-id")

    def _project(self) -> str:
        parts = self._stack_urn.split("::")
        return parts[1] if len(parts) > 1 else ""


def _struct(values: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(values)
    return struct


def _resource_args(request: Any, inputs: dict[str, Any]) -> Any:
    return MockResourceArgs(typ=request.type, name=request.name, inputs=inputs, provider=request.provider,
                            resource_id=request.importId, custom=request.custom)


def _capture(request: Any, urn: str) -> CapturedResource:
    options = {}
    if request.HasField("customTimeouts"):
        options = {k: _duration_seconds(getattr(request.customTimeouts, k))
                   for k in ("create", "update", "delete") if getattr(request.customTimeouts, k)}
    aliases = [a.urn for a in request.aliases if a.urn] + list(request.aliasURNs)
    return CapturedResource(
        urn=urn,
        type=request.type,
        name=request.name,
        custom=bool(request.custom),
        parent=request.parent,
        properties=_downgrade_resource_refs(request.object),
        dependencies=list(request.dependencies),
        property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
        provider=request.provider,
        protect=bool(request.protect) if request.HasField("protect") else False,
        ignore_changes=list(request.ignoreChanges),
        delete_before_replace=request.deleteBeforeReplace if request.deleteBeforeReplaceDefined else None,
        retain_on_delete=request.retainOnDelete if request.HasField("retainOnDelete") else None,
        additional_secret_outputs=list(request.additionalSecretOutputs),
        aliases=aliases,
        replace_on_changes=list(request.replaceOnChanges),
        custom_timeouts=options,
        import_id=request.importId,
        version=request.version,
        source=_source_location(request),
    )


def _source_location(request: Any) -> SourceLocation | None:
    """The innermost frame of the registration's stack trace that is the program's own code."""
    for frame in request.stackTrace.frames:
        if not frame.pc.uri:
            continue
        path = unquote(urlparse(frame.pc.uri).path)
        if is_user_file(path):
            return SourceLocation(path=path, line=frame.pc.line)
    return None


def _downgrade_resource_refs(struct: struct_pb2.Struct) -> struct_pb2.Struct:
    """Analyzers get resource references as plain ids (custom) or URNs (components), as the engine
    marshals them without KeepResources; pulumi_policy cannot deserialize a reference object."""
    # Cheap pre-check on the wire bytes (the signature is a string value inside the struct); only
    # the rare struct that holds a reference pays for the dict round trip.
    if _RESOURCE_SIG_BYTES not in struct.SerializeToString():
        return struct
    as_dict = json_format.MessageToDict(struct)
    if RESOURCE_SIG not in str(as_dict):
        return struct
    out = struct_pb2.Struct()
    out.update(_downgrade(as_dict))
    return out


def _downgrade(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SIG_KEY) == RESOURCE_SIG:
            if "id" in value:
                return value["id"] if value["id"] != "" else UNKNOWN
            return value.get("urn", "")
        return {k: _downgrade(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_downgrade(v) for v in value]
    return value


def _unwrap_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return _unwrap_secrets(value.get("value"))
        return {k: _unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap_secrets(v) for v in value]
    return value


def iter_secret_strings(value: Any, inside_secret: bool = False) -> Iterator[str]:
    """Every string found inside a secret wrapper of a wire-form value (to redact from reports)."""
    if isinstance(value, dict):
        is_secret = value.get(SIG_KEY) == SECRET_SIG
        for v in value.values():
            yield from iter_secret_strings(v, inside_secret or is_secret)
    elif isinstance(value, list):
        for v in value:
            yield from iter_secret_strings(v, inside_secret)
    elif inside_secret and isinstance(value, str) and value != SECRET_SIG and value:
        yield value


def _duration_seconds(text: str) -> float:
    """Go duration strings ("5m", "1h30m", "45s") as the engine converts custom timeouts."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    total, number = 0.0, ""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isdigit() or ch == ".":
            number += ch
            i += 1
            continue
        unit = "ms" if text[i:i + 2] == "ms" else ch
        if unit not in units or not number:
            raise GateError(f"invalid custom timeout {text!r}")
        total += float(number) * units[unit]
        number = ""
        i += len(unit)
    if number:
        raise GateError(f"invalid custom timeout {text!r} (missing unit)")
    return total
