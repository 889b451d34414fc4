"""`python -m gate` end to end: real pack processes over gRPC, exit codes, formats, secrets."""

import html
import json
import os
from pathlib import Path

import jsonschema
import pytest

from gate.cli import main
from gate.project import SECRET_PLACEHOLDER

from .browser import markdown_to_html
from .conftest import FIXTURES, REPO_ROOT, line_of

SARIF_SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "sarif-schema-2.1.0.json"  # OASIS SARIF 2.1.0


def run_gate(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def gate_args(program: Path, pack: Path, *extra: str) -> list[str]:
    return ["--program", str(program), "--policy-pack", str(pack), *extra]


def _children_running_packs() -> list[str]:
    """Processes whose parent is this test process and that run a policy pack (orphan check)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == os.getpid() and "pulumi.policy" in cmdline and fields[0] != "Z":
            found.append(cmdline)
    return found


def test_planted_violation_fails_naming_the_policy_and_declaration(capsys, insecure_program, basic_pack):
    code, out, err = run_gate(capsys, *gate_args(insecure_program, basic_pack, "--stack", "dev"))
    assert code == 1
    line = line_of(insecure_program / "__main__.py", "PLANTED")
    where = f"tests/gate/fixtures/programs/insecure/__main__.py:{line}"
    blocking = out.split("BLOCKING", 1)[1].split("ADVISORY", 1)[0]
    assert "sqs-queue-encrypted · high" in blocking
    assert f"- aws:sqs/queue:Queue plain  {where}" in blocking
    assert "rendered 8 resources" in err and "analyzed by 1 pack(s)" in err
    # The queue, and the alias the update decides (it targets a key id, not an ARN: see below).
    assert out.startswith("gate: FAILED - 2 blocking")
    assert _children_running_packs() == []


def test_all_stacks_by_default_and_json_mirrors_policy_events(capsys, insecure_program, basic_pack):
    code, out, _ = run_gate(capsys, *gate_args(insecure_program, basic_pack, "--format", "json"))
    assert code == 1
    doc = json.loads(out)
    assert [s["stack"] for s in doc["stacks"]] == ["dev", "prod"]
    events = doc["policyEvents"]
    mandatory = {(e["stack"], e["policyName"], e["resourceName"]) for e in events
                 if e["enforcementLevel"] == "mandatory" and e["category"] == "violation"}
    # ssm-parameter-secure is advisory in dev (policies/config/dev.json of the pack) and mandatory in prod;
    # the alias targets key.id, unknown in a preview and, once known at update, not an ARN.
    assert mandatory == {("dev", "sqs-queue-encrypted", "plain"), ("prod", "sqs-queue-encrypted", "plain"),
                         ("prod", "ssm-parameter-secure", "token"), ("dev", "kms-alias-target-known", "data"),
                         ("prod", "kms-alias-target-known", "data")}
    event = next(e for e in events if e["resourceName"] == "plain")
    assert event["modes"] == ["preview", "update"]  # both modes ran by default, one report, each finding once
    assert len([e for e in events if e["resourceName"] == "plain"]) == 2  # once per stack
    assert event["policyPackName"] == "gate-fixture-pack" and event["policyPackVersion"] == "1.2.3"
    assert event["resourceUrn"] == "urn:pulumi:dev::gate-fixture::aws:sqs/queue:Queue::plain"
    assert event["severity"] == "high"
    # The stack policy saw every resource: the rotating key exists, so it reported nothing.
    assert not any(e["policyName"] == "stack-has-rotating-key" for e in events)


def test_unknown_values_are_their_own_category_and_strict_fails_on_them(capsys, insecure_program,
                                                                           basic_pack, tmp_path):
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"sqs-queue-encrypted": "disabled", "ssm-parameter-secure": "advisory"}))
    base = gate_args(insecure_program, basic_pack, "--stack", "dev", "--policy-pack-config", str(config),
                     "--format", "json", "--mode", "preview")
    code, out, _ = run_gate(capsys, *base)
    assert code == 0
    unknown = [e for e in json.loads(out)["policyEvents"] if e["category"] == "preview-unknown"]
    assert [(e["policyName"], e["resourceName"]) for e in unknown] == [("kms-alias-target-known", "data")]
    assert unknown[0]["message"].startswith("can't run policy 'kms-alias-target-known'")
    assert unknown[0]["line"] == line_of(insecure_program / "__main__.py", "aws.kms.Alias(")
    strict_code, _, err = run_gate(capsys, *base, "--strict")
    assert strict_code == 1 and "--strict" in err


def test_a_finding_only_an_update_decides_says_so(capsys, insecure_program, basic_pack, tmp_path):
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"sqs-queue-encrypted": "disabled", "ssm-parameter-secure": "advisory"}))
    base = gate_args(insecure_program, basic_pack, "--stack", "dev", "--policy-pack-config", str(config))
    code, out, _ = run_gate(capsys, *base, "--format", "json")
    assert code == 1  # decided at update: the alias targets a key id, not an ARN
    events = json.loads(out)["policyEvents"]
    alias = [(e["category"], e["modes"]) for e in events if e["policyName"] == "kms-alias-target-known"]
    assert alias == [("preview-unknown", ["preview"]), ("violation", ["update"])]
    _, text, _ = run_gate(capsys, *base)
    line = line_of(insecure_program / "__main__.py", "aws.kms.Alias(")
    blocking = text.split("BLOCKING", 1)[1].split("UNDECIDED", 1)[0]
    assert f"- aws:kms/alias:Alias data  tests/gate/fixtures/programs/insecure/__main__.py:{line} (update only)" \
        in blocking
    _, markdown, _ = run_gate(capsys, *base, "--format", "markdown")
    assert "**data** `aws:kms/alias:Alias`" in markdown and " · update only<br>" in markdown
    preview_only, _, _ = run_gate(capsys, *base, "--mode", "preview")
    assert preview_only == 0


def test_secrets_never_appear_in_any_format(capsys, insecure_program, basic_pack):
    outputs = []
    for fmt in ("text", "json", "sarif", "markdown"):
        code, out, err = run_gate(capsys, *gate_args(insecure_program, basic_pack, "--stack", "dev",
                                                     "--format", fmt))
        assert code == 1
        outputs.append(out + err)
    for fmt, text in zip(("text", "json", "sarif", "markdown"), outputs, strict=True):
        assert "FIXTURECIPHERTEXT" not in text
        assert SECRET_PLACEHOLDER not in text
        # The ssm policy echoes the value it saw; the report shows that it was redacted (Markdown as
        # GitHub shows it: the brackets are escaped in the source).
        shown = html.unescape(markdown_to_html(text)) if fmt == "markdown" else text
        assert "stores '[secret]' as plain text" in shown


def test_sarif_validates_and_locates_results(capsys, insecure_program, basic_pack, tmp_path):
    target = tmp_path / "gate-dev.sarif"
    code, _, _ = run_gate(capsys, *gate_args(insecure_program, basic_pack, "--stack", "dev",
                                             "--format", "sarif", "--output", str(target)))
    assert code == 1
    sarif = json.loads(target.read_text())
    jsonschema.validate(sarif, json.loads(SARIF_SCHEMA.read_text()))
    run = sarif["runs"][0]
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} == {
        "sqs-queue-encrypted", "kms-alias-target-known", "ssm-parameter-secure", "stack-has-rotating-key"}
    rule = next(r for r in run["tool"]["driver"]["rules"] if r["id"] == "sqs-queue-encrypted")
    assert rule["help"]["text"] == "Set kms_master_key_id on the queue." and rule["properties"]["security-severity"]
    error = next(r for r in run["results"] if r["level"] == "error")
    assert error["ruleId"] == "sqs-queue-encrypted"
    location = error["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "tests/gate/fixtures/programs/insecure/__main__.py"
    assert location["region"]["startLine"] == line_of(insecure_program / "__main__.py", "PLANTED")
    assert (REPO_ROOT / location["artifactLocation"]["uri"]).is_file()


def test_sarif_with_the_gates_own_diagnostics_validates(capsys, basic_pack, tmp_path):
    target = tmp_path / "lookups.sarif"
    code, _, _ = run_gate(capsys, *gate_args(FIXTURES / "programs" / "lookups", basic_pack, "--format", "sarif",
                                             "--output", str(target)))
    assert code == 0
    sarif = json.loads(target.read_text())
    jsonschema.validate(sarif, json.loads(SARIF_SCHEMA.read_text()))
    (engine_run,) = [r for r in sarif["runs"] if r["tool"]["driver"]["name"] == "pulumi-policy-gate"]
    main_py = FIXTURES / "programs" / "lookups" / "__main__.py"
    located = {(r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"])
               for r in engine_run["results"]}
    assert ("gate/invoke", line_of(main_py, "LOOKUP-VPC")) in located


def test_program_that_raises_exits_2(capsys, basic_pack):
    code, out, err = run_gate(capsys, *gate_args(FIXTURES / "programs" / "raises", basic_pack))
    assert code == 2 and out == ""
    assert "the program failed" in err and "ValueError at __main__.py:4" in err
    assert _children_running_packs() == []


def test_pack_that_crashes_on_start_exits_2(capsys, insecure_program):
    code, out, err = run_gate(capsys, *gate_args(insecure_program, FIXTURES / "packs" / "crash", "--stack", "dev"))
    assert code == 2 and out == ""
    assert "policy pack crash" in err and "before serving" in err
    assert "crash-pack: cannot build the policy registry" in err  # the pack's own traceback
    assert _children_running_packs() == []


@pytest.mark.parametrize(("config", "expected"), [
    ({"sqs-queue-encrypted": {"allowSqsManagedSse": "yes"}},
     "invalid config for policy 'sqs-queue-encrypted' of pack gate-fixture-pack@1.2.3: "
     "allowSqsManagedSse: 'yes' is not of type 'boolean'"),
    ({"sqs-queue-encryptd": "advisory"}, "unknown policy 'sqs-queue-encryptd'"),
    ({"all": "fatal"}, "'all' has invalid enforcement level 'fatal'"),
])
def test_invalid_pack_config_exits_2(capsys, insecure_program, basic_pack, tmp_path, config, expected):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(config))
    code, out, err = run_gate(capsys, *gate_args(insecure_program, basic_pack, "--stack", "dev",
                                                 "--policy-pack-config", str(path)))
    assert code == 2 and out == ""
    assert expected in err and str(path) in err


def test_missing_stack_file_exits_2(capsys, insecure_program, basic_pack):
    code, _, err = run_gate(capsys, *gate_args(insecure_program, basic_pack, "--stack", "staging"))
    assert code == 2 and "no Pulumi.staging.yaml" in err
