"""Reports as a reader meets them: the verdict first, blocking findings with their fix, one finding per
resource however many stacks have it, a PR comment that fits a PR's width, a diagram that renders."""

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema

from gate import report_json, report_markdown, report_sarif, report_text
from gate.cli import main
from gate.model import Component, Diagnostic, GateReport, PackMeta, PolicyMeta, StackReport, WaiverRecord

from . import browser
from .conftest import REPO_ROOT

SARIF_SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "sarif-schema-2.1.0.json"
PACK_DIR = REPO_ROOT / "policies"  # has a RULES.md beside it at the repo root
# No hyphen or space: nothing a browser may break a line at, as in ARNs and URNs.
LONG_NAME = "platform_backend_reconcile_dead_letter_queue_redrive_allow_policy_with_a_very_long_logical_name"


def _diag(stack: str, policy: str, level: str, name: str, *, severity: str = "high", message: str = "",
          category: str = "violation", file: str = "components/backend.py", line: int = 42,
          rtype: str = "aws:sqs/queue:Queue", description: str = "") -> Diagnostic:
    description = description or f"The {policy} rule."
    urn = f"urn:pulumi:{stack}::proj::platform:backend:Backend${rtype}::{name}" if name else ""
    return Diagnostic(stack=stack, policy_pack_name="secure-api-platform", policy_pack_version="1.0.0",
                      policy_name=policy, description=description,
                      message=f"{description}\n{message or f'The {name} breaks {policy}.'}",
                      enforcement_level=level, severity=severity, category=category, resource_urn=urn,
                      resource_type=rtype if name else "", resource_name=name, file=file if name else "",
                      line=line if name else 0)


def _components(stack: str) -> list[Component]:
    root = f"urn:pulumi:{stack}::proj::pulumi:pulumi:Stack::proj-{stack}"
    backend = f"urn:pulumi:{stack}::proj::platform:backend:Backend::backend"
    return [Component(urn=root, type="pulumi:pulumi:Stack", name=f"proj-{stack}"),
            Component(urn=backend, type="platform:backend:Backend", name="backend", parent=root),
            Component(urn=f"urn:pulumi:{stack}::proj::platform:network:Network::network",
                      type="platform:network:Network", name="network", parent=root)]


def _stack(stack: str, diagnostics: list[Diagnostic]) -> StackReport:
    owner = {d.resource_urn: f"urn:pulumi:{stack}::proj::platform:backend:Backend::backend"
             for d in diagnostics if d.resource_urn}
    return StackReport(stack=stack, project="proj", resource_count=10,
                       resource_types={"aws:sqs/queue:Queue": 4, "aws:iam/role:Role": 6},
                       render_seconds=0.5, analyze_seconds=0.25, diagnostics=diagnostics, policies_run=3,
                       components=_components(stack), owner=owner)


def _report(stacks: list[StackReport], strict: bool = False) -> GateReport:
    policies = (
        PolicyMeta(name="sqs-encrypted", description="The sqs-encrypted rule.", enforcement_level="mandatory",
                   severity="high", remediation_steps="Set `kms_master_key_id` on the queue."),
        PolicyMeta(name="iam-no-wildcard-actions", description="The iam-no-wildcard-actions rule.",
                   enforcement_level="mandatory", severity="critical", remediation_steps="Name the actions."),
        PolicyMeta(name="sqs-dead-letter-queue", description="The sqs-dead-letter-queue rule.",
                   enforcement_level="advisory", severity="medium", remediation_steps="Add a DLQ."),
    )
    pack = PackMeta(name="secure-api-platform", version="1.0.0", directory=str(PACK_DIR), policies=policies)
    return GateReport(stacks=stacks, packs=[pack], strict=strict, repo_root=str(REPO_ROOT))


def _two_stack_report() -> GateReport:
    dev = [_diag("dev", "sqs-dead-letter-queue", "advisory", "orders", severity="medium"),
           _diag("dev", "sqs-encrypted", "mandatory", "orders"),
           _diag("dev", "iam-no-wildcard-actions", "mandatory", "worker-role", severity="critical",
                 rtype="aws:iam/role:Role", line=7)]
    prod = [_diag("prod", "sqs-encrypted", "mandatory", "orders"),
            _diag("prod", "sqs-dead-letter-queue", "mandatory", "orders", severity="medium")]
    return _report([_stack("dev", dev), _stack("prod", prod)])


# --- text ---------------------------------------------------------------------------------------------
def test_text_starts_with_the_verdict_then_blocking_findings_with_their_fix_and_rule():
    out = report_text.to_text(_two_stack_report())
    lines = out.splitlines()
    # Merged across stacks: sqs-encrypted/orders is one finding; the DLQ finding blocks in prod only.
    assert lines[0] == ("gate: FAILED - 3 blocking, 1 advisory, 0 waived - 2 stacks (dev, prod), 20 resources, "
                        "3 policies run")
    assert out.count("gate: FAILED") == 1
    blocking, advisory = out.split("BLOCKING", 1)[1].split("ADVISORY", 1)
    # Most severe first; each policy once, with its description, its findings, the fix and the rule.
    assert blocking.index("iam-no-wildcard-actions · critical") < blocking.index("sqs-encrypted · high")
    assert "- aws:sqs/queue:Queue orders  components/backend.py:42  [dev, prod]" in blocking
    assert "fix:  Set `kms_master_key_id` on the queue." in blocking
    assert "rule: RULES.md#sqs-encrypted" not in blocking  # RULES.md has no entry of that name: no dead link
    assert "sqs-dead-letter-queue · medium" in blocking and "[prod]" in blocking
    assert "- aws:sqs/queue:Queue orders  components/backend.py:42  [dev]" in advisory
    assert "aws:iam/role:Role" not in advisory
    assert "secure-api-platform" not in out  # one pack: no pack prefix anywhere
    assert "resources (rendered" not in out  # resource counts only with --verbose


def test_text_links_the_rules_entry_when_the_pack_documents_the_policy():
    report = _report([_stack("dev", [_diag("dev", "iam-no-wildcard-actions", "mandatory", "r")])])
    assert "rule: RULES.md#iam-no-wildcard-actions" in report_text.to_text(report)
    assert "### iam-no-wildcard-actions" in (REPO_ROOT / "RULES.md").read_text()


def test_text_verbose_adds_the_resource_counts_per_stack():
    out = report_text.to_text(_two_stack_report(), verbose=True)
    assert "Stack dev (proj): 10 resources, 3 policies run" in out
    assert "       6  aws:iam/role:Role" in out


def test_text_without_findings_says_so_once():
    out = report_text.to_text(_report([_stack("dev", [])]))
    assert out == ("gate: passed - 0 blocking, 0 advisory, 0 waived - 1 stack (dev), 10 resources, 3 policies run\n"
                   "\nNo findings.\n")


# --- markdown -------------------------------------------------------------------------------------------
CI_ENV = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/platform",
          "GITHUB_SHA": "1" * 40}


def test_markdown_groups_per_policy_in_details_and_shows_a_finding_once_with_its_stacks():
    md = report_markdown.to_markdown(_two_stack_report(), environ={})
    assert md.startswith("### ❌ Policy gate failed: 3 blocking findings\n")
    assert not re.search(r"^\|.*\|$", md, re.M)  # no table at all, so no message in a table cell
    assert md.count("<summary><b>sqs-encrypted</b> · high · 1 finding</summary>") == 1
    assert md.count("**orders** `aws:sqs/queue:Queue` · `components/backend.py:42` · stacks `dev`, `prod`") == 1
    assert "<details open>\n<summary><b>iam-no-wildcard-actions</b>" in md  # blocking: open
    assert "<details>\n<summary><b>sqs-dead-letter-queue</b>" in md  # advisory: collapsed
    assert "**Fix:** Set `kms_master_key_id` on the queue." in md
    assert "secure-api-platform" not in md  # no pack prefix


def test_markdown_links_declarations_and_rules_to_the_commit_under_review(tmp_path):
    md = report_markdown.to_markdown(_report([_stack("dev", [_diag("dev", "iam-no-wildcard-actions",
                                                                        "mandatory", "r", line=7)])]),
                                     environ=CI_ENV)
    base = "https://github.com/acme/platform/blob/" + "1" * 40
    assert f"[`components/backend.py:7`]({base}/components/backend.py#L7)" in md
    assert f"[Rule]({base}/RULES.md#iam-no-wildcard-actions)" in md
    # On pull_request events GITHUB_SHA is a merge commit; the PR's head is what the reviewer reads.
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"head": {"sha": "2" * 40}}}))
    md = report_markdown.to_markdown(_report([_stack("dev", [_diag("dev", "sqs-encrypted", "mandatory", "q")])]),
                                     environ={**CI_ENV, "GITHUB_EVENT_PATH": str(event)})
    assert "https://github.com/acme/platform/blob/" + "2" * 40 + "/components/backend.py#L42" in md
    # Outside CI: the path, unlinked.
    assert report_markdown.code_links({}) is None


def test_markdown_diagram_has_one_node_per_component_with_counts_per_stack():
    md = report_markdown.to_markdown(_two_stack_report(), environ={})
    chart = md.split("```mermaid\n", 1)[1].split("```", 1)[0]
    nodes = re.findall(r'^  (n\d+)\["(.*?)"\](:::\w+)?$', chart, re.M)
    assert [label.split("<br/>")[0] for _, label, _ in nodes] == ["stack", "backend", "network"]
    assert md.count("```mermaid") == 1  # dev and prod share the tree: one diagram
    backend = nodes[1]
    assert backend[1] == ("backend<br/><i>Backend</i><br/>dev: 2 blocking · 1 advisory<br/>"
                          "prod: 2 blocking") and backend[2] == ":::blocking"
    assert nodes[2][1] == "network<br/><i>Network</i>" and not nodes[2][2]
    assert "  n0 --> n1" in chart and "  n0 --> n2" in chart


def test_markdown_escapes_policy_text():
    d = _diag("dev", "sqs-encrypted", "mandatory", "q", message="Use <b>[this](http://x)</b> | not *that*")
    md = report_markdown.to_markdown(_report([_stack("dev", [d])]), environ={})
    html = browser.markdown_to_html(md)
    # Shown as written: no HTML element, no Markdown link, no emphasis (a bare URL is autolinked, as
    # GitHub does anywhere).
    assert "&lt;b&gt;[this](" in html and "| not *that*" in html
    assert "<b>[" not in html and ">this</a>" not in html and "<em>" not in html


def test_markdown_fits_a_pr_comment_and_its_diagram_renders_in_a_browser():
    wide = [_diag("dev", "sqs-encrypted", "mandatory", LONG_NAME, file="components/" + "nested/" * 8 + "x.py",
                  message="The queue arn:aws:sqs:eu-west-1:123456789012:" + LONG_NAME + " has policy "
                          + json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*"}]}) + ". " * 3),
            _diag("dev", "sqs-dead-letter-queue", "advisory", "orders", severity="medium")]
    report = _report([_stack("dev", wide), _stack("prod", [_diag("prod", "sqs-encrypted", "mandatory", "o")])])
    measured = browser.render(report_markdown.to_markdown(report, environ=CI_ENV))
    assert measured["errors"] == []
    assert measured["overflow"] == [], measured["overflow"]
    assert measured["pageScrollWidth"] <= browser.PR_COMMENT_WIDTH
    # Each distinct tree is one diagram (dev and prod differ in counts but share one chart), drawn as
    # SVG with its labels, and not shrunk past legibility to fit.
    [diagram] = measured["diagrams"]
    assert any("dev: 1 blocking · 1 advisory" in label for label in diagram["labels"]), diagram
    assert diagram["rendered"] >= 0.6 * diagram["natural"]


def test_browser_check_detects_a_wide_table():
    """The measurement itself can fail: the old report's wide table overflows at PR width."""
    row = "| " + " | ".join(["`" + LONG_NAME + "`"] * 4) + " |"
    measured = browser.render("| a | b | c | d |\n|---|---|---|---|\n" + row + "\n")
    assert measured["overflow"], measured


# --- json / sarif ---------------------------------------------------------------------------------------
def test_json_carries_the_verdict_outcomes_and_fixes():
    doc = json.loads(report_json.to_json(_two_stack_report()))
    assert doc["summary"] == {"stacks": ["dev", "prod"], "resources": 20, "policiesRun": 3, "blocking": 3,
                              "advisory": 1, "undecided": 0, "waived": 0, "disabled": 0}
    event = next(e for e in doc["policyEvents"] if e["policyName"] == "iam-no-wildcard-actions")
    assert event["outcome"] == "blocking" and event["remediation"] == "Name the actions."
    assert event["rule"] == "RULES.md#iam-no-wildcard-actions"
    assert [c["name"] for c in doc["stacks"][0]["components"]] == ["proj-dev", "backend", "network"]


def test_sarif_stays_schema_valid():
    sarif = json.loads(report_sarif.to_sarif(_two_stack_report()))
    jsonschema.validate(sarif, json.loads(SARIF_SCHEMA.read_text()))
    assert len(sarif["runs"][0]["results"]) == 5


# --- CLI ------------------------------------------------------------------------------------------------
def test_help_describes_formats_exit_codes_and_examples(capsys):
    try:
        main(["--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    for expected in ("exit codes:", "  2  the gate could not decide", "examples:", "make preview",
                     ".venv/bin/python -m gate --stack prod", "--format {text,json,sarif,markdown}",
                     "markdown  for a pull-request comment"):
        assert expected in out


def test_unknown_stack_lists_the_stacks_that_exist(capsys, insecure_program, basic_pack):
    code = main(["--program", str(insecure_program), "--policy-pack", str(basic_pack), "--stack", "prd"])
    err = capsys.readouterr().err
    assert code == 2
    assert "no stack 'prd'" in err and "(stacks: dev, prod); did you mean 'prod'?" in err


def test_misspelled_policy_in_a_config_gets_a_suggestion_not_the_whole_list(capsys, insecure_program,
                                                                            tmp_path):
    config = tmp_path / "dev.json"
    config.write_text(json.dumps({"iam-no-wildcard-action": "mandatory"}))
    code = main(["--program", str(insecure_program), "--policy-pack", str(PACK_DIR), "--stack", "dev",
                 "--policy-pack-config", str(config)])
    err = capsys.readouterr().err
    assert code == 2
    error = next(line for line in err.splitlines() if line.startswith("gate: error:"))
    assert "unknown policy 'iam-no-wildcard-action'; did you mean 'iam-no-wildcard-actions'" in error
    assert len(error) < 400 and "apigateway-method-authorization" not in error


def test_text_report_on_stdout_has_the_summary_once(capsys, insecure_program, basic_pack):
    code = main(["--program", str(insecure_program), "--policy-pack", str(basic_pack), "--stack", "dev"])
    out, err = capsys.readouterr()
    assert code == 1
    assert (out + err).count("gate: FAILED - ") == 1


def test_python_without_the_dependencies_gets_a_one_line_hint():
    # -S: no site-packages, as with a system python that never had `make setup`'s packages.
    result = subprocess.run([sys.executable, "-S", "-m", "gate"], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert "lacks the dependency" in line and "make preview" in line and ".venv/bin/python -m gate" in line


def _waived_report() -> GateReport:
    record = WaiverRecord(stack="dev", pack="secure-api-platform", policy="sqs-encrypted", resource=LONG_NAME,
                          reason="Holds only public ids; " * 12, owner="queue-team", expires="2026-12-31",
                          ticket="https://tracker.example/SEC-42", status="active", days_left=213,
                          resources=(f"urn:pulumi:dev::proj::platform:backend:Backend$aws:sqs/queue:Queue::{LONG_NAME}",))
    waived = dataclasses.replace(_diag("dev", "sqs-encrypted", "mandatory", LONG_NAME), category="waived",
                                 waiver=record)
    unused = dataclasses.replace(record, resource="ghost", status="unused", resources=())
    stack = _stack("dev", [waived, _diag("dev", "sqs-dead-letter-queue", "advisory", "orders")])
    stack.waivers = [record, unused]
    return _report([stack])


def test_waivers_have_their_own_section_and_never_block():
    report = _waived_report()
    assert report.exit_code == 0
    text = report_text.to_text(report)
    assert text.splitlines()[0].startswith("gate: passed - 0 blocking, 1 advisory, 1 waived")
    assert "BLOCKING" not in text and text.count(LONG_NAME) == 2  # the waiver's resource, and what it waived
    assert "  sqs-encrypted · ghost · unused, 213 days left (expires 2026-12-31) · owner queue-team" in text
    md = report_markdown.to_markdown(report, environ=CI_ENV)
    assert "#### 🛂 Waivers (2)" in md and "🗑️ unused" in md and "[Ticket](https://tracker.example/SEC-42)" in md
    measured = browser.render(md)
    assert measured["errors"] == [] and measured["overflow"] == [], measured["overflow"]
