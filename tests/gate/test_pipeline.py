"""StackCheck: Analyze goes out while the program renders, AnalyzeStack only with the whole graph,
results in resource and pack order whatever the timing, failures in the order a serial run meets them."""

import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import struct_pb2  # type: ignore[import-untyped]

from gate.errors import GateError
from gate.model import Diagnostic, GateDiagnostic, PackMeta, PolicyMeta, StackReport
from gate.pipeline import IN_FLIGHT, StackCheck, merge_modes
from gate.render import CapturedResource, RenderResult

PROVIDER = "urn:pulumi:s::p::pulumi:providers:aws::default"


def _res(name: str, type_: str = "aws:sqs/queue:Queue", provider: str = f"{PROVIDER}::id") -> CapturedResource:
    props = struct_pb2.Struct()
    props.update({"name": name})
    return CapturedResource(urn=f"urn:pulumi:s::p::{type_}::{name}", type=type_, name=name, custom=True,
                            parent="", properties=props, provider=provider)


def _provider() -> CapturedResource:
    return _res("default", "pulumi:providers:aws", provider="")


def _done(value: object) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


class FakePack:
    """Records the calls a StackCheck makes; answers one diagnostic per resource and one for the stack."""

    def __init__(self, name: str, fail_analyze: bool = False, fail_stack: bool = False) -> None:
        self.meta = PackMeta(name=name, version="1.0.0", directory="",
                             policies=(PolicyMeta(name=f"{name}-policy", description="d",
                                                  enforcement_level="advisory"),))
        self.calls: list[tuple] = []
        self.fail_analyze = fail_analyze
        self.fail_stack = fail_stack
        self.lock = threading.Lock()

    def _record(self, *call: object) -> None:
        with self.lock:
            self.calls.append(call)

    def handshake(self) -> PackMeta:
        self._record("handshake")
        return self.meta

    def configure(self, config: dict) -> None:
        self._record("configure", sorted(config))

    def submit_analyze(self, res: CapturedResource, providers: dict) -> Future:
        provider = providers.get(res.provider_urn())
        self._record("analyze", res.name, provider.name if provider else None)
        return _done(res.name)

    def analyze_result(self, res: CapturedResource, future: Future, locate) -> list[Diagnostic]:
        if self.fail_analyze:
            raise GateError(f"{self.meta.name} failed in Analyze of {res.urn}")
        return [self._diag(f"resource {future.result()}", res.urn)]

    def submit_analyze_stack(self, resources: list, providers: dict) -> Future:
        self._record("stack", [r.name for r in resources])
        return _done(len(resources))

    def analyze_stack_result(self, resources: list, future: Future, locate) -> list[Diagnostic]:
        if self.fail_stack:
            raise GateError(f"{self.meta.name} failed in AnalyzeStack")
        return [self._diag(f"stack of {future.result()}")]

    def _diag(self, message: str, urn: str = "") -> Diagnostic:
        return Diagnostic(stack="s", policy_pack_name=self.meta.name, policy_pack_version="1.0.0",
                          policy_name=f"{self.meta.name}-policy", description="d", message=message,
                          enforcement_level="advisory", severity="", category="violation", resource_urn=urn)


def _check(*packs: FakePack) -> StackCheck:
    # Pack directories without a config/ folder: every pack gets its policies' defaults.
    procs: list[Any] = list(packs)
    return StackCheck("s", procs, [Path("/nonexistent") / p.meta.name for p in packs], [],
                      log=lambda _msg: None)


def _result(resources: list[CapturedResource]) -> RenderResult:
    return RenderResult(project="p", stack="s", preview=True, resources=resources, outputs={}, errors=[],
                        warnings=[], logs=[], seconds=0.0)


def _wait_for(predicate, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _locate(_res):
    return ("", 0)


def test_analyze_is_sent_while_rendering_and_analyze_stack_only_at_the_end():
    pack = FakePack("pack")
    check = _check(pack)
    provider, first = _provider(), _res("first")
    check.on_resource(provider)
    check.on_resource(first)
    # Nothing has finished rendering yet, and the pack is already analyzing what it got.
    _wait_for(lambda: ("analyze", "first", "default") in pack.calls)
    assert pack.calls[:2] == [("handshake",), ("configure", ["pack-policy"])]
    assert not any(call[0] == "stack" for call in pack.calls)
    second = _res("second")
    check.on_resource(second)
    report = check.finish(_result([provider, first, second]), _locate)
    assert pack.calls[-1] == ("stack", ["default", "first", "second"])
    # Ordered by URN (aws:sqs/... before pulumi:providers:...), then the stack's own results.
    assert [d.message for d in report.diagnostics] == [
        "resource first", "resource second", "resource default", "stack of 3"]
    assert report.resource_count == 3 and check.metas == [pack.meta]


def test_a_resource_whose_provider_is_not_known_yet_is_analyzed_at_the_end_with_it():
    pack = FakePack("pack")
    check = _check(pack)
    early = _res("early")  # its provider has not been seen yet
    provider = _provider()
    for res in (early, provider):
        check.on_resource(res)
    report = check.finish(_result([early, provider]), _locate)
    analyzed = [call for call in pack.calls if call[0] == "analyze"]
    assert analyzed == [("analyze", "default", None), ("analyze", "early", "default")]
    assert [d.message for d in report.diagnostics][:2] == ["resource early", "resource default"]


def test_packs_report_in_pack_order_each_analyze_before_its_analyze_stack():
    one, two = FakePack("one"), FakePack("two")
    check = _check(one, two)
    resources = [_provider(), _res("q")]
    for res in resources:
        check.on_resource(res)
    report = check.finish(_result(resources), _locate)
    assert [(d.policy_pack_name, d.message) for d in report.diagnostics] == [
        ("one", "resource q"), ("one", "resource default"), ("one", "stack of 2"),
        ("two", "resource q"), ("two", "resource default"), ("two", "stack of 2")]
    # Each pack was configured knowing the other's policies (unknown names are errors otherwise).
    assert ("configure", ["one-policy"]) in one.calls and ("configure", ["two-policy"]) in two.calls


def test_failures_are_raised_in_the_order_a_serial_run_meets_them():
    first_stack_fails = FakePack("one", fail_stack=True)
    second_analyze_fails = FakePack("two", fail_analyze=True)
    check = _check(first_stack_fails, second_analyze_fails)
    resources = [_provider()]
    check.on_resource(resources[0])
    with pytest.raises(GateError, match="one failed in AnalyzeStack"):
        check.finish(_result(resources), _locate)


def test_a_pack_that_fails_its_handshake_is_reported_by_finish():
    class Crashing(FakePack):
        def handshake(self) -> PackMeta:
            raise GateError("policy pack crash exited with code 1 before serving")

    check = _check(Crashing("crash"))
    check.on_resource(_provider())  # rendering goes on regardless
    with pytest.raises(GateError, match="before serving"):
        check.finish(_result([_provider()]), _locate)


def test_the_report_does_not_depend_on_registration_order():
    # The SDK registers from several threads: the same program can register in another order.
    names = ["b", "a", "c"]
    reports = []
    for order in (names, list(reversed(names))):
        pack = FakePack("pack")
        check = _check(pack)
        resources = [_provider(), *(_res(n) for n in order)]
        for res in resources:
            check.on_resource(res)
        reports.append(check.finish(_result(resources), _locate).diagnostics)
    assert reports[0] == reports[1]
    assert [d.message for d in reports[0]] == ["resource a", "resource b", "resource c", "resource default",
                                               "stack of 4"]


def test_outstanding_analyze_calls_per_pack_are_bounded():
    # A gRPC server cancels calls at random once too many wait to be picked up: the driver must
    # wait for the oldest answer before sending more than IN_FLIGHT.
    class Slow(FakePack):
        def __init__(self) -> None:
            super().__init__("slow")
            self.futures: list[Future] = []

        def submit_analyze(self, res, providers):
            super().submit_analyze(res, providers)
            future: Future = Future()
            with self.lock:
                self.futures.append(future)
            return future

    pack = Slow()
    check = _check(pack)
    resources = [_provider(), *(_res(f"q{i:03}") for i in range(IN_FLIGHT + 10))]
    for res in resources:
        check.on_resource(res)

    def sent() -> int:
        with pack.lock:
            return len(pack.futures)

    _wait_for(lambda: sent() == IN_FLIGHT + 1)  # the window, plus the one it waits behind
    time.sleep(0.2)
    assert sent() == IN_FLIGHT + 1  # still blocked: nothing answered yet
    answered = 0
    while answered < len(resources):  # answer in order, as the pack does, until all went out
        _wait_for(lambda n=answered: sent() > n)
        with pack.lock:
            future = pack.futures[answered]
        future.set_result(resources[answered].name)
        answered += 1
    report = check.finish(_result(resources), _locate)
    assert len(report.diagnostics) == len(resources) + 1


def _stack_report(mode: str, *messages: str) -> StackReport:
    return StackReport(stack="s", project="p", resource_count=2, resource_types={}, render_seconds=1.0,
                       analyze_seconds=0.5,
                       diagnostics=[Diagnostic(stack="s", policy_pack_name="pack", policy_pack_version="1",
                                               policy_name="policy", description="d", message=m,
                                               enforcement_level="mandatory", severity="", category="violation",
                                               resource_urn=f"urn:{m}", modes=(mode,)) for m in messages],
                       gate_diagnostics=[GateDiagnostic(stack="s", kind="invoke", level="note", message="shaped",
                                                        file="f.py", line=3, modes=(mode,))])


def test_modes_merge_into_one_report_with_each_finding_once():
    merged = merge_modes([_stack_report("preview", "both", "preview only"),
                          _stack_report("update", "both", "update only")])
    assert [(d.message, d.modes) for d in merged.diagnostics] == [
        ("both", ("preview", "update")), ("preview only", ("preview",)), ("update only", ("update",))]
    assert [d.update_only for d in merged.diagnostics] == [False, False, True]
    assert [(g.message, g.modes) for g in merged.gate_diagnostics] == [("shaped", ("preview", "update"))]
    assert merged.resource_count == 2 and merged.render_seconds == 2.0 and merged.analyze_seconds == 1.0
