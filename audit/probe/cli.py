"""`python -m audit probe`: test the deployed endpoint's defenses from outside, with bounded traffic."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from audit.cli import add_outputs_option, add_report_options, emit, read_outputs
from audit.model import Report
from audit.outputs import OutputsError
from audit.probe.checks import Prober, ProbeSettings

# Hard ceilings so that a typo cannot turn the probe into a load test.
MAX_BURST_REQUESTS = 2000
MAX_BURST_SECONDS = 60.0


def probe_parser() -> argparse.ArgumentParser:
    defaults = ProbeSettings(url="")
    parser = argparse.ArgumentParser(prog="python -m audit probe",
                                     description="Probe the API endpoint's defenses from outside.")
    parser.add_argument("--url", help="base URL of the API stage (default: api.url of the stack outputs)")
    add_outputs_option(parser)
    parser.add_argument("--orders-path", default=defaults.orders_path, help="JWT-protected GET route")
    parser.add_argument("--partner-path", default=defaults.partner_path, help="API-key-protected POST route")
    parser.add_argument("--health-path", default=defaults.health_path, help="route used for the throttle burst")
    parser.add_argument("--api-key-header", default=defaults.api_key_header)
    parser.add_argument("--body-limit-bytes", type=int, default=defaults.body_limit_bytes,
                        help="the body size limit the WAF enforces; the probe sends twice as much")
    parser.add_argument("--burst-requests", type=int, default=defaults.burst_requests,
                        help=f"at most this many burst requests (<= {MAX_BURST_REQUESTS})")
    parser.add_argument("--burst-seconds", type=float, default=defaults.burst_seconds,
                        help=f"at most this long for the burst (<= {MAX_BURST_SECONDS:g})")
    parser.add_argument("--burst-concurrency", type=int, default=defaults.burst_concurrency)
    parser.add_argument("--http-port", type=int, default=defaults.http_port,
                        help="port where plain HTTP must not be served")
    parser.add_argument("--timeout", type=float, default=defaults.timeout, help="per-request timeout (s)")
    parser.add_argument("--ca-bundle", help="CA bundle to verify the endpoint (tests, private CAs)")
    add_report_options(parser)
    return parser


def _settings(args: argparse.Namespace, stdin: TextIO) -> ProbeSettings:
    url = args.url or read_outputs(args.outputs, stdin).api.url
    if not 1 <= args.burst_requests <= MAX_BURST_REQUESTS:
        raise OutputsError(f"--burst-requests: must be between 1 and {MAX_BURST_REQUESTS}")
    if not 0 < args.burst_seconds <= MAX_BURST_SECONDS:
        raise OutputsError(f"--burst-seconds: must be > 0 and <= {MAX_BURST_SECONDS:g}")
    if not 1 <= args.burst_concurrency <= 64:
        raise OutputsError("--burst-concurrency: must be between 1 and 64")
    if args.body_limit_bytes < 1:
        raise OutputsError("--body-limit-bytes: must be positive")
    return ProbeSettings(
        url=url, orders_path=args.orders_path, partner_path=args.partner_path, health_path=args.health_path,
        api_key_header=args.api_key_header, api_key=os.environ.get("PROBE_API_KEY") or None,
        token=os.environ.get("PROBE_TOKEN") or None,
        body_limit_bytes=args.body_limit_bytes, burst_requests=args.burst_requests,
        burst_seconds=args.burst_seconds, burst_concurrency=args.burst_concurrency, http_port=args.http_port,
        timeout=args.timeout, ca_bundle=args.ca_bundle)


def probe_main(argv: Sequence[str], stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    args = probe_parser().parse_args(list(argv))
    try:
        settings = _settings(args, stdin or sys.stdin)
        prober = Prober(settings)
    except (OutputsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = Report("probe", settings.url)
    report.extend(prober.run())
    return emit(report, args.format, args.output, stdout or sys.stdout, args.summary)
