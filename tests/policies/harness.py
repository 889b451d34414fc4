"""Drive the pack's policies the way the Pulumi engine does, in-process.

Requests are real ``pulumi.runtime.proto`` messages handled by pulumi_policy's own analyzer
servicer: properties go through protobuf Structs (numbers become floats), unknown values are the
engine's sentinel strings, and the servicer wraps them in its unknown-checking proxies. A policy
that reads an unknown value therefore produces the real "can't run policy ... during preview"
diagnostic, which tests assert never happens.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import struct_pb2  # type: ignore[import-untyped]
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policies._meta import reset_waiver_ledger
from policies._serve import SharedArgsServicer
from policies.registry import PACK_NAME, build_policies

UNKNOWN = UNKNOWN_STRING_VALUE  # what the engine sends for a value not known during preview
PROJECT_URN = "urn:pulumi:dev::secure-api-platform::"
DEFAULT_TAGS = {"Project": "p", "Environment": "dev", "ManagedBy": "pulumi", "Owner": "team"}
_LEVELS = {"advisory": proto.ADVISORY, "mandatory": proto.MANDATORY, "disabled": proto.DISABLED,
           "remediate": proto.REMEDIATE}
_LEVEL_NAMES = {v: k for k, v in _LEVELS.items()}


def urn(type_: str, name: str) -> str:
    return f"{PROJECT_URN}{type_}::{name}"


@dataclass
class Res:
    """A resource for a stack analysis; deps/prop_deps name other resources by their names."""

    type: str
    name: str
    props: dict[str, Any] = field(default_factory=dict)
    deps: list[str] = field(default_factory=list)
    prop_deps: dict[str, list[str]] = field(default_factory=dict)
    protect: bool = False

    @property
    def urn(self) -> str:
        return urn(self.type, self.name)


@dataclass(frozen=True)
class Diag:
    policy: str
    message: str
    level: str
    urn: str


def _struct(props: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(props)
    return s


def _provider(default_tags: dict[str, str] | None) -> proto.AnalyzerProviderResource:
    props: dict[str, Any] = {"region": "eu-west-1"}
    if default_tags is not None:
        props["defaultTags"] = json.dumps({"tags": default_tags})  # provider inputs carry JSON text
    return proto.AnalyzerProviderResource(type="pulumi:providers:aws", urn=urn("pulumi:providers:aws", "default"),
                                          name="default", properties=_struct(props))


class Pack:
    """The pack's analyzer, configured like ``--policy-pack-config`` would."""

    def __init__(self, config: dict[str, Any] | None = None, servicer: type = SharedArgsServicer) -> None:
        """``servicer``: the analyzer class, by default the one the pack serves with (policies/_serve.py)."""
        self.servicer = servicer(PACK_NAME, "0.0.1", build_policies(), EnforcementLevel.ADVISORY)
        reset_waiver_ledger()  # a new pack process in the engine starts with no waivers seen
        if config:
            self.configure(config)

    def configure(self, config: dict[str, Any]) -> None:
        """Send a Configure request. Like the CLI, entries without a level keep the policy default."""
        info = self.servicer.GetAnalyzerInfo(None, None)
        defaults = {p.name: p.enforcementLevel for p in info.policies}
        request = proto.ConfigureAnalyzerRequest()
        for name, value in config.items():
            if isinstance(value, str):
                level, props = _LEVELS[value], {}
            else:
                props = {k: v for k, v in value.items() if k != "enforcementLevel"}
                level = _LEVELS[value["enforcementLevel"]] if "enforcementLevel" in value else defaults[name]
            request.policyConfig[name].CopyFrom(proto.PolicyConfig(enforcementLevel=level, properties=_struct(props)))
        self.servicer.Configure(request, None)

    def analyze(self, type_: str, props: dict[str, Any], name: str = "res", protect: bool = False,
                default_tags: dict[str, str] | None = None) -> list[Diag]:
        return self._diags(self.servicer.Analyze(analyze_request(type_, props, name, protect, default_tags), None))

    def analyze_stack(self, resources: list[Res], default_tags: dict[str, str] | None = None) -> list[Diag]:
        return self._diags(self.servicer.AnalyzeStack(analyze_stack_request(resources, default_tags), None))

    @staticmethod
    def _diags(response: Any) -> list[Diag]:
        diags = [Diag(d.policyName, d.message, _LEVEL_NAMES[d.enforcementLevel], d.urn)
                 for d in response.diagnostics]
        cant_run = [d for d in diags if "during preview" in d.message]
        assert not cant_run, f"a policy could not decide at preview: {cant_run}"
        return diags


def analyze_request(type_: str, props: dict[str, Any], name: str = "res", protect: bool = False,
                    default_tags: dict[str, str] | None = None) -> proto.AnalyzeRequest:
    return proto.AnalyzeRequest(
        type=type_, name=name, urn=urn(type_, name), properties=_struct(props),
        options=proto.AnalyzerResourceOptions(protect=protect), provider=_provider(default_tags),
    )


def analyze_stack_request(resources: list[Res],
                          default_tags: dict[str, str] | None = None) -> proto.AnalyzeStackRequest:
    by_name = {r.name: r for r in resources}
    messages = []
    for r in resources:
        msg = proto.AnalyzerResource(
            type=r.type, name=r.name, urn=r.urn, properties=_struct(r.props),
            options=proto.AnalyzerResourceOptions(protect=r.protect), provider=_provider(default_tags),
            dependencies=[by_name[d].urn for d in r.deps],
        )
        for key, names in r.prop_deps.items():
            msg.propertyDependencies[key].CopyFrom(
                proto.AnalyzerPropertyDependencies(urns=[by_name[n].urn for n in names]))
        messages.append(msg)
    return proto.AnalyzeStackRequest(resources=messages)


def of(diags: list[Diag], policy: str) -> list[Diag]:
    return [d for d in diags if d.policy == policy]
