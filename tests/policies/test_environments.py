"""The environment rule: dev may be cheaper and less durable, never more exposed.

Only resilience policies relax per stack; exposure policies are mandatory in every stack, including a stack
with no pack config; the pack defaults are the program's secure defaults, so a new stack file passes as it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import EnforcementLevel

from gate.cli import main as gate_main
from policies import _tokens as T
from policies.environments import stack_config_problems
from policies.registry import POLICIES
from tests.harness import ROOT

from .harness import Pack, Res, of

CONFIG_DIR = ROOT / "policies" / "config"
CONFIG_FILES = sorted(CONFIG_DIR.glob("*.json"))


def _config(path: Path) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(path.read_text())
    return config


def test_every_policy_has_a_category_and_exposure_policies_are_mandatory_by_default() -> None:
    assert {p.category for p in POLICIES} == {"exposure", "resilience", "operations"}
    advisory_exposure = [p.name for p in POLICIES
                         if p.category == "exposure" and p.default_level != EnforcementLevel.MANDATORY]
    assert advisory_exposure == []
    assert [p.name for p in POLICIES if p.relaxable] == [p.name for p in POLICIES if p.category == "resilience"]


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.name)
def test_stack_config_relaxes_only_resilience_policies(path: Path) -> None:
    assert stack_config_problems(_config(path), path.name) == []


def test_the_rule_names_each_way_a_config_can_break_it() -> None:
    problems = stack_config_problems({
        "apigateway-domain-tls-policy": "advisory",                      # exposure lowered
        "nacl-no-public-ingress": {"allowedPortRanges": ["0-65535"]},    # exposure setting per stack
        "vpc-flow-logs": "disabled",                                     # operations lowered
        "required-tags": {"enforcementLevel": "mandatory", "requiredTags": []},  # operations setting
        "rds-multi-az": "disabled",                                      # resilience: allowed
        "log-group-retention": {"enforcementLevel": "advisory", "minRetentionDays": 1},  # allowed
        "rds-log-exports": "mandatory",                                  # operations raised: allowed
        "s3-bucket-ssl-only": "mandatory",                               # exposure kept: allowed
    }, "x.json")
    assert len(problems) == 4, problems
    joined = "\n".join(problems)
    assert "'apigateway-domain-tls-policy' is a exposure policy and may not be lowered from mandatory to advisory" \
        in joined
    assert "'nacl-no-public-ingress'" in joined and "allowedPortRanges" in joined
    assert "'vpc-flow-logs' is a operations policy and may not be lowered from advisory to disabled" in joined
    assert "'required-tags'" in joined and "requiredTags" in joined
    assert all(p.startswith("x.json: ") for p in problems)


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.name)
def test_insecure_tls_domain_and_public_acl_block_in_every_stack(path: Path) -> None:
    pack = Pack(_config(path))
    tls = of(pack.analyze(T.API_DOMAIN, {"domainName": "api.example.com", "securityPolicy": "TLS_1_0"}),
             "apigateway-domain-tls-policy")
    assert [d.level for d in tls] == ["mandatory"]
    acl = of(pack.analyze_stack([
        Res(T.S3_BUCKET, "bucket", {"bucket": "b"}),
        Res(T.S3_ACL[1], "acl", {"bucket": "b", "acl": "public-read"}),
    ]), "s3-bucket-owner-enforced")
    assert acl and {d.level for d in acl} == {"mandatory"}


@pytest.fixture(scope="module")
def new_stack_program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The platform program with one more stack file, `Pulumi.staging.yaml`, holding only the region (as the
    README's "Adding an environment" says) and no `policies/config/staging.json`."""
    program = tmp_path_factory.mktemp("new-stack")
    for entry in ("__main__.py", "Pulumi.yaml", "components", "functions", ".gate"):  # .gate: the gate's fixtures
        (program / entry).symlink_to(ROOT / entry)
    (program / "Pulumi.staging.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    assert not (CONFIG_DIR / "staging.json").exists()
    return program


@pytest.mark.parametrize("mode", [[], ["--update"]], ids=["preview", "update"])
def test_a_new_stack_without_pack_config_passes_the_gate(new_stack_program: Path, tmp_path: Path,
                                                         mode: list[str]) -> None:
    out = tmp_path / "gate.json"
    code = gate_main(["--program", str(new_stack_program), "--policy-pack", str(ROOT / "policies"),
                      "--format", "json", "--output", str(out), *mode])
    body = json.loads(out.read_text())
    mandatory = [e["message"] for e in body["policyEvents"] if e["enforcementLevel"] == "mandatory"]
    assert (code, mandatory) == (0, [])
    assert [s["stack"] for s in body["stacks"]] == ["staging"]
    # The whole platform rendered, its world-facing NACL rules included (the pass is not an empty stack).
    assert body["stacks"][0]["resourceCount"] > 300
    assert T.NETWORK_ACL_RULE in body["stacks"][0]["resourceTypes"]
