"""Start the pack as the Pulumi CLI does and drive it over gRPC (the real analyzer protocol)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc  # type: ignore[import-untyped]
import pytest
from google.protobuf import empty_pb2, struct_pb2  # type: ignore[import-untyped]
from pulumi.runtime import proto
from pulumi.runtime.proto import analyzer_pb2_grpc

PACK_DIR = Path(__file__).resolve().parents[2] / "policies"
STAGE = "aws:apigateway/stage:Stage"
METHOD = "aws:apigateway/method:Method"


def _struct(d: dict) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(d)
    return s


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    # The engine address is only used for logging by other plugins; pulumi.policy ignores it.
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", "."],
        cwd=PACK_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode().strip()
        if not line.isdigit():
            proc.kill()
            _, err = proc.communicate(timeout=10)
            pytest.fail(f"pack did not print its port; stderr:\n{err.decode()}")
        channel = grpc.insecure_channel(f"127.0.0.1:{line}")
        grpc.channel_ready_future(channel).result(timeout=20)
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _configure(stub: analyzer_pb2_grpc.AnalyzerStub, config: dict) -> None:
    """Configure as the CLI does: every configured policy gets its level (default if not given)."""
    info = stub.GetAnalyzerInfo(empty_pb2.Empty())
    defaults = {p.name: p.enforcementLevel for p in info.policies}
    levels = {"advisory": proto.ADVISORY, "mandatory": proto.MANDATORY, "disabled": proto.DISABLED}
    request = proto.ConfigureAnalyzerRequest()
    for name, raw in config.items():
        value = {"enforcementLevel": raw} if isinstance(raw, str) else raw
        level = levels[value["enforcementLevel"]] if "enforcementLevel" in value else defaults[name]
        props = {k: v for k, v in value.items() if k != "enforcementLevel"}
        request.policyConfig[name].CopyFrom(proto.PolicyConfig(enforcementLevel=level, properties=_struct(props)))
    stub.Configure(request)


def _provider() -> proto.AnalyzerProviderResource:
    tags = {"tags": {"Project": "p", "Environment": "prod", "ManagedBy": "pulumi", "Owner": "o"}}
    return proto.AnalyzerProviderResource(type="pulumi:providers:aws", name="default",
                                          urn="urn:pulumi:prod::p::pulumi:providers:aws::default",
                                          properties=_struct({"defaultTags": json.dumps(tags)}))


def test_pack_loads_and_describes_policies(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "secure-api-platform"
    by_name = {p.name: p for p in info.policies}
    assert by_name["apigateway-method-authorization"].enforcementLevel == proto.MANDATORY
    assert by_name["apigateway-xray-tracing"].enforcementLevel == proto.ADVISORY
    assert "minRetentionDays" in by_name["log-group-retention"].configSchema.properties


def test_pack_blocks_a_public_method_and_passes_a_protected_one(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    _configure(analyzer, json.loads((PACK_DIR / "config" / "prod.json").read_text()))
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

    def analyze(props: dict) -> list:
        return list(analyzer.Analyze(proto.AnalyzeRequest(
            type=METHOD, name="get-orders", urn="urn:pulumi:prod::p::" + METHOD + "::get-orders",
            properties=_struct(props), options=proto.AnalyzerResourceOptions(), provider=_provider(),
        )).diagnostics)

    good = analyze({"authorization": "CUSTOM", "authorizerId": unknown, "httpMethod": "GET",
                    "restApi": unknown, "resourceId": unknown})
    assert good == []
    bad = analyze({"authorization": "NONE", "httpMethod": "GET", "restApi": unknown, "resourceId": unknown})
    assert [(d.policyName, d.enforcementLevel) for d in bad] == [
        ("apigateway-method-authorization", proto.MANDATORY)]
    assert "'get-orders'" in bad[0].message


def test_pack_analyzes_a_stack_with_configured_levels(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    _configure(analyzer, json.loads((PACK_DIR / "config" / "prod.json").read_text()))
    stage = proto.AnalyzerResource(
        type=STAGE, name="stage", urn="urn:pulumi:prod::p::" + STAGE + "::stage",
        properties=_struct({"stageName": "prod", "xrayTracingEnabled": True}), provider=_provider())
    response = analyzer.AnalyzeStack(proto.AnalyzeStackRequest(resources=[stage]))
    found = {(d.policyName, d.enforcementLevel) for d in response.diagnostics}
    assert ("apigateway-stage-waf", proto.MANDATORY) in found
    assert ("apigateway-stage-throttling", proto.MANDATORY) in found
    # advisory by default, made mandatory by prod.json:
    assert ("apigateway-execution-logging", proto.MANDATORY) in found
    assert all(d.urn == stage.urn for d in response.diagnostics if d.policyName.startswith("apigateway"))
    assert not [d for d in response.diagnostics if "during preview" in d.message]
