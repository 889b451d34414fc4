"""The engine's half of resource and invoke transforms, for a render under mocks.

The Python SDK applies the *legacy* transformations itself, in-process, before it registers a resource
(`ResourceOptions(transformations=...)` and `pulumi.runtime.register_stack_transformation`; see
`pulumi.resource.Resource.__init__`): under mocks they already work.  The *new-style* transforms
(`ResourceOptions(transforms=...)`, `pulumi.runtime.register_resource_transform` /
`register_stack_transform`, `register_invoke_transform`) are only registered by the SDK, as callbacks
on its callback server; the engine calls them (`resmon.RegisterResource` / `resmon.Invoke` in
pkg/resource/deploy/source_eval.go).  The SDK's mock monitor does not, so this module does what the
engine does, over the same gRPC callback protocol:

- before anything else a registration inherits `protect`, `retainOnDelete` and `deletedWith` from its
  parent's goal when it leaves them unset (`inheritFromParent`) — the goal as *transformed*, so a
  transform that protects a component protects its children;
- the transforms run in order: the resource's own, then each ancestor's own (parent first), then the
  stack's; each gets the properties and the options the previous one returned;
- the resource's own transforms see each property that has dependencies as an output value carrying
  them, and, if it has any, its dependencies are re-read from the result: `depends_on` plus the
  output values left in the properties (so a transform that returns new properties drops the
  per-property dependencies, as it does with the engine);
- secret and unknown values reach a transform as output values (the engine's
  UpgradeToOutputValues) and come back as plain secrets and unknowns;
- stack invoke transforms run on every invoke's arguments, in registration order.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import grpc  # type: ignore[import-untyped]
from google.protobuf import struct_pb2  # type: ignore[import-untyped]
from pulumi.runtime import rpc
from pulumi.runtime.proto import alias_pb2, callback_pb2, callback_pb2_grpc, resource_pb2

from gate.wire import OUTPUT_SIG, SECRET_SIG, SIG_KEY


@dataclass(frozen=True)
class _Goal:
    """What a child inherits from its parent's registration (after transforms)."""

    protect: bool | None
    retain_on_delete: bool | None
    deleted_with: str


class TransformError(RuntimeError):
    """A transform callback failed; the engine fails the registration with this message."""


class EngineTransforms:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stack: list[Any] = []
        self._stack_invoke: list[Any] = []
        self._own: dict[str, list[Any]] = {}
        self._parents: dict[str, str] = {}
        self._goals: dict[str, _Goal] = {}
        self._channels: dict[str, Any] = {}

    @property
    def has_invoke_transforms(self) -> bool:
        return bool(self._stack_invoke)

    def register_stack(self, callback: Any) -> None:
        with self._lock:
            self._stack.append(callback)

    def register_stack_invoke(self, callback: Any) -> None:
        with self._lock:
            self._stack_invoke.append(callback)

    # Registrations -----------------------------------------------------------------------------------
    def apply(self, request: Any) -> Any:
        """The registration as the engine goes on with it: inherited options, then every transform."""
        parent = request.parent
        with self._lock:
            goal = self._goals.get(parent)
            chain = list(request.transforms)
            current = parent
            while current:
                chain += self._own.get(current, [])
                current = self._parents.get(current, "")
            chain += self._stack
        inherits = goal is not None and _inherits(request, goal)
        if not inherits and not chain:
            return request  # the common case: nothing to change, no copy
        request = _copy(request)
        if goal is not None:
            _inherit(request, goal)
        if chain:
            _run_transforms(request, chain, self._call)
        return request

    def record(self, urn: str, request: Any) -> None:
        """After a registration: what its children inherit and the transforms they run."""
        goal = _Goal(protect=request.protect if request.HasField("protect") else None,
                     retain_on_delete=request.retainOnDelete if request.HasField("retainOnDelete") else None,
                     deleted_with=request.deletedWith)
        with self._lock:
            self._goals[urn] = goal
            self._parents[urn] = request.parent
            if request.transforms:
                self._own[urn] = list(request.transforms)

    # Invokes -----------------------------------------------------------------------------------------
    def apply_invoke(self, request: Any) -> Any:
        with self._lock:
            chain = list(self._stack_invoke)
        if not chain:
            return request
        args = _upgrade(request.args, {})
        options = resource_pb2.TransformInvokeOptions(
            provider=request.provider, version=request.version, plugin_download_url=request.pluginDownloadURL)
        for callback in chain:
            raw = self._call(callback, resource_pb2.TransformInvokeRequest(token=request.tok, args=args,
                                                                            options=options))
            response = resource_pb2.TransformInvokeResponse.FromString(raw)
            if response.HasField("args"):
                args = response.args
            if response.HasField("options"):
                options = response.options
        out = resource_pb2.ResourceInvokeRequest()
        out.CopyFrom(request)
        out.args.CopyFrom(_downgrade(args, {}))
        out.provider = options.provider
        out.version = options.version
        out.pluginDownloadURL = options.plugin_download_url
        return out

    # The callback protocol ---------------------------------------------------------------------------
    def _call(self, callback: Any, message: Any) -> bytes:
        with self._lock:
            channel = self._channels.get(callback.target)
            if channel is None:
                channel = self._channels[callback.target] = grpc.insecure_channel(callback.target)
        stub = callback_pb2_grpc.CallbacksStub(channel)
        try:
            reply = stub.Invoke(callback_pb2.CallbackInvokeRequest(token=callback.token,
                                                                   request=message.SerializeToString()))
        except grpc.RpcError as exc:
            raise TransformError(f"invoke transform: {exc.details()}") from None
        return bytes(reply.response)

    def close(self) -> None:
        with self._lock:
            for channel in self._channels.values():
                channel.close()
            self._channels.clear()


def _copy(request: Any) -> Any:
    out = resource_pb2.RegisterResourceRequest()
    out.CopyFrom(request)
    return out


def _inherits(request: Any, goal: _Goal) -> bool:
    return (goal.protect is not None and not request.HasField("protect")) \
        or (goal.retain_on_delete is not None and not request.HasField("retainOnDelete")) \
        or (bool(goal.deleted_with) and not request.deletedWith)


def _inherit(request: Any, goal: _Goal) -> None:
    if not request.HasField("protect") and goal.protect is not None:
        request.protect = goal.protect
    if not request.HasField("retainOnDelete") and goal.retain_on_delete is not None:
        request.retainOnDelete = goal.retain_on_delete
    if not request.deletedWith:
        request.deletedWith = goal.deleted_with


def _options(request: Any) -> Any:
    package = request.type.split(":", 1)[0]
    provider = request.provider or (request.providers.get(package, "") if request.custom else "")
    aliases = [alias_pb2.Alias(urn=u) for u in request.aliasURNs] + list(request.aliases)
    options = resource_pb2.TransformResourceOptions(
        depends_on=list(request.dependencies), ignore_changes=list(request.ignoreChanges),
        replace_on_changes=list(request.replaceOnChanges), version=request.version, aliases=aliases,
        provider=provider, providers=dict(request.providers), plugin_download_url=request.pluginDownloadURL,
        deleted_with=request.deletedWith, additional_secret_outputs=list(request.additionalSecretOutputs),
        hide_diff=list(request.hideDiffs), replace_with=list(request.replace_with), **{"import": request.importId},
    )
    if request.HasField("protect"):
        options.protect = request.protect
    if request.HasField("retainOnDelete"):
        options.retain_on_delete = request.retainOnDelete
    if request.deleteBeforeReplaceDefined or request.deleteBeforeReplace:
        options.delete_before_replace = request.deleteBeforeReplace
    if request.HasField("customTimeouts"):
        options.custom_timeouts.CopyFrom(request.customTimeouts)
    if request.HasField("replacement_trigger"):
        options.replacement_trigger.CopyFrom(request.replacement_trigger)
    if request.HasField("hooks"):
        options.hooks.CopyFrom(request.hooks)
    return options


def _run_transforms(request: Any, chain: list[Any], call: Any) -> None:
    own = bool(request.transforms)
    if own and request.propertyDependencies:
        deps = {k: list(v.urns) for k, v in request.propertyDependencies.items()}
    elif own:  # no per-property information: every property depends on every dependency
        deps = {k: list(request.dependencies) for k in request.object}
    else:
        deps = {}
    props = _upgrade(request.object, deps)
    options = _options(request)
    for callback in chain:
        raw = call(callback, resource_pb2.TransformRequest(type=request.type, name=request.name,
                                                            custom=request.custom, parent=request.parent,
                                                            properties=props, options=options))
        response = resource_pb2.TransformResponse.FromString(raw)
        if response.HasField("properties"):
            props = response.properties
        if response.HasField("options"):
            options = response.options
    found: dict[str, set[str]] = {}
    request.object.CopyFrom(_downgrade(props, found))
    _write_options(request, options)
    if own:
        request.ClearField("propertyDependencies")
        everything = set(options.depends_on)
        for key in props:
            urns = found.get(key, set())
            everything |= urns
            request.propertyDependencies[key].urns.extend(sorted(urns))
        del request.dependencies[:]
        request.dependencies.extend(sorted(everything))


def _write_options(request: Any, options: Any) -> None:
    if options.HasField("protect"):
        request.protect = options.protect
    else:
        request.ClearField("protect")
    if options.HasField("retain_on_delete"):
        request.retainOnDelete = options.retain_on_delete
    else:
        request.ClearField("retainOnDelete")
    request.deleteBeforeReplaceDefined = options.HasField("delete_before_replace")
    request.deleteBeforeReplace = options.delete_before_replace if request.deleteBeforeReplaceDefined else False
    for field, value in (("ignoreChanges", options.ignore_changes), ("replaceOnChanges", options.replace_on_changes),
                         ("additionalSecretOutputs", options.additional_secret_outputs),
                         ("hideDiffs", options.hide_diff), ("replace_with", options.replace_with)):
        del getattr(request, field)[:]
        getattr(request, field).extend(value)
    request.version = options.version
    request.pluginDownloadURL = options.plugin_download_url
    request.provider = options.provider if request.custom else request.provider
    request.providers.clear()
    request.providers.update(options.providers)
    request.deletedWith = options.deleted_with
    request.importId = getattr(options, "import")
    request.ClearField("aliases")
    del request.aliasURNs[:]
    request.aliases.extend(options.aliases)
    request.ClearField("customTimeouts")
    if options.HasField("custom_timeouts"):
        request.customTimeouts.CopyFrom(options.custom_timeouts)


# --- output values -----------------------------------------------------------------------------------
def _upgrade(struct: struct_pb2.Struct, deps: dict[str, list[str]]) -> struct_pb2.Struct:
    """Properties as the engine marshals them to a transform: secrets and unknowns as output values,
    and (for the resource's own transforms) each property with dependencies as an output value."""
    out = struct_pb2.Struct()
    for key, value in struct.items():
        upgraded = _upgrade_value(value)
        urns = deps.get(key) or []
        if urns:
            if isinstance(upgraded, dict) and upgraded.get(SIG_KEY) == OUTPUT_SIG:
                upgraded["dependencies"] = sorted(set(upgraded.get("dependencies", [])) | set(urns))
            else:
                upgraded = {SIG_KEY: OUTPUT_SIG, "value": upgraded, "dependencies": sorted(set(urns))}
        out[key] = upgraded
    return out


def _upgrade_value(value: Any) -> Any:
    if value == rpc.UNKNOWN:
        return {SIG_KEY: OUTPUT_SIG}
    if isinstance(value, struct_pb2.Struct):
        if _sig(value) == SECRET_SIG:
            inner = _upgrade_value(value["value"])
            if isinstance(inner, dict) and inner.get(SIG_KEY) == OUTPUT_SIG:
                return {**inner, "secret": True}
            return {SIG_KEY: OUTPUT_SIG, "value": inner, "secret": True}
        if _sig(value):  # a resource reference or an asset: as it is
            return _plain(value)
        return {k: _upgrade_value(v) for k, v in value.items()}
    if isinstance(value, struct_pb2.ListValue):
        return [_upgrade_value(v) for v in value]
    return value


def _sig(struct: struct_pb2.Struct) -> Any:
    return struct[SIG_KEY] if SIG_KEY in struct else None  # noqa: SIM401 - a protobuf Struct has no .get()


def _plain(value: Any) -> Any:
    if isinstance(value, struct_pb2.Struct):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, struct_pb2.ListValue):
        return [_plain(v) for v in value]
    return value


def _downgrade(struct: struct_pb2.Struct, found: dict[str, set[str]]) -> struct_pb2.Struct:
    """Output values back to what the rest of the engine and the analyzers see (value, secret or
    unknown); `found` collects the dependencies each top-level property carried."""
    out = struct_pb2.Struct()
    for key, value in struct.items():
        urns: set[str] = set()
        out[key] = _downgrade_value(value, urns)
        found[key] = urns
    return out


def _downgrade_value(value: Any, urns: set[str]) -> Any:
    if isinstance(value, struct_pb2.Struct):
        if _sig(value) == OUTPUT_SIG:
            urns.update(value["dependencies"] if "dependencies" in value else [])  # noqa: SIM401 - a Struct
            if "value" not in value:
                return rpc.UNKNOWN
            inner = _downgrade_value(value["value"], urns)
            secret = "secret" in value and value["secret"] is True
            return {SIG_KEY: SECRET_SIG, "value": inner} if secret else inner
        return {k: _downgrade_value(v, urns) for k, v in value.items()}
    if isinstance(value, struct_pb2.ListValue):
        return [_downgrade_value(v, urns) for v in value]
    return value
