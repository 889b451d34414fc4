"""Benchmark of the offline policy gate (prints figures; not a test).

1. The gate (`python -m gate`, all stacks, real pack processes over gRPC) against the in-process floor:
   the same renders plus calling the pack's policies directly in one process (target <= 1.3x).
2. Scaling on synthetic programs of 100 / 1,000 / 2,000 resources (target: linear, 2,000 in <= 10 s).

Uses the repo's program and pack (root __main__.py, policies/) when both exist, else the test fixtures.
Run: .venv/bin/python bench/gate_bench.py [--repeat N]
"""

from __future__ import annotations

import argparse
import contextlib
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


def _timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return elapsed


def gate_seconds(program: Path, pack: Path, stacks: list[str] | None = None) -> float:
    cmd = [sys.executable, "-m", "gate", "--program", str(program), "--policy-pack", str(pack),
           "--format", "json", "--output", "/dev/null"]
    for stack in stacks or []:
        cmd += ["--stack", stack]
    return _timed(cmd)


def floor_seconds(program: Path, pack: Path) -> float:
    return _timed([sys.executable, __file__, "--floor", str(program), str(pack)])


def run_floor(program: Path, pack: Path) -> None:
    """In one process: render every stack and call the pack's policies directly (no gRPC)."""
    sys.path.insert(0, str(REPO))
    import pulumi_policy
    from google.protobuf import json_format  # type: ignore[import-untyped]
    from pulumi_policy.deserialize import deserialize_properties
    from pulumi_policy.policy import (
        PolicyCustomTimeouts,
        PolicyResource,
        PolicyResourceOptions,
        ResourceValidationArgs,
        ResourceValidationPolicy,
        StackValidationArgs,
        StackValidationPolicy,
    )
    from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

    from gate.project import load_project
    from gate.render import render

    captured: dict[str, Any] = {}

    def capture(self: Any, name: str, policies: list[Any], *args: Any, **kwargs: Any) -> None:
        captured["policies"] = policies

    pulumi_policy.PolicyPack.__init__ = capture  # type: ignore[method-assign]
    sys.path.insert(0, str(pack))
    runpy.run_path(str(pack / "__main__.py"))
    policies = captured["policies"]

    def noop(message: str, urn: str | None = None) -> None:
        return None

    opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)
    for stack in load_project(program).stack_names():
        result = render(program, stack)
        resources = []
        for res in result.resources:
            props = unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(res.properties)))
            resources.append((res, props))
        for policy in policies:
            if isinstance(policy, ResourceValidationPolicy):
                for res, props in resources:
                    with contextlib.suppress(UnknownValueError):
                        policy.validate(ResourceValidationArgs(res.type, props, res.urn, res.name, opts, None,
                                                               None, {}), noop)
            elif isinstance(policy, StackValidationPolicy):
                stack_resources = [PolicyResource(r.type, p, r.urn, r.name, opts, None, None, [], {})
                                   for r, p in resources]
                with contextlib.suppress(UnknownValueError):
                    policy.validate(StackValidationArgs(stack_resources, None, {}), noop)


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--floor", nargs=2, metavar=("PROGRAM", "PACK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor:
        run_floor(Path(args.floor[0]), Path(args.floor[1]))
        return

    program, pack = _targets()
    gate = [gate_seconds(program, pack) for _ in range(args.repeat)]
    floor = [floor_seconds(program, pack) for _ in range(args.repeat)]
    g, f = statistics.median(gate), statistics.median(floor)
    print(f"program {program.relative_to(REPO)}  pack {pack.relative_to(REPO)}  (median of {args.repeat})")
    print(f"  gate, all stacks:        {g:6.2f} s")
    print(f"  in-process floor:        {f:6.2f} s")
    print(f"  ratio gate / floor:      {g / f:6.2f}x   (target <= 1.3x)")

    print("scaling (synthetic program, one stack, fixture pack):")
    fixture_pack = FIXTURES / "packs" / "basic"
    with tempfile.TemporaryDirectory() as tmp:
        previous = None
        for count in (100, 1000, 2000):
            synthetic = synthetic_program(Path(tmp), count)
            seconds = min(gate_seconds(synthetic, fixture_pack, ["bench"]) for _ in range(max(1, args.repeat - 1)))
            per = (seconds / count) * 1000
            growth = f"  x{seconds / previous:4.2f} vs previous" if previous else ""
            print(f"  {count:5d} resources: {seconds:6.2f} s  ({per:5.2f} ms/resource){growth}"
                  + ("   (target <= 10 s)" if count == 2000 else ""))
            previous = seconds


if __name__ == "__main__":
    main()
