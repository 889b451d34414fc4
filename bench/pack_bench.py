"""Benchmark: the policy pack's own time per 1,000 resources (prints figures; not a test).

Renders every stack of the program once (under mocks, as the gate does), then times what the pack process
does with the gate's requests: Configure, one Analyze per resource and one AnalyzeStack per stack, on the
analyzer servicer the pack serves with (``policies._serve`` when the pack has it, else pulumi_policy's) —
in-process, so neither rendering nor gRPC nor process start-up is in the figure.  Reported as the median of
``--repeat`` runs, per 1,000 resources, with the load average (the machine is shared).

``--repo DIR`` measures another checkout (e.g. ``git archive main | tar -x -C /tmp/base``) with this
script, so two versions of the pack are timed the same way.  ``--stock`` times pulumi_policy's own servicer
with the same pack, which shows what the shared conversion saves.

Run: .venv/bin/python bench/pack_bench.py [--repeat N] [--repo DIR] [--stock]
"""

from __future__ import annotations

import argparse
import gc
import importlib
import importlib.util
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def _load_pack(repo: Path) -> Any:
    """Import ``<repo>/policies`` as the ``policies`` package (as the pack's __main__ does)."""
    pack = repo / "policies"
    spec = importlib.util.spec_from_file_location("policies", pack / "__init__.py",
                                                  submodule_search_locations=[str(pack)])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["policies"] = module
    spec.loader.exec_module(module)
    return importlib.import_module("policies.registry")


def _servicer_class(stock: bool) -> Any:
    from pulumi_policy.policy import _PolicyAnalyzerServicer

    if stock:
        return _PolicyAnalyzerServicer
    try:
        return importlib.import_module("policies._serve").SharedArgsServicer
    except ImportError:
        return _PolicyAnalyzerServicer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--repo", type=Path, default=REPO)
    parser.add_argument("--stock", action="store_true", help="time pulumi_policy's own servicer")
    args = parser.parse_args()
    repo = args.repo.resolve()
    sys.path.insert(0, str(repo))
    from google.protobuf import empty_pb2  # type: ignore[import-untyped]
    from pulumi_policy import EnforcementLevel

    from gate.analyzer import (
        analyze_request,
        analyze_stack_request,
        configure_request,
        configure_stack_request,
        pack_meta,
    )
    from gate.pipeline import pack_configs
    from gate.project import load_project, load_stack_config
    from gate.render import PROVIDER_PREFIX, render

    registry = _load_pack(repo)
    servicer_class = _servicer_class(args.stock)
    project = load_project(repo)
    stacks = []
    for stack in project.stack_names():
        config = load_stack_config(project, stack)
        fixtures = repo / ".gate" / "invokes.yaml"  # the answers `python -m gate` gives the program's data sources
        kwargs: dict[str, Any] = {}
        if fixtures.is_file():
            from gate.invokes import InvokeFixtures
            kwargs["invoke_fixtures"] = InvokeFixtures.load(fixtures)
        result = render(repo, stack, config=config, project=project, **kwargs)
        result.raise_for_errors()
        providers = {r.urn: r for r in result.resources if r.type.startswith(PROVIDER_PREFIX)}
        requests = [analyze_request(r, providers) for r in result.resources]
        stacks.append((stack, config, requests, analyze_stack_request(result.resources, providers)))
    gc.freeze()
    count = sum(len(requests) for _, _, requests, _ in stacks)
    pack_dir = repo / "policies"
    load_before = os.getloadavg()
    runs: list[float] = []
    diagnostics = 0
    for _ in range(args.repeat):
        diagnostics = 0
        started = time.perf_counter()
        for stack, config, requests, stack_request in stacks:
            servicer = servicer_class(registry.PACK_NAME, "0.0.1", registry.build_policies(),
                                      EnforcementLevel.ADVISORY)
            meta = pack_meta(servicer.GetAnalyzerInfo(empty_pb2.Empty(), None), "0.0.1", pack_dir)
            servicer.ConfigureStack(configure_stack_request(config, project.name, "organization", True), None)
            servicer.Configure(configure_request(pack_configs(stack, [meta], [pack_dir], [])[0][2]), None)
            for request in requests:
                diagnostics += len(servicer.Analyze(request, None).diagnostics)
            diagnostics += len(servicer.AnalyzeStack(stack_request, None).diagnostics)
        runs.append(time.perf_counter() - started)
    median = statistics.median(runs)
    print(json.dumps({
        "repo": str(repo), "servicer": f"{servicer_class.__module__}.{servicer_class.__name__}",
        "policies": len(registry.POLICIES), "resources": count, "diagnostics": diagnostics,
        "seconds_median": round(median, 3), "seconds_per_1000_resources": round(median / count * 1000, 3),
        "runs": [round(r, 3) for r in runs],
        "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()],
    }))


if __name__ == "__main__":
    main()
