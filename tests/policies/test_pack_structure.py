"""Registry, metadata, config files, type tokens and the generated artefacts are consistent."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from pulumi_policy import EnforcementLevel, Severity

from policies import _tokens, registry, taggable
from policies._meta import PolicyConfigError, PolicyDef
from policies.rules_doc import render as render_rules

from .harness import Pack, of

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "policies"


def test_every_policy_defined_in_a_module_is_registered_once() -> None:
    import importlib
    import pkgutil

    defined = set()
    for info in pkgutil.iter_modules([str(PACK)]):
        if info.name.startswith("_") or info.name in ("registry", "rules_doc", "taggable"):
            continue
        module = importlib.import_module(f"policies.{info.name}")
        defined |= {v.name for v in vars(module).values() if isinstance(v, PolicyDef)}
    names = [p.name for p in registry.POLICIES]
    assert len(names) == len(set(names))
    assert defined == set(names)


@pytest.mark.parametrize("policy", registry.POLICIES, ids=lambda p: p.name)
def test_metadata_is_complete(policy: PolicyDef) -> None:
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", policy.name)
    assert policy.description.endswith(".") and policy.remediation
    assert policy.controls
    if policy.category == "exposure" or policy.guarantee or policy.severity in (Severity.CRITICAL, Severity.HIGH):
        assert policy.default_level == EnforcementLevel.MANDATORY
    else:
        assert policy.default_level == EnforcementLevel.ADVISORY


def test_type_tokens_exist_in_pulumi_aws() -> None:
    import pulumi_aws

    pattern = re.compile(r"super\(\w+, __self__\)\.__init__\(\s*'(aws:[^']+)'")
    real = {t for f in Path(pulumi_aws.__file__).parent.rglob("*.py") for t in pattern.findall(f.read_text())}
    tokens = [v for k, v in vars(_tokens).items() if k.isupper() and isinstance(v, str)]
    tokens += [t for k, v in vars(_tokens).items() if k.isupper() and isinstance(v, tuple) for t in v]
    assert len(tokens) > 80
    assert [t for t in tokens if t not in real] == []


def test_taggable_list_is_current() -> None:
    assert taggable.DATA_FILE.read_text() == taggable.render(taggable.scan())


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_config_matches_policy_schemas(stack: str) -> None:
    config = json.loads((PACK / "config" / f"{stack}.json").read_text())
    for name, value in config.items():
        policy = registry.BY_NAME[name]
        if isinstance(value, str):
            assert value in ("advisory", "mandatory", "disabled")
            continue
        declared = policy.schema()
        schema = {"type": "object", "properties": dict(declared.properties) if declared else {},
                  "additionalProperties": False}
        jsonschema.validate({k: v for k, v in value.items() if k != "enforcementLevel"}, schema)
        policy.settings(value)


def test_prod_is_stricter_than_dev() -> None:
    dev, prod = Pack(json.loads((PACK / "config" / "dev.json").read_text())), Pack(
        json.loads((PACK / "config" / "prod.json").read_text()))
    db = {"engine": "postgres", "storageEncrypted": True, "kmsKeyId": "k"}
    assert of(dev.analyze("aws:rds/instance:Instance", db), "stateful-resource-protection") == []
    assert of(prod.analyze("aws:rds/instance:Instance", db), "stateful-resource-protection")
    multi_az = of(prod.analyze("aws:rds/instance:Instance", db), "rds-multi-az")
    assert multi_az and multi_az[0].level == "mandatory"
    assert of(dev.analyze("aws:rds/instance:Instance", db), "rds-multi-az")[0].level == "advisory"


def test_bad_config_names_policy_and_setting() -> None:
    policy = registry.BY_NAME["log-group-retention"]
    with pytest.raises(PolicyConfigError, match="'log-group-retention' setting 'minRetentionDays' must be integer"):
        policy.settings({"minRetentionDays": "30"})
    with pytest.raises(PolicyConfigError, match="no setting 'minDays'"):
        policy.settings({"minDays": 30})
    assert policy.settings({"minRetentionDays": 30.0}) == {"minRetentionDays": 30}


def test_rules_md_is_current() -> None:
    assert (ROOT / "RULES.md").read_text() == render_rules()
