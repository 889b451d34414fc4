"""Render Pulumi code under mocks and query the resource graph the engine would have received.

Kept deliberately small: it records each RegisterResource request (type, name, URN, parent, dependencies,
property dependencies, protect, provider) together with the camelCase inputs the engine sees, and answers
invokes with realistic values. Mocks return realistic ids and ARNs (``preview=False``); in preview they return
no computed outputs, so ids and ARNs stay unknown exactly as in a first preview.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import wait_for_rpcs
from pulumi.runtime.sync_await import _sync_await

from gate.mocks import computed_outputs

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_ID = "123456789012"


@dataclass
class Res:
    type: str
    name: str
    urn: str
    parent: str
    inputs: dict[str, Any]
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    protect: bool
    provider: str
    custom: bool
    retain_on_delete: bool = False

    def __getitem__(self, key: str) -> Any:
        return self.inputs[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.inputs.get(key, default)


@dataclass
class Graph:
    resources: list[Res] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_: str) -> list[Res]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str) -> Res:
        found = self.of_type(type_)
        assert len(found) == 1, f"expected one {type_}, found {len(found)}"
        return found[0]

    def by_urn(self, urn: str) -> Res:
        return next(r for r in self.resources if r.urn == urn)

    def named(self, name: str) -> Res:
        return next(r for r in self.resources if r.name == name)

    def children(self, parent: Res) -> list[Res]:
        return [r for r in self.resources if r.parent == parent.urn]

    def depends_on(self, res: Res, other: Res) -> bool:
        """True if ``res`` waits for ``other`` (directly, through an input or depends_on)."""
        deps = set(res.dependencies)
        for urns in res.property_dependencies.values():
            deps.update(urns)
        return other.urn in deps

    def __iter__(self) -> Iterator[Res]:
        return iter(self.resources)


def _arn(type_: str, name: str, region: str) -> str:
    service = type_.split(":")[1].split("/", maxsplit=1)[0]
    return f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{type_.rsplit(':', maxsplit=1)[-1].lower()}/{name}"


Invoke = Callable[[dict[str, Any]], dict[str, Any]]


class InvokeFailure(Exception):
    """Raised by a test's invoke answer: the data source failed (the engine returns it as an invoke failure, which
    the SDK raises to the caller as a catchable exception, e.g. a lookup that found nothing)."""


class _Mocks(pulumi.runtime.Mocks):
    def __init__(self, region: str, preview: bool, invokes: Mapping[str, Invoke] | None = None) -> None:
        self.region, self.preview = region, preview
        self.invokes = dict(invokes or {})

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if self.preview:
            return None, dict(args.inputs)  # computed outputs unknown, as in a first preview
        rid = f"{args.name}-{hashlib.sha1(args.name.encode()).hexdigest()[:8]}"  # noqa: S324 - ids, not security
        state = dict(args.inputs)
        state.setdefault("arn", _arn(args.typ, rid, self.region))
        state.setdefault("name", args.inputs.get("name", rid))
        # The outputs AWS computes, shared with the gate's mocks so both render the same graph.
        for key, value in computed_outputs(args.typ, rid, self.region, state).items():
            state.setdefault(key, value)
        return rid, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        try:
            return self._call(args), []
        except InvokeFailure as failure:
            return {}, [("", str(failure))]

    def _call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        if args.token in self.invokes:  # a test's explicit answer (InvokeFailure: the data source failed)
            return self.invokes[args.token](dict(args.args or {}))
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:root", "userId": ACCOUNT_ID}
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = [f"{self.region}{c}" for c in "abcdef"]
            return {"names": names, "zoneIds": [f"euw1-az{i}" for i in range(1, 7)], "id": self.region}
        if args.token == "aws:index/getRegion:getRegion":
            return {"region": self.region, "name": self.region, "id": self.region}
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        return {}


class _Monitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: _Mocks, graph: Graph) -> None:
        super().__init__(mocks)
        self.graph = graph

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
            self.graph.resources.append(
                Res(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent,
                    inputs=inputs,
                    dependencies=list(request.dependencies),
                    property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                    protect=bool(request.protect),
                    provider=request.provider,
                    custom=bool(request.custom),
                    retain_on_delete=bool(request.retainOnDelete),
                )
            )
        return response


def stack_config(stack: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Pulumi.yaml defaults + Pulumi.<stack>.yaml + overrides, keyed without the project namespace."""
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    values: dict[str, Any] = {k: v["default"] for k, v in project.get("config", {}).items() if "default" in v}
    stack_file = ROOT / f"Pulumi.{stack}.yaml"
    if stack_file.exists():
        values.update((yaml.safe_load(stack_file.read_text()) or {}).get("config") or {})
    values.update(overrides or {})
    return values


def stacks() -> list[str]:
    """Every stack file in the repo: adding Pulumi.staging.yaml adds a stack to every test that uses this."""
    return sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))


def render(program: Callable[[], object], stack: str = "dev", *, preview: bool = False,
           config: Mapping[str, Any] | None = None, invokes: Mapping[str, Invoke] | None = None) -> Graph:
    """Run ``program`` as stack ``stack`` of this project under mocks; return the resource graph.

    ``invokes`` answers data-source tokens explicitly (token -> function of the invoke's arguments).
    """
    values = stack_config(stack, config)
    flat = {}
    for key, value in values.items():
        full = key if ":" in key else f"secure-api-platform:{key}"
        flat[full] = value if isinstance(value, str) else json.dumps(value)
    region = str(values.get("aws:region", "eu-west-1"))
    graph = Graph()
    mocks = _Mocks(region, preview, invokes)
    pulumi_settings.ROOT.set(None)
    pulumi.runtime.set_all_config(flat, ["secure-api-platform:oauthClientSecret"])
    pulumi.runtime.set_mocks(mocks, "secure-api-platform", stack, preview=preview,
                             monitor=_Monitor(mocks, graph))
    program()
    _sync_await(wait_for_rpcs())
    return graph
