"""`python -m gate`: render every stack under mocks, run the policy packs on it, report, exit 0/1/2."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from gate import report
from gate.analyzer import PolicyPackProcess
from gate.engine_server import EngineServer
from gate.errors import GateError
from gate.model import Diagnostic, GateReport, PackMeta, StackReport
from gate.policy_config import read_config_file, reconcile
from gate.project import StackConfig, load_project, load_stack_config
from gate.render import PROVIDER_PREFIX, CapturedResource, iter_secret_strings, render

REPO_ROOT = Path(__file__).resolve().parent.parent
FORMATS = ("text", "json", "sarif", "markdown")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gate",
        description="Offline policy gate: render the Pulumi program for each stack under mocks (a preview "
                    "of a new stack) and run the CrossGuard policy packs on it like the Pulumi engine.",
    )
    parser.add_argument("--stack", action="append", default=[],
                        help="stack to check (repeatable); default: every Pulumi.<stack>.yaml in the program")
    parser.add_argument("--program", type=Path, default=REPO_ROOT, help="program directory (default: repo root)")
    parser.add_argument("--policy-pack", action="append", type=Path, default=[],
                        help="policy pack directory (repeatable; default: <repo>/policies)")
    parser.add_argument("--policy-pack-config", action="append", type=Path, default=[],
                        help="--policy-pack-config JSON for every stack: one file for all packs or one per pack "
                             "(default: <pack>/config/<stack>.json when it exists)")
    parser.add_argument("--format", choices=FORMATS, default="text")
    parser.add_argument("--output", type=Path, help="write the report here instead of stdout")
    parser.add_argument("--strict", action="store_true",
                        help="also fail when a policy could not run during preview (unknown values)")
    parser.add_argument("--start-timeout", type=float, default=60.0, help="seconds a pack may take to start")
    parser.add_argument("--rpc-timeout", type=float, default=120.0, help="seconds one pack call may take")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        gate_report = run(args)
    except GateError as exc:
        print(f"gate: error: {exc}", file=sys.stderr)
        print("gate: FAILED to evaluate the policies (exit 2)", file=sys.stderr)
        return 2
    text = report.render_report(gate_report, args.format)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    print(report.summary_line(gate_report), file=sys.stderr)
    return gate_report.exit_code


def _log(message: str) -> None:
    print(f"gate: {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> GateReport:
    program = args.program.resolve()
    project = load_project(program)
    stacks = args.stack or project.stack_names()
    if not stacks:
        raise GateError(f"no Pulumi.<stack>.yaml in {program} and no --stack given")
    configs = {stack: load_stack_config(project, stack) for stack in stacks}
    packs = [p.resolve() for p in (args.policy_pack or [REPO_ROOT / "policies"])]
    for pack in packs:
        if not (pack / "PulumiPolicy.yaml").is_file():
            raise GateError(f"policy pack directory {pack} has no PulumiPolicy.yaml")
    if args.policy_pack_config and len(args.policy_pack_config) not in (1, len(packs)):
        raise GateError(f"{len(args.policy_pack_config)} --policy-pack-config files for {len(packs)} packs: "
                        "give one for all packs or one per pack")
    explicit = [(p, read_config_file(p)) for p in args.policy_pack_config]

    stack_reports: list[StackReport] = []
    pack_metas: dict[str, PackMeta] = {}
    with EngineServer() as engine, ExitStack() as cleanup:
        # Packs boot (import pulumi + the pack) while the program renders: start them all up front.
        processes: dict[str, list[PolicyPackProcess]] = {}
        for stack in stacks:
            processes[stack] = []
            for pack in packs:
                proc = PolicyPackProcess(pack, engine_address=engine.address, project=project.name,
                                         stack=configs[stack], start_timeout=args.start_timeout,
                                         rpc_timeout=args.rpc_timeout)
                cleanup.callback(proc.close)
                processes[stack].append(proc)
        for stack in stacks:
            stack_reports.append(_check_stack(program, stack, configs[stack], processes[stack], packs,
                                              explicit, pack_metas))
    _log(f"engine log: {len(engine.logs)} message(s)") if engine.logs else None
    return GateReport(stacks=stack_reports, packs=list(pack_metas.values()), strict=args.strict,
                      repo_root=str(REPO_ROOT))


def _check_stack(program: Path, stack: str, config: StackConfig, procs: list[PolicyPackProcess],
                 packs: list[Path], explicit: list[tuple[Path, dict]], pack_metas: dict[str, PackMeta]
                 ) -> StackReport:
    _log(f"[{stack}] rendering {program.name or program} (preview of a new stack, mocked cloud)")
    result = render(program, stack, config=config)
    result.raise_for_errors()
    resources = result.resources
    _log(f"[{stack}] rendered {len(resources)} resources in {result.seconds:.2f} s")
    for warning in result.warnings:
        _log(f"[{stack}] warning: {warning}")

    started = time.perf_counter()
    metas = [proc.handshake() for proc in procs]
    all_names = frozenset(p.name for m in metas for p in m.policies)
    providers = {r.urn: r for r in resources if r.type.startswith(PROVIDER_PREFIX)}
    secrets = set(result.secret_values)
    for res in resources:
        secrets.update(iter_secret_strings(res.wire_inputs))

    def locate(res: CapturedResource) -> tuple[str, int]:
        if res.source is not None:
            return res.source.relative_to(REPO_ROOT), res.source.line
        return _relative(program / f"Pulumi.{stack}.yaml"), 1

    diagnostics: list[Diagnostic] = []
    for index, (proc, meta) in enumerate(zip(procs, metas, strict=True)):
        pack_metas.setdefault(meta.name, meta)
        if explicit:
            source_path, user = explicit[0] if len(explicit) == 1 else explicit[index]
            source = str(source_path)
        else:
            default = packs[index] / "config" / f"{stack}.json"
            source, user = (str(default), read_config_file(default)) if default.is_file() else ("(none)", {})
        others = all_names - {p.name for p in meta.policies}
        proc.configure(reconcile(meta, user, f"policy pack config {source}", others))
        if source != "(none)":
            _log(f"[{stack}] {meta.name}@{meta.version}: config {source}")
        diagnostics += proc.analyze(resources, providers, locate)
        diagnostics += proc.analyze_stack(resources, providers, locate)
    elapsed = time.perf_counter() - started
    _log(f"[{stack}] analyzed by {len(procs)} pack(s) in {elapsed:.2f} s: {len(diagnostics)} diagnostic(s)")
    return StackReport(
        stack=stack,
        project=result.project,
        resource_count=len(resources),
        resource_types=dict(Counter(r.type for r in resources)),
        render_seconds=result.seconds,
        analyze_seconds=elapsed,
        diagnostics=[report.redact(d, secrets) for d in diagnostics],
        warnings=result.warnings,
    )


def _relative(path: Path) -> str:
    try:
        return path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return path.as_posix()
