"""Command line: `python -m audit [options]` audits the live stack; `python -m audit probe [options]` probes
the endpoint. Exit codes: 0 every check passed, 1 at least one finding, 2 an error (bad input, a call that
failed or was denied)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

import boto3
from botocore.exceptions import ProfileNotFound

from audit.aws import Aws
from audit.checks.context import DEFAULT_GUARDDUTY_FEATURES, AuditContext
from audit.model import Report
from audit.outputs import OutputsError, StackOutputs, parse_outputs
from audit.report import FORMATS, render
from audit.runner import audit_report

AwsFactory = Callable[[str, str | None, str | None], Aws]


def default_aws(region: str, endpoint_url: str | None, profile: str | None) -> Aws:
    # The normal boto3 credential chain (env, profile, SSO, container/instance role) applies.
    return Aws(boto3.Session(profile_name=profile), region, endpoint_url)


def add_report_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="text", help="report format (default text)")
    parser.add_argument("--output", type=Path, help="write the report to FILE instead of stdout")
    parser.add_argument("--summary", type=Path, metavar="FILE",
                        help="also append a Markdown summary to FILE (e.g. $GITHUB_STEP_SUMMARY); one run, two reports")


def add_outputs_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--outputs", type=Path,
                        help="stack outputs JSON file (default: read `pulumi stack output --json` from stdin)")


def audit_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m audit",
        description="Read-only posture audit of a deployed stack. `python -m audit probe --help` for the "
                    "endpoint probe.")
    add_outputs_option(parser)
    parser.add_argument("--region", help="AWS Region (default: the outputs' region)")
    parser.add_argument("--profile", help="AWS profile (default: the standard boto3 credential chain)")
    parser.add_argument("--endpoint-url", help="send every AWS call to this endpoint (tests, moto)")
    parser.add_argument("--production", action=argparse.BooleanOptionalAction, default=None,
                        help="apply production-only checks (default: environment == 'prod')")
    parser.add_argument("--allow-unauthenticated", action="append", default=[], metavar="'METHOD /path'",
                        help="a route allowed to have authorization NONE besides OPTIONS (repeatable)")
    parser.add_argument("--guardduty-feature", action="append", metavar="NAME",
                        help="required GuardDuty feature (repeatable; default "
                             f"{', '.join(DEFAULT_GUARDDUTY_FEATURES)})")
    add_report_options(parser)
    return parser


def read_outputs(path: Path | None, stdin: TextIO) -> StackOutputs:
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise OutputsError(f"--outputs: cannot read {path}: {exc.strerror}") from exc
        return parse_outputs(text, f"--outputs {path}")
    if stdin.isatty():
        raise OutputsError("no stack outputs: pipe `pulumi stack output --json` into the command or pass --outputs")
    return parse_outputs(stdin.read(), "stdin")


def emit(report: Report, fmt: str, output: Path | None, stdout: TextIO, summary: Path | None = None) -> int:
    if summary is not None:
        with summary.open("a", encoding="utf-8") as handle:
            handle.write(render(report, "markdown"))
    text = render(report, fmt)
    if output is None:
        stdout.write(text)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        counts = report.counts()
        print(f"{report.tool}: {counts['pass']} passed, {counts['fail']} failed, {counts['error']} errors "
              f"-> {output}", file=sys.stderr)
    return report.exit_code()


def audit_main(argv: Sequence[str], make_aws: AwsFactory = default_aws, stdin: TextIO | None = None,
               stdout: TextIO | None = None) -> int:
    args = audit_parser().parse_args(list(argv))
    try:
        outputs = read_outputs(args.outputs, stdin or sys.stdin)
    except OutputsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    region = args.region or outputs.region
    try:
        aws = make_aws(region, args.endpoint_url, args.profile)
    except ProfileNotFound as exc:
        print(f"error: --profile: {exc}", file=sys.stderr)
        return 2
    ctx = AuditContext(
        aws=aws,
        outputs=outputs,
        production=outputs.is_prod if args.production is None else args.production,
        allow_unauthenticated=frozenset(args.allow_unauthenticated),
        guardduty_features=tuple(args.guardduty_feature or DEFAULT_GUARDDUTY_FEATURES),
    )
    return emit(audit_report(ctx), args.format, args.output, stdout or sys.stdout, args.summary)


def main(argv: Sequence[str]) -> int:
    if argv and argv[0] == "probe":
        from audit.probe.cli import probe_main  # noqa: PLC0415 - probe.cli imports this module

        return probe_main(argv[1:])
    return audit_main(argv)
