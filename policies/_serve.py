"""The pack's analyzer: pulumi_policy's own, converting each request once instead of once per policy.

pulumi_policy 1.21's servicer converts a resource's properties (protobuf Struct -> dict -> unknown-checking
proxy), its options and its provider again for *every* policy in Analyze, and every resource of the stack
again for *every* stack policy in AnalyzeStack.  With a hundred policies that conversion is most of the
pack's time, and it grows with each policy added.  The policies of this pack only read what they are given
(they copy it with ``_values.plain``), so one conversion per request can be handed to all of them.

Everything else is the stock servicer's: which policies run (enforcement levels, disabled ones skipped),
their config, the order and text of the diagnostics, "can't run ... during preview" for an unknown value,
not-applicable reasons.  ``tests/policies/test_serve.py`` checks that both servicers answer the same
requests identically.  ``install()`` makes ``PolicyPack`` serve with this class (it instantiates the module
global ``_PolicyAnalyzerServicer``); the pack calls it before building its ``PolicyPack``.
"""

from __future__ import annotations

import asyncio
from inspect import isawaitable
from typing import Any, cast

import pulumi_policy.policy as stock
from google.protobuf import json_format  # type: ignore[import-untyped]
from pulumi.runtime import proto
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy


def _props(message: Any) -> Any:
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(message)))


class SharedArgsServicer(stock._PolicyAnalyzerServicer):
    """pulumi_policy's analyzer servicer with one property conversion per request (see the module doc)."""

    # The stock class keeps its state in name-mangled instance attributes; read them through these.
    def _state(self, name: str) -> Any:
        return vars(self)[f"_PolicyAnalyzerServicer__{name}"]

    def _policies(self) -> list[Policy]:
        return cast(list[Policy], self._state("policies"))

    def _stack_tags(self) -> Any:
        return self._state("stack_tags")

    def _pack(self) -> tuple[str, str]:
        return self._state("policy_pack_name"), self._state("policy_pack_version")

    def _enabled(self, kind: type) -> list[tuple[Policy, EnforcementLevel]]:
        """Enabled policies of ``kind`` with the level they report at (remediation reports as mandatory)."""
        enabled: list[tuple[Policy, EnforcementLevel]] = []
        for policy in self._policies():
            level = self._get_enforcement_level(policy)
            if level != EnforcementLevel.DISABLED and isinstance(policy, kind):
                enabled.append((policy, EnforcementLevel.MANDATORY if level == EnforcementLevel.REMEDIATE
                                else level))
        return enabled

    def _run(self, policy: Policy, level: EnforcementLevel, args: Any, response: Any) -> None:
        report = self._create_report_violation(response, policy.name, policy.description, level, policy.severity)
        try:
            result = policy.validate(args, report)  # type: ignore[attr-defined]
            if isawaitable(result):
                loop = asyncio.new_event_loop()
                loop.run_until_complete(asyncio.Task(result, loop=loop))  # type: ignore[arg-type]
                loop.close()
        except UnknownValueError as exc:
            name, version = self._pack()
            response.diagnostics.append(proto.AnalyzeDiagnostic(
                policyName=policy.name,
                policyPackName=name,
                policyPackVersion=version,
                message=(f"can't run policy '{policy.name}' from policy pack '{name}@v{version}' during "
                         f"preview: {exc.message}"),
                urn="",
                description=policy.description,
                enforcementLevel=self._map_enforcement_level(EnforcementLevel.ADVISORY),
            ))
        except stock._NotApplicableError as exc:
            response.not_applicable.append(proto.PolicyNotApplicable(policy_name=policy.name,
                                                                      reason=exc.reason or ""))

    def Analyze(self, request: Any, _context: Any) -> Any:
        self._configure_runtime_settings()
        response = proto.AnalyzeResponse()
        converted: tuple[Any, Any, Any] | None = None
        for policy, level in self._enabled(ResourceValidationPolicy):
            if not policy.has_validation():  # type: ignore[attr-defined]
                response.not_applicable.append(proto.PolicyNotApplicable(
                    policy_name=policy.name, reason="Policy does not implement validate"))
                continue
            if converted is None:
                converted = (_props(request.properties), self._get_resource_options(request),
                             self._get_provider_resource(request))
            props, opts, provider = converted
            args = ResourceValidationArgs(request.type, props, request.urn, request.name, opts, provider,
                                          self._get_policy_config(policy.name), self._stack_tags())
            self._run(policy, level, args, response)
        return response

    def AnalyzeStack(self, request: Any, _context: Any) -> Any:
        self._configure_runtime_settings()
        response = proto.AnalyzeResponse()
        resources: list[PolicyResource] | None = None
        for policy, level in self._enabled(StackValidationPolicy):
            if resources is None:
                resources = self._stack_resources(request)
            args = StackValidationArgs(resources, self._get_policy_config(policy.name), self._stack_tags())
            self._run(policy, level, args, response)
        return response

    def _stack_resources(self, request: Any) -> list[PolicyResource]:
        """The stack's resources linked to their parent, dependencies and property dependencies."""
        resources = [PolicyResource(r.type, _props(r.properties), r.urn, r.name, self._get_resource_options(r),
                                    self._get_provider_resource(r), None, [], {}) for r in request.resources]
        by_urn = {res.urn: res for res in resources}
        for res, raw in zip(resources, request.resources, strict=True):
            if raw.parent in by_urn:
                res.parent = by_urn[raw.parent]
            res.dependencies.extend(by_urn[d] for d in raw.dependencies if d in by_urn)
            for key, deps in raw.propertyDependencies.items():
                res.property_dependencies[key] = [by_urn[d] for d in deps.urns if d in by_urn]
        return resources


def install() -> None:
    """Make ``pulumi_policy.PolicyPack`` serve with ``SharedArgsServicer``."""
    stock._PolicyAnalyzerServicer = SharedArgsServicer  # type: ignore[misc]
