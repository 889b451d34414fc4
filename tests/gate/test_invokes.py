"""Data-source invokes: results shaped from the SDK's result types, fixtures, and what the gate reports."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gate.cli import main
from gate.errors import GateError
from gate.invokes import InvokeFixtures
from gate.model import INVOKE, NOTE, WARNING
from gate.render import UNKNOWN, render

from .conftest import FIXTURES, REPO_ROOT, line_of

PROGRAM = FIXTURES / "programs" / "lookups"
MAIN = PROGRAM / "__main__.py"
FUNCTION = "aws:lambda/function:Function"


def _function(result):
    (fn,) = [r for r in result.resources if r.type == FUNCTION]
    return fn


@pytest.fixture(scope="module")
def preview():
    result = render(PROGRAM, "dev")
    assert result.ok, result.errors
    return result


def test_lookups_give_a_lambda_the_subnets_and_group_of_the_existing_vpc(preview):
    vpc_config = _function(preview).inputs["vpcConfig"]
    subnets, groups = vpc_config["subnetIds"], vpc_config["securityGroupIds"]
    assert len(subnets) == 2 and len(set(subnets)) == 2 and all(s.startswith("subnet-0") for s in subnets)
    assert len(groups) == 1 and groups[0].startswith("sg-0")
    # Arguments that are also attributes come back as given; ARNs are in EC2's own format.
    assert preview.outputs["vpc_arn"] == "arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-0f00d5e1c0ffee000"
    assert preview.outputs["vpc_cidr"].endswith("/16")


def test_each_invented_answer_is_reported_once_at_its_call_site(preview):
    by_line = {(n.location.line if n.location else 0): n for n in preview.notices if n.kind == INVOKE}
    expected = {line_of(MAIN, marker): token for marker, token in (
        ("LOOKUP-VPC", "aws:ec2/getVpc:getVpc"), ("LOOKUP-SUBNETS", "aws:ec2/getSubnets:getSubnets"),
        ("LOOKUP-SG", "aws:ec2/getSecurityGroup:getSecurityGroup"),
        ("LOOKUP-UNKNOWN", "acme:index/getThing:getThing"))}
    # The output-form lookup of the VPC being created never reaches the provider in a preview.
    assert {line: n.subject for line, n in by_line.items()} == expected
    assert all(Path(n.location.path) == MAIN for n in by_line.values() if n.location)
    assert by_line[line_of(MAIN, "LOOKUP-VPC")].level == NOTE
    assert "GetVpcResult" in by_line[line_of(MAIN, "LOOKUP-VPC")].message
    unknown = by_line[line_of(MAIN, "LOOKUP-UNKNOWN")]
    assert unknown.level == WARNING and "empty result" in unknown.message
    assert len([n for n in preview.notices if n.kind == INVOKE]) == len(by_line)  # once each


def test_an_invoke_depending_on_a_resource_being_created_is_unknown_in_preview_only(preview):
    assert preview.outputs["created_subnet_ids"] == UNKNOWN
    update = render(PROGRAM, "dev", preview=False)
    assert update.ok, update.errors
    ids = update.outputs["created_subnet_ids"]
    assert len(ids) == 2 and all(i.startswith("subnet-") for i in ids)
    assert line_of(MAIN, "get_subnets_output(") in {n.location.line for n in update.notices if n.location}


def test_fixtures_give_the_values_a_policy_needs(tmp_path):
    fixtures = tmp_path / "invokes.yaml"
    fixtures.write_text(
        "aws:ec2/getSubnets:getSubnets:\n"
        "  - when: {tags: {Tier: private}}\n"
        "    result: {ids: [subnet-aaa, subnet-bbb, subnet-ccc]}\n"
        "aws:ec2/getVpc:getVpc:\n"
        "  cidr_block: 10.42.0.0/16\n"  # the SDK's attribute name works as well as the wire's
    )
    result = render(PROGRAM, "dev", invoke_fixtures=InvokeFixtures.load(fixtures))
    assert result.ok, result.errors
    assert _function(result).inputs["vpcConfig"]["subnetIds"] == ["subnet-aaa", "subnet-bbb", "subnet-ccc"]
    assert result.outputs["vpc_cidr"] == "10.42.0.0/16"
    reported = {n.subject for n in result.notices if n.kind == INVOKE}
    assert "aws:ec2/getVpc:getVpc" not in reported and "aws:ec2/getSubnets:getSubnets" not in reported
    # Another call without the `when` arguments gets no fixture: shaped, and reported.
    update = render(PROGRAM, "dev", preview=False, invoke_fixtures=InvokeFixtures.load(fixtures))
    assert update.outputs["created_subnet_ids"] != ["subnet-aaa", "subnet-bbb", "subnet-ccc"]
    assert [n.location.line if n.location else 0 for n in update.notices
            if n.subject == "aws:ec2/getSubnets:getSubnets"] == [
        line_of(MAIN, "get_subnets_output(")]


def test_a_fixture_field_the_result_type_lacks_is_an_error_with_a_suggestion(tmp_path):
    fixtures = tmp_path / "invokes.yaml"
    fixtures.write_text("aws:ec2/getVpc:getVpc:\n  cidr_blok: 10.0.0.0/16\n")
    with pytest.raises(GateError, match=r"GetVpcResult has no field 'cidr_blok'; did you mean 'cidr_block'\?"):
        InvokeFixtures.load(fixtures)


def test_the_platform_pack_does_not_block_a_lambda_placed_by_lookups(tmp_path):
    out = tmp_path / "gate.json"
    code = main(["--program", str(PROGRAM), "--policy-pack", str(REPO_ROOT / "policies"), "--format", "json",
                 "--output", str(out)])
    report = json.loads(out.read_text())
    assert code in (0, 1)  # the minimal program breaks other platform rules; this test is about one
    assert not [e for e in report["policyEvents"] if e["policyName"] == "lambda-in-vpc"]
    notes = {(g["subject"], g["line"], tuple(g["modes"])) for g in report["gateDiagnostics"] if g["kind"] == INVOKE}
    assert ("aws:ec2/getVpc:getVpc", line_of(MAIN, "LOOKUP-VPC"), ("preview", "update")) in notes
    assert all(g["file"] == "tests/gate/fixtures/programs/lookups/__main__.py"
               for g in report["gateDiagnostics"] if g["kind"] == INVOKE)


def test_a_fixture_can_answer_with_the_providers_failure(tmp_path):
    program = tmp_path / "detector"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: detector\nruntime: python\n")
    (program / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    (program / "__main__.py").write_text(
        "import pulumi\nimport pulumi_aws as aws\n\n"
        "try:\n    found = aws.guardduty.get_detector().id\n"
        "except Exception as exc:  # the provider's answer when no detector exists\n    found = str(exc)\n"
        "pulumi.export('detector', found)\n")
    fixtures = tmp_path / "invokes.yaml"
    fixtures.write_text("aws:guardduty/getDetector:getDetector:\n  error: 'reading the Detector: empty result'\n")
    result = render(program, "dev", invoke_fixtures=InvokeFixtures.load(fixtures))
    assert result.ok, result.errors  # caught by the program, as a real failed lookup is
    assert result.outputs["detector"] == ("invoke of aws:guardduty/getDetector:getDetector failed: invocation of "
                                          "aws:guardduty/getDetector:getDetector returned an error: reading the "
                                          "Detector: empty result")
    assert not result.notices


def test_the_programs_own_fixtures_file_is_used_by_default(tmp_path):
    program = tmp_path / "lookups"
    shutil.copytree(PROGRAM, program)
    (program / ".gate").mkdir()
    (program / ".gate" / "invokes.yaml").write_text(
        "aws:ec2/getSubnets:getSubnets:\n  - when: {tags: {Tier: private}}\n    result: {ids: [subnet-1, subnet-2]}\n")
    out = tmp_path / "gate.json"
    main(["--program", str(program), "--policy-pack", str(FIXTURES / "packs" / "basic"), "--mode", "preview",
          "--format", "json", "--output", str(out)])
    reported = {g["subject"] for g in json.loads(out.read_text())["gateDiagnostics"]}
    assert "aws:ec2/getSubnets:getSubnets" not in reported and "aws:ec2/getVpc:getVpc" in reported


def test_finding_a_result_type_leaves_the_sdks_functions_callable():
    # A generated package binds a function and its module to the same name: importing the module by name
    # would replace the function on the package. Checked in a fresh interpreter, where nothing is loaded yet.
    code = ("from gate.invokes import result_type_for\n"
            "assert result_type_for('aws:ssm/getParametersByPath:getParametersByPath').__name__ == "
            "'GetParametersByPathResult'\n"
            "import pulumi_aws as aws\nassert callable(aws.ssm.get_parameters_by_path)\n")
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True)
