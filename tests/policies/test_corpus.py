"""The corpus of pull-request programs (tests/policies/corpus/): each runs through the gate and the pack says
exactly what it should — which mandatory violations an insecure program gets, zero on a secure one.

Each program is rendered with the gate's renderer (real pulumi_aws SDK under the gate's mocks, as a first
preview and as an update with known values) and the requests the gate sends over gRPC go to the analyzer
class the pack serves with, in-process: a pack process per program would cost seconds each.
``test_one_program_through_the_gate_cli`` runs one through ``python -m gate`` end to end to show the two
paths agree.  How to add a program: corpus/README.md.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf import empty_pb2  # type: ignore[import-untyped]
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel

from gate.analyzer import analyze_request, analyze_stack_request, configure_request, configure_stack_request, pack_meta
from gate.cli import main as gate_main
from gate.pipeline import pack_configs
from gate.project import load_project, load_stack_config
from gate.render import PROVIDER_PREFIX, render
from policies._serve import SharedArgsServicer
from policies.registry import PACK_NAME, build_policies

CORPUS = Path(__file__).resolve().parent / "corpus"
PACK_DIR = Path(__file__).resolve().parents[2] / "policies"
PROGRAMS = sorted(p.name for p in CORPUS.iterdir() if (p / "expect.yaml").is_file())
STACK_LEVEL = "(stack)"  # resource name for a stack policy's finding that names no resource
Findings = dict[str, set[tuple[str, str]]]  # level -> {(policy, resource name)}


@dataclass(frozen=True)
class Expectation:
    stack: str
    secure: bool
    mandatory: dict[str, frozenset[tuple[str, str]]]  # mode -> exact mandatory findings
    advisory: dict[str, frozenset[tuple[str, str]]]  # mode -> advisory findings that must be among them


def _pairs(table: dict[str, list[str]] | None) -> frozenset[tuple[str, str]]:
    return frozenset((policy, name) for policy, names in (table or {}).items() for name in names)


@functools.cache
def expectation(program: str) -> Expectation:
    raw = yaml.safe_load((CORPUS / program / "expect.yaml").read_text())
    preview = raw.get("preview") or {}
    update = raw.get("update", preview) or {}
    modes = {"preview": preview, "update": update}
    return Expectation(
        stack=raw["stack"], secure=bool(raw["secure"]),
        mandatory={mode: _pairs(spec.get("mandatory")) for mode, spec in modes.items()},
        advisory={mode: _pairs(spec.get("advisory")) for mode, spec in modes.items()},
    )


@functools.cache
def findings(program: str, preview: bool) -> tuple[Findings, tuple[str, ...]]:
    """(level -> findings, "can't run during preview" messages) of the program's stack."""
    directory = CORPUS / program
    stack = expectation(program).stack
    project = load_project(directory)
    config = load_stack_config(project, stack)
    result = render(directory, stack, preview=preview, config=config, project=project)
    result.raise_for_errors()
    servicer = SharedArgsServicer(PACK_NAME, "0.0.1", build_policies(), EnforcementLevel.ADVISORY)
    meta = pack_meta(servicer.GetAnalyzerInfo(empty_pb2.Empty(), None), "0.0.1", PACK_DIR)
    servicer.ConfigureStack(configure_stack_request(config, project.name, "organization", preview), None)
    servicer.Configure(configure_request(pack_configs(stack, [meta], [PACK_DIR], [])[0][2]), None)
    providers = {r.urn: r for r in result.resources if r.type.startswith(PROVIDER_PREFIX)}
    names = {r.urn: r.name for r in result.resources}
    diagnostics: list[tuple[Any, str]] = []  # (diagnostic, name of the resource it concerns)
    for res in result.resources:
        # A resource policy's finding carries no URN: it concerns the analyzed resource (as the gate reports).
        diagnostics += [(d, res.name) for d in servicer.Analyze(analyze_request(res, providers), None).diagnostics]
    stack_answer = servicer.AnalyzeStack(analyze_stack_request(result.resources, providers), None)
    diagnostics += [(d, names.get(d.urn, STACK_LEVEL)) for d in stack_answer.diagnostics]
    found: Findings = defaultdict(set)
    undecided = []
    for d, name in diagnostics:
        if "during preview" in d.message:
            undecided.append(d.message)
            continue
        level = "mandatory" if d.enforcementLevel == proto.MANDATORY else "advisory"
        found[level].add((d.policyName, name))
    return dict(found), tuple(undecided)


def _show(pairs: set[tuple[str, str]] | frozenset[tuple[str, str]]) -> str:
    return json.dumps(sorted(pairs), indent=1)


@pytest.mark.parametrize("mode", ["preview", "update"])
@pytest.mark.parametrize("program", PROGRAMS)
def test_program_gets_exactly_the_expected_mandatory_findings(program: str, mode: str) -> None:
    expect = expectation(program)
    found, undecided = findings(program, mode == "preview")
    assert undecided == (), "every policy must decide at preview"
    mandatory = found.get("mandatory", set())
    assert mandatory == expect.mandatory[mode], _show(mandatory)
    missing_advisory = expect.advisory[mode] - found.get("advisory", set())
    assert not missing_advisory, _show(missing_advisory)
    if expect.secure:
        assert mandatory == set()
    else:
        assert expect.mandatory["update"] or expect.advisory["update"], "an insecure program must be caught"


def test_corpus_has_insecure_and_secure_programs() -> None:
    kinds = {expectation(p).secure for p in PROGRAMS}
    assert kinds == {True, False}


def test_one_program_through_the_gate_cli(tmp_path: Path) -> None:
    program = "edge_http_api_quick_create"
    out = tmp_path / "gate.json"
    code = gate_main(["--program", str(CORPUS / program), "--stack", expectation(program).stack,
                      "--format", "json", "--output", str(out)])
    events = json.loads(out.read_text())["policyEvents"]
    mandatory = {(e["policyName"], e["resourceName"] or STACK_LEVEL) for e in events
                 if e["enforcementLevel"] == "mandatory" and e["category"] == "violation"}
    assert code == 1
    assert mandatory == expectation(program).mandatory["preview"]
