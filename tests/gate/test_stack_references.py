"""pulumi.StackReference in both modes: outputs from a fixtures file, unknown otherwise, never a crash."""

import json

import pytest

from gate.cli import main
from gate.errors import GateError
from gate.model import STACK_REFERENCE, WARNING
from gate.render import SECRET_SIG, SIG_KEY, UNKNOWN, render
from gate.stack_references import StackReferenceFixtures

from .conftest import FIXTURES, line_of

PROGRAM = FIXTURES / "programs" / "stackref"
MAIN = PROGRAM / "__main__.py"


@pytest.fixture
def fixtures(tmp_path):
    path = tmp_path / "stacks.yaml"
    path.write_text(
        "acme/network/prod:\n"
        "  outputs:\n"
        "    vpcId: vpc-0123456789abcdef0\n"
        "    privateSubnetIds: [subnet-0aaa, subnet-0bbb]\n"
        "    dbPassword: hunter2-but-longer\n"
        "  secretOutputNames: [dbPassword]\n")
    return StackReferenceFixtures.load(path)


@pytest.mark.parametrize("preview", [True, False], ids=["preview", "update"])
def test_without_fixtures_every_output_is_unknown_and_reported_at_the_reference(preview):
    result = render(PROGRAM, "dev", preview=preview)
    assert result.ok, result.errors  # require_output and get_output of an unknown stack do not crash
    assert result.outputs["vpc_id"] == UNKNOWN and result.outputs["subnet_ids"] == UNKNOWN
    (group,) = result.of_type("aws:ec2/securityGroup:SecurityGroup")
    assert group.inputs["vpcId"] == UNKNOWN
    (notice,) = [n for n in result.notices if n.kind == STACK_REFERENCE]
    assert notice.level == WARNING and notice.subject == "acme/network/prod"
    assert notice.location is not None and notice.location.line == line_of(MAIN, "STACK-REFERENCE")


@pytest.mark.parametrize("preview", [True, False], ids=["preview", "update"])
def test_fixtures_give_the_outputs_in_both_modes_and_keep_secrets_secret(fixtures, preview):
    result = render(PROGRAM, "dev", preview=preview, stack_references=fixtures)
    assert result.ok, result.errors
    (group,) = result.of_type("aws:ec2/securityGroup:SecurityGroup")
    assert group.inputs["vpcId"] == "vpc-0123456789abcdef0"
    assert result.outputs["subnet_ids"] == ["subnet-0aaa", "subnet-0bbb"]
    assert not [n for n in result.notices if n.kind == STACK_REFERENCE]
    (parameter,) = result.of_type("aws:ssm/parameter:Parameter")
    assert parameter.wire_inputs["value"] == {SIG_KEY: SECRET_SIG, "value": "hunter2-but-longer"}


def test_a_malformed_fixtures_file_is_an_error_naming_the_stack(tmp_path):
    path = tmp_path / "stacks.yaml"
    path.write_text("acme/network/prod:\n  outputs: {a: 1}\n  secretOutputNames: [b]\n")
    with pytest.raises(GateError, match=r"acme/network/prod: secretOutputNames \['b'\] are not among its outputs"):
        StackReferenceFixtures.load(path)


def test_the_gate_runs_both_modes_of_a_stack_reference_program(tmp_path):
    out = tmp_path / "gate.json"
    code = main(["--program", str(PROGRAM), "--policy-pack", str(FIXTURES / "packs" / "basic"),
                 "--format", "json", "--output", str(out)])
    report = json.loads(out.read_text())
    assert code == 0, report
    (diagnostic,) = report["gateDiagnostics"]
    assert diagnostic["kind"] == STACK_REFERENCE and diagnostic["modes"] == ["preview", "update"]
    assert diagnostic["file"].endswith("stackref/__main__.py") and diagnostic["line"] == line_of(MAIN, "STACK-REF")
