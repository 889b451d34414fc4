"""Start CrossGuard policy packs and drive them over gRPC the way the Pulumi engine does.

A Python pack is started like the CLI's `pulumi-analyzer-policy-python` shim does it:
`<python> -u -m pulumi.policy <engine-address> .` with the pack directory as CWD, where <python> is the
interpreter of the pack's `runtime.options.virtualenv` if set.  The environment carries the stack's
config (PULUMI_CONFIG), PULUMI_PROJECT / PULUMI_STACK / PULUMI_ORGANIZATION and PULUMI_DRY_RUN, like
the engine's constructEnv.  The pack prints its port; then GetAnalyzerInfo, GetPluginInfo,
ConfigureStack, Configure, one Analyze per resource and one AnalyzeStack.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import grpc  # type: ignore[import-untyped]
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2  # type: ignore[import-untyped]
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from gate.errors import GateError
from gate.model import PREVIEW_UNKNOWN, VIOLATION, Diagnostic, PackMeta, PolicyMeta
from gate.project import SAFE_LOADER, StackConfig
from gate.render import CapturedResource

CANT_RUN_PREFIX = "can't run policy '"
_LEVEL_NAMES = {analyzer_pb2.ADVISORY: "advisory", analyzer_pb2.MANDATORY: "mandatory",
                analyzer_pb2.DISABLED: "disabled", analyzer_pb2.REMEDIATE: "remediate"}
_LEVEL_VALUES = {v: k for k, v in _LEVEL_NAMES.items()}
_SEVERITY_NAMES = {analyzer_pb2.POLICY_SEVERITY_LOW: "low", analyzer_pb2.POLICY_SEVERITY_MEDIUM: "medium",
                   analyzer_pb2.POLICY_SEVERITY_HIGH: "high", analyzer_pb2.POLICY_SEVERITY_CRITICAL: "critical"}
_POLICY_TYPES = {analyzer_pb2.POLICY_TYPE_RESOURCE: "resource", analyzer_pb2.POLICY_TYPE_STACK: "stack"}


def read_pack_manifest(pack_dir: Path) -> tuple[str, str | None]:
    """(version, virtualenv) from PulumiPolicy.yaml; the version there wins over the pack's own."""
    manifest = pack_dir / "PulumiPolicy.yaml"
    if not manifest.is_file():
        raise GateError(f"policy pack {pack_dir}: no PulumiPolicy.yaml")
    try:
        doc = yaml.load(manifest.read_text(encoding="utf-8"), Loader=SAFE_LOADER) or {}  # noqa: S506 - safe loader
    except yaml.YAMLError as exc:
        raise GateError(f"{manifest}: invalid YAML: {exc}") from exc
    runtime = doc.get("runtime")
    name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if name != "python":
        raise GateError(f"{manifest}: runtime {name!r} is not supported by the gate (python only)")
    options = runtime.get("options") or {} if isinstance(runtime, dict) else {}
    virtualenv = options.get("virtualenv")
    return str(doc.get("version") or ""), str(virtualenv) if virtualenv else None


def pack_interpreter(pack_dir: Path, virtualenv: str | None) -> tuple[str, dict[str, str]]:
    """The python to run the pack with and the environment changes its virtualenv needs."""
    if not virtualenv:
        return sys.executable, {}
    venv = (pack_dir / virtualenv).resolve()
    python = venv / "bin" / "python"
    if not python.exists():
        raise GateError(f"policy pack {pack_dir}: the 'virtualenv' option is set to {virtualenv}, but "
                        f"{venv} doesn't appear to be a virtual environment (no bin/python)")
    return str(python), {"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}


class PolicyPackProcess:
    """One running pack for one stack.  Use as a context manager; `close` never leaves orphans."""

    def __init__(self, pack_dir: Path, *, engine_address: str, project: str, stack: StackConfig,
                 organization: str = "organization", dry_run: bool = True,
                 start_timeout: float = 60.0, rpc_timeout: float = 120.0) -> None:
        self.pack_dir = pack_dir.resolve()
        self.stack = stack
        self.project = project
        self.organization = organization
        self.dry_run = dry_run
        self.start_timeout = start_timeout
        self.rpc_timeout = rpc_timeout
        self.manifest_version, virtualenv = read_pack_manifest(self.pack_dir)
        python, env_changes = pack_interpreter(self.pack_dir, virtualenv)
        env = dict(os.environ)
        env.pop("PYTHONHOME", None)
        env.update(env_changes)
        env.update({
            "PULUMI_CONFIG": json.dumps(stack.values),
            "PULUMI_PROJECT": project,
            "PULUMI_STACK": stack.stack,
            "PULUMI_ORGANIZATION": organization,
            "PULUMI_DRY_RUN": "true" if dry_run else "false",
        })
        self.stdout_lines: list[str] = []
        self.stderr_lines: list[str] = []
        self._port_queue: queue.Queue[str | None] = queue.Queue()
        self._channel: grpc.Channel | None = None
        self._stub: analyzer_pb2_grpc.AnalyzerStub | None = None
        self.meta: PackMeta | None = None
        try:
            self.process = subprocess.Popen(  # noqa: S603 - argv built from our own settings, no shell
                [python, "-u", "-m", "pulumi.policy", engine_address, "."],
                cwd=self.pack_dir, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )
        except OSError as exc:
            raise GateError(f"policy pack {self.pack_dir} failed to start: {exc}") from exc
        assert self.process.stdout is not None and self.process.stderr is not None
        threading.Thread(target=self._drain, args=(self.process.stdout, True), daemon=True).start()
        threading.Thread(target=self._drain, args=(self.process.stderr, False), daemon=True).start()

    def _drain(self, stream: IO[bytes], is_stdout: bool) -> None:
        first = is_stdout
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if first:
                self._port_queue.put(line)
                first = False
            elif is_stdout:
                self.stdout_lines.append(line)
            else:
                self.stderr_lines.append(line)
        if first:
            self._port_queue.put(None)  # stdout closed before a port was printed

    def _failure(self, what: str) -> GateError:
        tail = "\n".join(("    " + line) for line in self.stderr_lines[-25:])
        return GateError(f"policy pack {self.pack_dir.name} ({self.pack_dir}) {what}"
                         + (f"; its stderr:\n{tail}" if tail else ""))

    def _connect(self) -> analyzer_pb2_grpc.AnalyzerStub:
        if self._stub is not None:
            return self._stub
        try:
            first_line = self._port_queue.get(timeout=self.start_timeout)
        except queue.Empty:
            raise self._failure(f"did not print its port within {self.start_timeout:.0f} s") from None
        if first_line is None:
            self.process.wait(timeout=10)
            self._wait_for_stderr()
            raise self._failure(f"exited with code {self.process.returncode} before serving")
        try:
            port = int(first_line.strip())
        except ValueError:
            raise self._failure(f"printed {first_line[:200]!r} instead of its port") from None
        self._channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        try:
            grpc.channel_ready_future(self._channel).result(timeout=self.start_timeout)
        except grpc.FutureTimeoutError:
            raise self._failure(f"did not accept connections on port {port}") from None
        self._stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)
        return self._stub

    def _wait_for_stderr(self) -> None:
        # The drain thread may still be reading the traceback the pack printed as it died.
        for _ in range(50):
            if self.process.stderr is None or self.process.stderr.closed:
                break
            threading.Event().wait(0.02)

    def _call(self, what: str, fn: Callable[..., Any], request: Any) -> Any:
        try:
            return fn(request, timeout=self.rpc_timeout)
        except grpc.RpcError as exc:
            raise self._rpc_failure(what, exc) from None

    def _rpc_failure(self, what: str, exc: Any) -> GateError:
        if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
            return self._failure(f"timed out after {self.rpc_timeout:.0f} s in {what}")
        if self.process.poll() is not None:
            self._wait_for_stderr()
            return self._failure(f"crashed (exit code {self.process.returncode}) during {what}")
        return self._failure(f"failed in {what}: {exc.details()}")

    # --- protocol ---------------------------------------------------------------------------------
    def handshake(self) -> PackMeta:
        """GetAnalyzerInfo + GetPluginInfo + ConfigureStack, as the engine does when it loads a pack."""
        stub = self._connect()
        info = self._call("GetAnalyzerInfo", stub.GetAnalyzerInfo, empty_pb2.Empty())
        self._call("GetPluginInfo", stub.GetPluginInfo, empty_pb2.Empty())
        self.meta = pack_meta(info, self.manifest_version, self.pack_dir)
        self._call("ConfigureStack", stub.ConfigureStack,
                   configure_stack_request(self.stack, self.project, self.organization, self.dry_run))
        return self.meta

    def configure(self, policy_config: dict[str, dict[str, Any]]) -> None:
        self._call("Configure", self._connect().Configure, configure_request(policy_config))

    def submit_analyze(self, res: CapturedResource, providers: dict[str, CapturedResource]) -> Any:
        """Send one Analyze without waiting (a gRPC future); `analyze_result` collects it.  The pack's
        server works through them while the caller goes on (e.g. while the program still renders)."""
        return self._connect().Analyze.future(analyze_request(res, providers), timeout=self.rpc_timeout)

    def analyze_result(self, res: CapturedResource, future: Any,
                       locate: Callable[[CapturedResource], tuple[str, int]]) -> list[Diagnostic]:
        try:
            response = future.result()
        except grpc.RpcError as exc:
            raise self._rpc_failure(f"Analyze of {res.urn}", exc) from None
        return self._convert(response.diagnostics, res, {}, locate)

    def submit_analyze_stack(self, resources: list[CapturedResource],
                             providers: dict[str, CapturedResource]) -> Any:
        """Send the one AnalyzeStack (the whole graph) without waiting; `analyze_stack_result` collects it."""
        request = analyze_stack_request(resources, providers)
        return self._connect().AnalyzeStack.future(request, timeout=self.rpc_timeout)

    def analyze_stack_result(self, resources: list[CapturedResource], future: Any,
                             locate: Callable[[CapturedResource], tuple[str, int]]) -> list[Diagnostic]:
        try:
            response = future.result()
        except grpc.RpcError as exc:
            raise self._rpc_failure("AnalyzeStack", exc) from None
        by_urn = {r.urn: r for r in resources}
        return self._convert(response.diagnostics, None, by_urn, locate)

    def analyze_stack(self, resources: list[CapturedResource], providers: dict[str, CapturedResource],
                      locate: Callable[[CapturedResource], tuple[str, int]]) -> list[Diagnostic]:
        future = self.submit_analyze_stack(resources, providers)
        return self.analyze_stack_result(resources, future, locate)

    def _convert(self, raw: Any, resource: CapturedResource | None, by_urn: dict[str, CapturedResource],
                 locate: Callable[[CapturedResource], tuple[str, int]]) -> list[Diagnostic]:
        assert self.meta is not None
        out = []
        for d in raw:
            # "can't run" diagnostics carry no URN; the resource being analyzed is the one concerned.
            target = by_urn.get(d.urn) if d.urn else resource
            if d.urn and target is None and resource is not None and d.urn == resource.urn:
                target = resource
            file, line = locate(target) if target is not None else ("", 0)
            out.append(Diagnostic(
                stack=self.stack.stack,
                policy_pack_name=d.policyPackName or self.meta.name,
                policy_pack_version=self.meta.version or d.policyPackVersion,
                policy_name=d.policyName,
                description=d.description,
                message=d.message,
                enforcement_level=_LEVEL_NAMES.get(d.enforcementLevel, "advisory"),
                severity=_SEVERITY_NAMES.get(d.severity, ""),
                category=PREVIEW_UNKNOWN if d.message.startswith(CANT_RUN_PREFIX) else VIOLATION,
                resource_urn=target.urn if target is not None else d.urn,
                resource_type=target.type if target is not None else "",
                resource_name=target.name if target is not None else "",
                file=file,
                line=line,
            ))
        return out

    # --- lifecycle --------------------------------------------------------------------------------
    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> PolicyPackProcess:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


# --- the engine's requests (also used by bench/gate_bench.py to drive a pack in-process) ------------
def pack_meta(info: Any, manifest_version: str, pack_dir: Path) -> PackMeta:
    """PackMeta from a GetAnalyzerInfo answer; the PulumiPolicy.yaml version wins, as in the engine."""
    policies = tuple(
        PolicyMeta(
            name=p.name,
            description=p.description,
            enforcement_level=_LEVEL_NAMES.get(p.enforcementLevel, "advisory"),
            display_name=p.displayName,
            severity=_SEVERITY_NAMES.get(p.severity, ""),
            remediation_steps=p.remediation_steps,
            url=p.url,
            tags=tuple(p.tags),
            policy_type=_POLICY_TYPES.get(p.policy_type, ""),
            framework=" ".join(x for x in (p.framework.name, p.framework.version) if x),
            config_schema=json_format.MessageToDict(p.configSchema.properties),
            required=tuple(p.configSchema.required),
        )
        for p in info.policies
    )
    initial = {}
    for name, cfg in info.initialConfig.items():
        entry = json_format.MessageToDict(cfg.properties)
        entry["enforcementLevel"] = _LEVEL_NAMES.get(cfg.enforcementLevel, "advisory")
        initial[name] = entry
    return PackMeta(name=info.name, version=manifest_version or info.version, directory=str(pack_dir),
                    description=info.description, policies=policies, initial_config=initial)


def configure_stack_request(stack: StackConfig, project: str, organization: str, dry_run: bool) -> Any:
    return analyzer_pb2.AnalyzerStackConfigureRequest(
        stack=stack.stack, project=project, organization=organization,
        dry_run=dry_run, config=stack.values, config_secret_keys=stack.secret_keys,
    )


def configure_request(policy_config: dict[str, dict[str, Any]]) -> Any:
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, entry in policy_config.items():
        props = struct_pb2.Struct()
        props.update({k: v for k, v in entry.items() if k != "enforcementLevel"})
        request.policyConfig[name].CopyFrom(analyzer_pb2.PolicyConfig(
            enforcementLevel=_LEVEL_VALUES[entry["enforcementLevel"]], properties=props))
    return request


def analyze_request(res: CapturedResource, providers: dict[str, CapturedResource]) -> Any:
    return analyzer_pb2.AnalyzeRequest(
        urn=res.urn, type=res.type, name=res.name, properties=res.properties,
        options=_options(res), provider=_provider(res, providers),
    )


def analyze_stack_request(resources: list[CapturedResource], providers: dict[str, CapturedResource]) -> Any:
    return analyzer_pb2.AnalyzeStackRequest(resources=[
        analyzer_pb2.AnalyzerResource(
            urn=res.urn, type=res.type, name=res.name, properties=res.properties,
            options=_options(res), provider=_provider(res, providers), parent=res.parent,
            dependencies=res.dependencies,
            propertyDependencies={k: analyzer_pb2.AnalyzerPropertyDependencies(urns=v)
                                  for k, v in res.property_dependencies.items() if v},
        )
        for res in resources
    ])


def _options(res: CapturedResource) -> Any:
    timeouts = analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(
        create=res.custom_timeouts.get("create", 0.0), update=res.custom_timeouts.get("update", 0.0),
        delete=res.custom_timeouts.get("delete", 0.0))
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=res.protect,
        ignoreChanges=res.ignore_changes,
        deleteBeforeReplace=bool(res.delete_before_replace),
        deleteBeforeReplaceDefined=res.delete_before_replace is not None,
        additionalSecretOutputs=res.additional_secret_outputs,
        aliases=res.aliases,
        customTimeouts=timeouts,
        parent=res.parent,
    )


def _provider(res: CapturedResource, providers: dict[str, CapturedResource]) -> Any:
    provider = providers.get(res.provider_urn())
    if provider is None:
        return None
    return analyzer_pb2.AnalyzerProviderResource(
        urn=provider.urn, type=provider.type, name=provider.name, properties=provider.properties)
