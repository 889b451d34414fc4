"""The pack's servicer (one property conversion per request) answers exactly as pulumi_policy's own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi_policy.policy as stock_module
import pytest
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import _PolicyAnalyzerServicer

from gate.analyzer import analyze_request as gate_analyze_request
from gate.analyzer import analyze_stack_request as gate_analyze_stack_request
from gate.invokes import InvokeFixtures
from gate.project import load_project, load_stack_config
from gate.render import PROVIDER_PREFIX, render
from policies import _serve
from policies import _tokens as T
from policies._meta import reset_waiver_ledger
from policies.registry import PACK_NAME, build_policies

from .harness import UNKNOWN, Res, analyze_request, analyze_stack_request
from .harness import Pack as HarnessPack
from .test_resource_policies import CASES

ROOT = Path(__file__).resolve().parents[2]


def _extra_policies() -> list[Policy]:
    """Policies exercising the servicer paths the pack's own never take (async, unknown read, remediate)."""

    def reads_unknown(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type == T.SQS_QUEUE and "name" in set(args.props):
            report(f"queue name {args.props['name']}", None)  # raises UnknownValueError when unknown

    async def async_stack(args: StackValidationArgs, report: ReportViolation) -> None:
        for r in args.resources:
            deps = sorted(k for k in r.property_dependencies)
            report(f"{r.name}: parent {r.parent.name if r.parent else None}, deps {deps}", r.urn)

    return [
        ResourceValidationPolicy("test-reads-unknown", "reads a raw property.", reads_unknown),
        ResourceValidationPolicy("test-remediate-only", "remediation only.", None,
                                 remediate=lambda args: None),
        StackValidationPolicy("test-async-stack", "async stack policy.", async_stack),
    ]


def _same(call: str, request: Any, stock: Any, shared: Any) -> tuple[Any, Any]:
    """Both servicers' answers to one request, each from a fresh waiver ledger (process state of the pack)."""
    reset_waiver_ledger()
    a = getattr(shared, call)(request, None)
    reset_waiver_ledger()
    b = getattr(stock, call)(request, None)
    return a, b


def _pair(config: dict[str, Any] | None = None) -> tuple[Any, Any]:
    servicers = []
    for cls in (_PolicyAnalyzerServicer, _serve.SharedArgsServicer):
        policies = build_policies() + _extra_policies()
        servicer = cls(PACK_NAME, "0.0.1", policies, EnforcementLevel.ADVISORY)
        pack = HarnessPack.__new__(HarnessPack)
        pack.servicer = servicer
        pack.configure({"test-reads-unknown": "remediate", **(config or {})})
        servicers.append(servicer)
    return servicers[0], servicers[1]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_analyze_answers_like_the_stock_servicer(case: Any) -> None:
    stock, shared = _pair({case.policy: case.config} if case.config else None)
    request = analyze_request(case.type, case.props, protect=case.protect)
    a, b = _same("Analyze", request, stock, shared)
    assert a == b


def test_unknown_value_disabled_policy_and_remediation_only_policy_answer_alike() -> None:
    stock, shared = _pair({"kms-key-rotation": "disabled"})
    for props in ({"name": UNKNOWN}, {"name": "jobs"}):
        request = analyze_request(T.SQS_QUEUE, props)
        a, b = _same("Analyze", request, stock, shared)
        assert a == b
    assert any("during preview" in d.message for d in shared.Analyze(analyze_request(T.SQS_QUEUE, {"name": UNKNOWN}),
                                                                     None).diagnostics)
    key = analyze_request(T.KMS_KEY, {})
    a, b = _same("Analyze", key, stock, shared)
    assert a == b
    assert not [d for d in shared.Analyze(key, None).diagnostics if d.policyName == "kms-key-rotation"]


def test_analyze_stack_links_and_answers_like_the_stock_servicer() -> None:
    graph = [
        Res(T.API_REST_API, "api", {"name": "api"}),
        Res(T.API_STAGE, "stage", {"stageName": "dev", "restApi": UNKNOWN}, deps=["api"],
            prop_deps={"restApi": ["api"]}),
        Res(T.S3_BUCKET, "bucket", {}),
        Res(T.S3_PUBLIC_ACCESS_BLOCK, "pab", {"bucket": UNKNOWN, "blockPublicAcls": False},
            deps=["bucket"], prop_deps={"bucket": ["bucket"]}),
    ]
    stock, shared = _pair({"baseline-cloudtrail": {"ownsAccountBaseline": True}})
    request = analyze_stack_request(graph)
    answer, expected = _same("AnalyzeStack", request, stock, shared)
    assert answer == expected
    assert answer.not_applicable  # baseline policies other than the configured one
    assert [d for d in answer.diagnostics if d.policyName == "test-async-stack"]


def test_platform_stack_gets_identical_answers() -> None:
    # dev only, and Analyze for one resource of each type: the stock servicer is slow (that is the point).
    project = load_project(ROOT)
    config = load_stack_config(project, "dev")
    result = render(ROOT, "dev", config=config, project=project,
                    invoke_fixtures=InvokeFixtures.load(ROOT / ".gate" / "invokes.yaml"))
    result.raise_for_errors()
    providers = {r.urn: r for r in result.resources if r.type.startswith(PROVIDER_PREFIX)}
    stock, shared = _pair(json.loads((ROOT / "policies" / "config" / "dev.json").read_text()))
    one_per_type = {r.type: r for r in result.resources}
    for res in one_per_type.values():
        request = gate_analyze_request(res, providers)
        a, b = _same("Analyze", request, stock, shared)
        assert a == b, res.urn
    stack_request = gate_analyze_stack_request(result.resources, providers)
    answer, expected = _same("AnalyzeStack", stack_request, stock, shared)
    assert answer == expected
    assert len(answer.diagnostics) > len(result.resources)  # the async test policy reports every resource


def test_install_makes_policy_pack_serve_with_the_shared_servicer(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[Any] = []

    class Stop(Exception):
        pass

    def capture(servicer: Any, server: Any) -> None:
        served.append(servicer)
        raise Stop

    monkeypatch.setattr(stock_module, "_PolicyAnalyzerServicer", stock_module._PolicyAnalyzerServicer)
    monkeypatch.setattr(stock_module.analyzer_pb2_grpc, "add_AnalyzerServicer_to_server", capture)
    _serve.install()
    with pytest.raises(Stop):
        stock_module.PolicyPack(name=PACK_NAME, policies=build_policies())
    assert type(served[0]) is _serve.SharedArgsServicer
