"""Input values checked against the SDK's declared types before the pack runs, as the provider's Check would."""

import json

from gate.cli import main
from gate.model import ERROR, INPUT_TYPE
from gate.provider_check import check_inputs
from gate.render import render

from .conftest import FIXTURES, REPO_ROOT, line_of

PROGRAM = FIXTURES / "programs" / "input_types"
MAIN = PROGRAM / "__main__.py"


def test_wrong_types_are_errors_at_the_programs_line_and_well_typed_inputs_are_not():
    for preview in (True, False):
        result = render(PROGRAM, "dev", preview=preview)
        assert result.ok, result.errors
        errors = [n for n in result.notices if n.kind == INPUT_TYPE]
        assert all(n.location is not None for n in errors)
        assert [(n.level, n.location.line if n.location else 0, n.message.split(": ", 1)[1]) for n in errors] == [
            (ERROR, line_of(MAIN, "BAD-BOOL"), "enableDnsSupport: expected a boolean, got the string 'yes please'"),
            (ERROR, line_of(MAIN, "SecurityGroup("),
             "ingress[0].fromPort: expected an integer, got the string 'eighty'"),
        ]
        assert errors[0].message.startswith("aws:ec2/vpc:Vpc resource 'main' has a problem")


def test_the_checks_follow_the_sdk_types_nested_enums_and_conversions():
    vpc = "aws:ec2/vpc:Vpc"
    assert check_inputs(vpc, {"enableDnsSupport": "true", "cidrBlock": 10, "tags": {"n": True}}) == []
    assert check_inputs(vpc, {"tags": ["a"]}) == ["tags: expected a map, got a list"]
    assert check_inputs("aws:lambda/function:Function", {"memorySize": 128.5, "vpcConfig": {"subnetIds": "s"}}) == [
        "memorySize: expected an integer, got the number 128.5",
        "vpcConfig.subnetIds: expected a list, got the string 's'"]
    secret = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": "maybe"}
    assert check_inputs("aws:sqs/queue:Queue", {"fifoQueue": secret}) == [
        "fifoQueue: expected a boolean, got the string 'maybe'"]
    # Not described by an SDK the program loaded: nothing to check against.
    assert check_inputs("acme:index/thing:Thing", {"x": object()}) == []


def test_the_gate_fails_on_an_input_the_provider_would_reject(tmp_path):
    out = tmp_path / "gate.json"
    code = main(["--program", str(PROGRAM), "--policy-pack", str(FIXTURES / "packs" / "basic"),
                 "--format", "json", "--output", str(out)])
    report = json.loads(out.read_text())
    assert code == 1
    assert report["policyEvents"] == [] or all(e["enforcementLevel"] != "mandatory" for e in report["policyEvents"])
    errors = [g for g in report["gateDiagnostics"] if g["kind"] == INPUT_TYPE]
    assert {(g["file"], g["line"], g["level"]) for g in errors} == {
        ("tests/gate/fixtures/programs/input_types/__main__.py", line_of(MAIN, "BAD-BOOL"), ERROR),
        ("tests/gate/fixtures/programs/input_types/__main__.py", line_of(MAIN, "SecurityGroup("), ERROR)}
    assert all(g["modes"] == ["preview", "update"] for g in errors)
    assert (REPO_ROOT / errors[0]["file"]).is_file()
