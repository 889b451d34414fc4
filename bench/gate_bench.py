"""Benchmark of the offline policy gate (prints figures; not a test).

1. The gate (`python -m gate`, all stacks, both modes, real pack processes over gRPC) against the
   in-process floor (target <= 1.3x).  Each figure is the wall time of a fresh process, median of
   --repeat runs.  The floor does, in one process and one thread, exactly the work the gate cannot avoid:
   - render every stack in both modes, a preview then an update, with `gate.render.render` (the same
     renders as the gate — transforms, invoke answers, input checks included — with the same
     `gc.freeze()` after each);
   - configure the pack like the gate does, once per stack and mode (GetAnalyzerInfo -> the stack's
     `<pack>/config/<stack>.json` reconciled -> Configure, ConfigureStack with that mode's dry_run; on
     an in-process pulumi_policy servicer, no server);
   - deserialize each resource's properties once (`MessageToDict` -> `deserialize_properties` ->
     unknown-checking proxy) and each provider's once, from the same AnalyzeRequest the gate sends;
     resource options and provider objects built by pulumi_policy's own helpers;
   - call every enabled resource policy on every resource (`ResourceValidationArgs` with props, urn,
     name, options, provider, the policy's config and the stack tags) and every enabled stack policy
     once on the linked graph (`PolicyResource` with parent, dependencies and property dependencies,
     linked as pulumi_policy links them), collecting violations and "can't run during preview".
   It prints its diagnostic count over both modes, which must equal the gate's (a finding the gate
   reports once for both modes counts twice: same work, same answers).
   What the floor leaves out is the gate's own overhead: the pack processes and gRPC, and
   pulumi_policy's server, which deserializes a resource (and its provider) again for *every*
   policy in Analyze and every resource again for every stack policy in AnalyzeStack.
2. "servicer": the floor's renders plus the pack's own pulumi_policy servicer called in-process with
   the gate's requests (Analyze per resource, AnalyzeStack): the floor plus the server's per-policy
   deserialization, without processes or gRPC.  servicer - floor = the server's own cost.
3. Scaling on synthetic programs of 100 / 1,000 / 2,000 resources, one mode (`--mode preview`, one render
   per size, comparable with the figures before both modes; target: linear, 2,000 in <= 10 s).

Uses the repo's program and pack (root __main__.py, policies/) when both exist, else the test fixtures.
Run: .venv/bin/python bench/gate_bench.py [--repeat N] [--skip-scaling] [--skip-servicer]
Profile (not part of the figures): py-spy record --subprocesses -o gate.svg -- .venv/bin/python -m gate
"""

from __future__ import annotations

import argparse
import gc
import inspect
import json
import os
import runpy
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "gate" / "fixtures"


def _targets() -> tuple[Path, Path]:
    if (REPO / "__main__.py").is_file() and (REPO / "policies" / "PulumiPolicy.yaml").is_file():
        return REPO, REPO / "policies"
    return FIXTURES / "programs" / "insecure", FIXTURES / "packs" / "basic"


def _run(cmd: list[str], ok: tuple[int, ...]) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode not in ok:
        raise SystemExit(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return elapsed, result.stdout


def gate_run(program: Path, pack: Path, stacks: list[str] | None = None, *extra: str) -> tuple[float, int]:
    """Wall seconds of `python -m gate` and the number of policy events it reported, per mode."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cmd = [sys.executable, "-m", "gate", "--program", str(program), "--policy-pack", str(pack),
               "--format", "json", "--output", out.name, *extra]
        for stack in stacks or []:
            cmd += ["--stack", stack]
        seconds, _ = _run(cmd, ok=(0, 1))  # 1 = mandatory violations: a verdict, not a failure
        events = sum(len(e["modes"]) for e in json.loads(Path(out.name).read_text())["policyEvents"])
    return seconds, events


def floor_run(program: Path, pack: Path, mode: str) -> tuple[float, dict[str, Any]]:
    # Only 0: a floor that crashed half-way would look fast.
    seconds, stdout = _run([sys.executable, __file__, "--floor", mode, str(program), str(pack)], ok=(0,))
    return seconds, json.loads(stdout.strip().splitlines()[-1])


# --- the floor (runs in a child process: python gate_bench.py --floor MODE PROGRAM PACK) -----------
def _load_pack(pack: Path) -> dict[str, Any]:
    """Run the pack's __main__ with PolicyPack captured instead of served: its constructor arguments."""
    import pulumi_policy

    captured: dict[str, Any] = {}
    signature = inspect.signature(pulumi_policy.PolicyPack.__init__)

    def capture(self: Any, *args: Any, **kwargs: Any) -> None:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        captured.update({k: v for k, v in bound.arguments.items() if k != "self"})

    original = pulumi_policy.PolicyPack.__init__
    pulumi_policy.PolicyPack.__init__ = capture  # type: ignore[method-assign]
    cwd = os.getcwd()
    try:
        os.chdir(pack)  # as the CLI starts it: CWD = pack dir
        runpy.run_path(str(pack / "__main__.py"), run_name="__main__")
    finally:
        os.chdir(cwd)
        pulumi_policy.PolicyPack.__init__ = original  # type: ignore[method-assign]
    return captured


def _reported_by_gate(policy: str, message: str) -> bool:
    """The gate reports a waiver's status (unused, expiring, ...) as a waiver record, not a policy event;
    a waived violation stays one event.  Count the floor's diagnostics the same way."""
    from policies._waivers import WAIVED, read_notice

    notice = read_notice(message) if policy == "waivers" else None
    return notice is None or notice.kind == WAIVED


def _call_policies_directly(servicer: Any, policies: list[Any], resources: list[Any],
                            providers: dict[str, Any]) -> int:
    """Every enabled policy called directly, each resource deserialized once; returns the diagnostics."""
    from google.protobuf import json_format  # type: ignore[import-untyped]
    from pulumi_policy.deserialize import deserialize_properties
    from pulumi_policy.policy import (
        EnforcementLevel,
        PolicyResource,
        ResourceValidationArgs,
        ResourceValidationPolicy,
        StackValidationArgs,
        StackValidationPolicy,
        _NotApplicableError,
    )
    from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

    from gate.analyzer import analyze_request

    found: list[tuple[str, str]] = []
    stack_tags = servicer._PolicyAnalyzerServicer__stack_tags
    provider_objects: dict[str, Any] = {}
    entries = []
    for res in resources:
        request = analyze_request(res, providers)  # the request the gate sends, so the same inputs
        props = unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(request.properties)))
        opts = servicer._get_resource_options(request)
        provider_urn = request.provider.urn if request.HasField("provider") else ""
        if provider_urn not in provider_objects:
            provider_objects[provider_urn] = servicer._get_provider_resource(request)
        entries.append((res, props, opts, provider_objects[provider_urn]))

    def enabled(kind: type) -> list[Any]:
        return [p for p in policies if isinstance(p, kind)
                and servicer._get_enforcement_level(p) != EnforcementLevel.DISABLED]

    def call(policy: Any, args: Any) -> None:
        def report(message: str, urn: str | None = None) -> None:
            if _reported_by_gate(policy.name, message):
                found.append((policy.name, message))
        try:
            policy.validate(args, report)
        except UnknownValueError:
            found.append((policy.name, "can't run during preview"))
        except _NotApplicableError:
            pass

    resource_policies = [p for p in enabled(ResourceValidationPolicy) if p.has_validation()]
    for res, props, opts, provider in entries:
        for policy in resource_policies:
            call(policy, ResourceValidationArgs(res.type, props, res.urn, res.name, opts, provider,
                                                servicer._get_policy_config(policy.name), stack_tags))
    # The graph, linked the way pulumi_policy's AnalyzeStack links it (built once, shared by all).
    graph = {res.urn: PolicyResource(res.type, props, res.urn, res.name, opts, provider, None, [], {})
             for res, props, opts, provider in entries}
    for res in resources:
        node = graph[res.urn]
        node.parent = graph.get(res.parent)
        node.dependencies.extend(graph[d] for d in res.dependencies if d in graph)
        for key, urns in res.property_dependencies.items():
            if urns:
                node.property_dependencies[key] = [graph[d] for d in urns if d in graph]
    for policy in enabled(StackValidationPolicy):
        call(policy, StackValidationArgs(list(graph.values()), servicer._get_policy_config(policy.name), stack_tags))
    return len(found)


def run_floor(mode: str, program: Path, pack: Path) -> None:
    started = time.perf_counter()
    sys.path.insert(0, str(REPO))
    from google.protobuf import empty_pb2
    from pulumi_policy.policy import EnforcementLevel, _PolicyAnalyzerServicer

    from gate.analyzer import (
        analyze_request,
        analyze_stack_request,
        configure_request,
        configure_stack_request,
        pack_meta,
        read_pack_manifest,
    )
    from gate.invokes import InvokeFixtures
    from gate.model import MODES, PREVIEW
    from gate.pipeline import pack_configs
    from gate.project import load_project, load_stack_config
    from gate.render import PROVIDER_PREFIX, render
    from gate.stack_references import StackReferenceFixtures

    pack_args = _load_pack(pack)
    policies = pack_args["policies"]
    manifest_version, _ = read_pack_manifest(pack)
    project = load_project(program)
    invoke_fixtures = InvokeFixtures.for_program(program)  # the program's own, as the gate loads them
    stack_references = StackReferenceFixtures.for_program(program)
    render_seconds = policy_seconds = 0.0
    diagnostics = 0
    for stack, run_mode in ((stack, m) for stack in project.stack_names() for m in MODES):
        config = load_stack_config(project, stack)
        preview = run_mode == PREVIEW
        t0 = time.perf_counter()
        servicer = _PolicyAnalyzerServicer(
            pack_args["name"], "0.0.1", policies, pack_args["enforcement_level"] or EnforcementLevel.ADVISORY,
            pack_args["initial_config"], pack_args["description"], pack_args["display_name"],
            pack_args["readme"], pack_args["provider"], pack_args["tags"], pack_args["repository"])
        meta = pack_meta(servicer.GetAnalyzerInfo(empty_pb2.Empty(), None), manifest_version, pack)
        servicer.ConfigureStack(configure_stack_request(config, project.name, "organization", preview), None)
        servicer.Configure(configure_request(pack_configs(stack, [meta], [pack], [])[0][2]), None)
        t1 = time.perf_counter()
        result = render(program, stack, config=config, project=project, preview=preview,
                        invoke_fixtures=invoke_fixtures, stack_references=stack_references)
        gc.freeze()  # as `python -m gate` does after each render (see gate.cli.main)
        result.raise_for_errors()
        t2 = time.perf_counter()
        resources = result.resources
        providers = {r.urn: r for r in resources if r.type.startswith(PROVIDER_PREFIX)}
        if mode == "servicer":
            answers = [servicer.Analyze(analyze_request(res, providers), None) for res in resources]
            answers.append(servicer.AnalyzeStack(analyze_stack_request(resources, providers), None))
            diagnostics += sum(_reported_by_gate(d.policyName, d.message) for a in answers for d in a.diagnostics)
        else:
            diagnostics += _call_policies_directly(servicer, policies, resources, providers)
        t3 = time.perf_counter()
        render_seconds += t2 - t1
        policy_seconds += (t3 - t2) + (t1 - t0)
    print(json.dumps({"mode": mode, "render": round(render_seconds, 3), "policies": round(policy_seconds, 3),
                      "total_in_process": round(time.perf_counter() - started, 3), "diagnostics": diagnostics}))


# --- synthetic programs -------------------------------------------------------------------------
SYNTHETIC_MAIN = '''
import pulumi
import pulumi_aws as aws

count = pulumi.Config().require_int("count")
key = aws.kms.Key("key", enable_key_rotation=True)
for i in range((count - 1) // 2):
    dlq = aws.sqs.Queue(f"dlq-{i}", kms_master_key_id=key.arn)
    aws.sqs.Queue(f"q-{i}", kms_master_key_id=key.arn, redrive_policy=dlq.arn.apply(lambda a: a),
                  visibility_timeout_seconds=30, tags={"n": str(i)})
'''


def synthetic_program(root: Path, count: int) -> Path:
    program = root / f"synthetic-{count}"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: synthetic\nruntime: python\n")
    (program / "Pulumi.bench.yaml").write_text(f"config:\n  aws:region: eu-west-1\n  count: {count}\n")
    (program / "__main__.py").write_text(SYNTHETIC_MAIN)
    return program


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-scaling", action="store_true")
    parser.add_argument("--skip-servicer", action="store_true")
    parser.add_argument("--floor", nargs=3, metavar=("MODE", "PROGRAM", "PACK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor:
        run_floor(args.floor[0], Path(args.floor[1]), Path(args.floor[2]))
        return

    program, pack = _targets()
    print(f"program {program.relative_to(REPO)}  pack {pack.relative_to(REPO)}  "
          f"(median of {args.repeat}; load average before: {_load()})")
    gate, floor, servicer = [], [], []
    for _ in range(args.repeat):  # interleaved, so a burst of load hits all three alike
        gate.append(gate_run(program, pack))
        floor.append(floor_run(program, pack, "direct"))
        if not args.skip_servicer:
            servicer.append(floor_run(program, pack, "servicer"))
    g = statistics.median(s for s, _ in gate)
    f = statistics.median(s for s, _ in floor)
    render_s = statistics.median(d["render"] for _, d in floor)
    policy_s = statistics.median(d["policies"] for _, d in floor)
    print(f"  gate, all stacks, both modes: {g:6.2f} s   ({gate[0][1]} policy events over both modes)")
    print(f"  in-process floor:        {f:6.2f} s   (render {render_s:.2f} s + policies {policy_s:.2f} s; "
          f"{floor[0][1]['diagnostics']} diagnostics)")
    print(f"  ratio gate / floor:      {g / f:6.2f}x   (target <= 1.3x)")
    if servicer:
        s = statistics.median(x for x, _ in servicer)
        sp = statistics.median(d["policies"] for _, d in servicer)
        print(f"  floor via pulumi_policy's servicer (in-process, no gRPC): {s:6.2f} s   (policies {sp:.2f} s: "
              f"the server's per-policy deserialization costs {sp - policy_s:.2f} s over the floor)")
    if {n for _, n in gate} != {d["diagnostics"] for _, d in floor}:
        print("  WARNING: the floor and the gate disagree on the diagnostics; the comparison is not like with like")
    print(f"  load average after: {_load()}")
    if args.skip_scaling:
        return

    print("scaling (synthetic program, one stack, preview only, fixture pack):")
    fixture_pack = FIXTURES / "packs" / "basic"
    with tempfile.TemporaryDirectory() as tmp:
        previous = None
        for count in (100, 1000, 2000):
            synthetic = synthetic_program(Path(tmp), count)
            seconds = statistics.median(gate_run(synthetic, fixture_pack, ["bench"], "--mode", "preview")[0]
                                        for _ in range(args.repeat))
            per = (seconds / count) * 1000
            growth = f"  x{seconds / previous:4.2f} vs previous" if previous else ""
            print(f"  {count:5d} resources: {seconds:6.2f} s  ({per:5.2f} ms/resource){growth}"
                  + ("   (target <= 10 s)" if count == 2000 else ""))
            previous = seconds
    print(f"  load average after: {_load()}")


if __name__ == "__main__":
    main()
