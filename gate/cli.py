"""`python -m gate`: render every stack under mocks, run the policy packs on it, report, exit 0/1/2."""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import sys
import threading
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path

from gate import report, report_json, report_markdown, report_sarif, report_text, report_waivers
from gate.analyzer import PolicyPackProcess
from gate.engine_server import EngineServer
from gate.errors import GateError, did_you_mean
from gate.invokes import InvokeFixtures
from gate.model import MODES, PREVIEW, UPDATE, GateReport, PackMeta, StackReport
from gate.pipeline import StackCheck, merge_modes
from gate.policy_config import read_config_file
from gate.project import load_project, load_stack_config
from gate.render import CapturedResource, RenderResult, render
from gate.source import SourceLocation
from gate.stack_references import StackReferenceFixtures
from gate.waivers import merge as merge_waivers
from policies._waivers import TODAY_ENV

REPO_ROOT = Path(__file__).resolve().parent.parent
FORMATS = ("text", "json", "sarif", "markdown")


EPILOG = """\
formats (--format):
  text      for a terminal: the verdict, then blocking findings with their fix and rule, then
            advisory ones (resource counts per stack with --verbose)
  markdown  for a pull-request comment or $GITHUB_STEP_SUMMARY: findings per policy in collapsible
            sections, file:line linked to the commit under review on GitHub Actions, and a diagram
            of each stack's components with their findings
  json      the engine's policyEvent per finding, plus the verdict, stacks and components
  sarif     SARIF 2.1.0 for GitHub code scanning (github/codeql-action/upload-sarif)

exit codes:
  0  no mandatory policy is violated (advisory findings do not fail)
  1  at least one mandatory violation (with --strict, also a policy undecided at preview), or an
     input the provider's Check would reject (wrong type, at the program's file:line)
  2  the gate could not decide: the program raised, a policy pack failed, or a config is invalid

waivers (python -m gate waivers --help):
  python -m gate waivers   lists every waiver of every stack with its status (active, expiring,
                           expired, unused, undecided); exit 1 if one is expired or unused

examples:
  make preview                                  every stack, text report (sets up .venv first)
  .venv/bin/python -m gate --stack prod         one stack
  .venv/bin/python -m gate --mode preview       only the preview (the default runs preview and update)
  .venv/bin/python -m gate --invoke-fixtures lookups.yaml   data-source values a policy needs
  .venv/bin/python -m gate --format markdown >> "$GITHUB_STEP_SUMMARY"
  .venv/bin/python -m gate --format sarif --output gate.sarif
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gate",
        description="Offline policy gate: render the Pulumi program for each stack under mocks (a preview "
                    "of a new stack, then an update) and run the CrossGuard policy packs on it like the "
                    "Pulumi engine.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--stack", action="append", default=[],
                        help="stack to check (repeatable); default: every Pulumi.<stack>.yaml in the program")
    parser.add_argument("--program", type=Path, default=REPO_ROOT, help="program directory (default: repo root)")
    parser.add_argument("--policy-pack", action="append", type=Path, default=[],
                        help="policy pack directory (repeatable; default: <repo>/policies)")
    parser.add_argument("--policy-pack-config", action="append", type=Path, default=[],
                        help="--policy-pack-config JSON for every stack: one file for all packs or one per pack "
                             "(default: <pack>/config/<stack>.json when it exists)")
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="report format: text (default), markdown, json or sarif (see below)")
    parser.add_argument("--output", type=Path, help="write the report here instead of stdout")
    parser.add_argument("--verbose", action="store_true",
                        help="text format: also each stack's resource counts by type, timings and warnings")
    parser.add_argument("--strict", action="store_true",
                        help="also fail when a policy could not run during preview (unknown values)")
    parser.add_argument("--mode", choices=("both", *MODES), default="both",
                        help="both (default): a preview of a new stack, then an update as `pulumi up` would see it "
                             "(mocked resources return ids/ARNs, so a policy that passes an unknown value at "
                             "preview decides on the value), one report; or only one of them")
    parser.add_argument("--update", action="store_true", help="the same as --mode update")
    parser.add_argument("--invoke-fixtures", type=Path,
                        help="YAML: data-source results (or failures) by function token, for the values a policy "
                             "needs (default: <program>/.gate/invokes.yaml when it exists; otherwise shaped from "
                             "the SDK's result type, with placeholder values)")
    parser.add_argument("--stack-reference-fixtures", type=Path,
                        help="YAML: outputs of referenced stacks by stack name (default: "
                             "<program>/.gate/stack-references.yaml when it exists; otherwise unknown)")
    parser.add_argument("--start-timeout", type=float, default=60.0, help="seconds a pack may take to start")
    parser.add_argument("--rpc-timeout", type=float, default=120.0, help="seconds one pack call may take")
    return parser


def main(argv: Sequence[str] | None = None, *, own_process: bool = False) -> int:
    """`own_process`: the gate owns this (short-lived) process, as with `python -m gate`; the heap that
    survives a render (the imported provider SDK, the captured graph) is then frozen out of the
    garbage collector's later passes (`gc.freeze`), which otherwise re-scan it after every render."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["waivers"]:
        return waivers_main(argv[1:], own_process=own_process)
    args = build_parser().parse_args(argv)
    try:
        gate_report = run(args, freeze_heap=own_process)
    except GateError as exc:
        print(f"gate: error: {exc}", file=sys.stderr)
        print("gate: FAILED to evaluate the policies (exit 2)", file=sys.stderr)
        return 2
    text = render_report(gate_report, args.format, verbose=args.verbose)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    if args.output or args.format != "text":  # a text report on stdout starts with this very line
        print(report.summary_line(gate_report), file=sys.stderr)
    return gate_report.exit_code


def waivers_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gate waivers",
        description="List every waiver of every stack (policies/config/<stack>.json) with what it did: the gate "
                    "runs each stack as a preview and as an update (a waiver used in either is used).",
        epilog="statuses: active; expiring (within 30 days); expired (void: the violation blocks again); "
               "unused (matches no violation: remove it); undecided (the policy could not run at preview).\n"
               "exit codes: 0 every waiver is in use and unexpired; 1 one is expired or unused; 2 the gate "
               "could not run.",
    )
    parser.add_argument("--stack", action="append", default=[], help="stack (repeatable; default: every stack)")
    parser.add_argument("--program", type=Path, default=REPO_ROOT, help="program directory (default: repo root)")
    parser.add_argument("--policy-pack", action="append", type=Path, default=[],
                        help="policy pack directory (repeatable; default: <repo>/policies)")
    parser.add_argument("--policy-pack-config", action="append", type=Path, default=[],
                        help="pack config for every stack, as for the gate (default: <pack>/config/<stack>.json)")
    parser.add_argument("--on", metavar="YYYY-MM-DD", type=_iso_date,
                        help="judge expiry on this day instead of today (what will have expired by then?)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--start-timeout", type=float, default=60.0, help="seconds a pack may take to start")
    parser.add_argument("--rpc-timeout", type=float, default=120.0, help="seconds one pack call may take")
    return parser


def _iso_date(value: str) -> str:
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date YYYY-MM-DD") from None


def waivers_main(argv: Sequence[str], *, own_process: bool = False) -> int:
    args = waivers_parser().parse_args(argv)
    saved = os.environ.get(TODAY_ENV)
    if args.on:
        os.environ[TODAY_ENV] = args.on  # the packs, started from this environment, judge the same day
    try:
        # Both modes in one run, as the gate's default: a waiver used in either is used.
        options = build_parser().parse_args(["--mode", "both"])
        for key in ("stack", "program", "policy_pack", "policy_pack_config", "start_timeout", "rpc_timeout"):
            setattr(options, key, getattr(args, key))
        runs = [run(options, freeze_heap=own_process).waivers]
    except GateError as exc:
        print(f"gate: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if saved is None:
            os.environ.pop(TODAY_ENV, None)
        else:
            os.environ[TODAY_ENV] = saved
    records = sorted(merge_waivers(runs), key=lambda w: (w.stack, w.policy, w.resource))
    sys.stdout.write(report_waivers.render(records, args.format))
    return 1 if any(w.status in ("expired", "unused") for w in records) else 0


def render_report(gate_report: GateReport, fmt: str, *, verbose: bool = False) -> str:
    if fmt == "text":
        return report_text.to_text(gate_report, verbose=verbose)
    renderers = {"json": report_json.to_json, "sarif": report_sarif.to_sarif, "markdown": report_markdown.to_markdown}
    return renderers[fmt](gate_report)


def _log(message: str) -> None:
    # One write per line: several threads log at once (one per render being finished).
    sys.stderr.write(f"gate: {message}\n")
    sys.stderr.flush()


def run(args: argparse.Namespace, *, freeze_heap: bool = False) -> GateReport:
    program = args.program.resolve()
    project = load_project(program)
    existing = project.stack_names()
    stacks = args.stack or existing
    if not stacks:
        raise GateError(f"no Pulumi.<stack>.yaml in {program} and no --stack given")
    for stack in stacks:
        if stack not in existing:
            have = ", ".join(existing) or "none"
            raise GateError(f"no stack {stack!r}: there is no Pulumi.{stack}.yaml in {program} "
                            f"(stacks: {have}){did_you_mean(stack, existing)}")
    configs = {stack: load_stack_config(project, stack) for stack in stacks}
    packs = [p.resolve() for p in (args.policy_pack or [REPO_ROOT / "policies"])]
    for pack in packs:
        if not (pack / "PulumiPolicy.yaml").is_file():
            raise GateError(f"policy pack directory {pack} has no PulumiPolicy.yaml")
    if args.policy_pack_config and len(args.policy_pack_config) not in (1, len(packs)):
        raise GateError(f"{len(args.policy_pack_config)} --policy-pack-config files for {len(packs)} packs: "
                        "give one for all packs or one per pack")
    explicit = [(p, read_config_file(p)) for p in args.policy_pack_config]
    modes = MODES if args.mode == "both" and not args.update else (UPDATE,) if args.update else (args.mode,)
    # The program's own fixtures (.gate/ beside Pulumi.yaml) unless files are given.
    invoke_fixtures = InvokeFixtures.for_program(program, args.invoke_fixtures)
    stack_references = StackReferenceFixtures.for_program(program, args.stack_reference_fixtures)

    pack_metas: dict[str, PackMeta] = {}
    with EngineServer() as engine, ExitStack() as cleanup:
        # Packs boot (import pulumi + the pack) while the program renders: start them all up front, one
        # set per stack and mode (the engine starts its analyzers afresh for each preview and update).
        processes: dict[tuple[str, str], list[PolicyPackProcess]] = {}
        for stack in stacks:
            for mode in modes:
                processes[stack, mode] = []
                for pack in packs:
                    proc = PolicyPackProcess(pack, engine_address=engine.address, project=project.name,
                                             stack=configs[stack], start_timeout=args.start_timeout,
                                             rpc_timeout=args.rpc_timeout, dry_run=mode == PREVIEW)
                    cleanup.callback(proc.close)
                    processes[stack, mode].append(proc)
        # Renders run one after another (the SDK's runtime state is process-wide); each one's packs
        # analyze it while it renders and finish it (AnalyzeStack) while the next one renders.
        finishing: list[_Finishing] = []
        for stack in stacks:
            for mode in modes:
                check = StackCheck(stack, processes[stack, mode], packs, explicit, _log, mode=mode)
                described = "an update with known values" if mode == UPDATE else "preview of a new stack"
                _log(f"[{stack}] rendering {program.name or program} ({described}, mocked cloud)")
                result = render(program, stack, preview=mode == PREVIEW, config=configs[stack], project=project,
                                on_resource=check.on_resource, invoke_fixtures=invoke_fixtures,
                                stack_references=stack_references)
                if freeze_heap:
                    gc.freeze()  # after the render's own collection: only survivors are frozen
                if not result.ok:
                    check.abandon()
                    for earlier in finishing:  # an earlier render's failure is reported first, as before
                        earlier.result()
                    result.raise_for_errors()
                _log(f"[{stack}] rendered {len(result.resources)} resources in {result.seconds:.2f} s")
                for warning in result.warnings:
                    _log(f"[{stack}] warning: {warning}")
                finishing.append(_Finishing(check, result, _locator(program, stack), _place))
        by_stack: dict[str, list[StackReport]] = {}
        for f in finishing:
            by_stack.setdefault(f.check.stack, []).append(f.result())
        stack_reports = [merge_modes(reports) for reports in by_stack.values()]
        for f in finishing:
            for meta in f.check.metas:
                pack_metas.setdefault(meta.name, meta)
    _log(f"engine log: {len(engine.logs)} message(s)") if engine.logs else None
    return GateReport(stacks=stack_reports, packs=list(pack_metas.values()), strict=args.strict,
                      repo_root=str(REPO_ROOT))


class _Finishing:
    """`StackCheck.finish` on a thread of its own; `result()` returns its report or raises its error."""

    def __init__(self, check: StackCheck, result: RenderResult,
                 locate: Callable[[CapturedResource], tuple[str, int]],
                 place: Callable[[SourceLocation | None], tuple[str, int]]) -> None:
        self.check = check
        self._report: StackReport | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(result, locate, place), daemon=True,
                                        name=f"gate-finish-{check.stack}-{check.mode}")
        self._thread.start()

    def _run(self, result: RenderResult, locate: Callable[[CapturedResource], tuple[str, int]],
             place: Callable[[SourceLocation | None], tuple[str, int]]) -> None:
        try:
            self._report = self.check.finish(result, locate, place)
        except BaseException as exc:  # re-raised in the caller's thread by result()
            self._error = exc

    def result(self) -> StackReport:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._report is not None
        return self._report


def _locator(program: Path, stack: str) -> Callable[[CapturedResource], tuple[str, int]]:
    def locate(res: CapturedResource) -> tuple[str, int]:
        if res.source is not None:
            return res.source.relative_to(REPO_ROOT), res.source.line
        return _relative(program / f"Pulumi.{stack}.yaml"), 1

    return locate


def _place(location: SourceLocation | None) -> tuple[str, int]:
    return (location.relative_to(REPO_ROOT), location.line) if location is not None else ("", 0)


def _relative(path: Path) -> str:
    try:
        return path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return path.as_posix()
