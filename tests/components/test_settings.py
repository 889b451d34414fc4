import json
from typing import Any

import pytest
import yaml

from components.settings import CONFIG_KEYS, SECRET_KEYS, SettingsError, load_settings, settings_from_mapping
from tests.harness import ROOT, stack_config, stacks

PROJECT_CONFIG: dict[str, dict[str, Any]] = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]


def prod(**overrides: Any) -> dict[str, Any]:
    return stack_config("prod", overrides)


@pytest.mark.parametrize("stack", stacks())
def test_every_stack_file_yields_valid_settings(stack: str) -> None:
    s = settings_from_mapping(stack, stack_config(stack))
    assert s.environment == stack
    assert s.tags == {"Project": "secure-api-platform", "Environment": stack, "ManagedBy": "pulumi",
                      "Owner": s.owner}


def test_dev_and_prod_differ_as_the_design_table_says() -> None:
    dev = settings_from_mapping("dev", stack_config("dev"))
    prd = settings_from_mapping("prod", stack_config("prod"))
    assert (dev.az_count, dev.nat_gateway_count) == (2, 1)
    assert (prd.az_count, prd.nat_gateway_count) == (3, 3)
    assert (dev.db_multi_az, dev.db_deletion_protection, dev.db_skip_final_snapshot) == (False, False, True)
    assert (prd.db_multi_az, prd.db_deletion_protection, prd.db_skip_final_snapshot) == (True, True, False)
    assert (dev.kms_deletion_window_days, prd.kms_deletion_window_days) == (7, 30)
    assert (dev.log_retention_days, prd.log_retention_days) == (30, 365)
    assert dev.throttle_rate_limit < prd.throttle_rate_limit
    assert prd.production and not dev.production


def test_project_file_declares_every_key_with_type_description_and_default() -> None:
    declared = set(PROJECT_CONFIG)
    assert declared == (set(CONFIG_KEYS) - {"aws:region"}) | set(SECRET_KEYS)
    for key, spec in PROJECT_CONFIG.items():
        assert spec.get("type") in {"string", "integer", "boolean", "array"}, key
        assert spec.get("description"), key
        if key in SECRET_KEYS:  # a secret never has a plaintext default
            assert spec.get("secret") is True and "default" not in spec, key
        else:
            assert "default" in spec, key


def test_defaults_alone_are_valid_and_secure() -> None:
    # A new stack file with only a region gets production-grade protection.
    s = settings_from_mapping("staging", stack_config("does-not-exist", {"aws:region": "us-east-1"}))
    assert s.db_deletion_protection and s.db_multi_az and not s.db_skip_final_snapshot
    assert s.kms_deletion_window_days == 30 and s.log_retention_days == 365


def test_stack_files_hold_only_overrides() -> None:
    for stack in stacks():
        overrides = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
        for key, value in overrides.items():
            if key in PROJECT_CONFIG:
                assert PROJECT_CONFIG[key]["default"] != value, f"Pulumi.{stack}.yaml repeats the default of {key}"


@pytest.mark.parametrize(
    ("overrides", "key", "fragment"),
    [
        ({"vpcCidr": "10.0.0.0/33"}, "vpcCidr", "not a valid IPv4 network"),
        ({"vpcCidr": "10.1.2.0/24"}, "vpcCidr", "too small"),
        ({"vpcCidr": "11.0.0.0/16"}, "vpcCidr", "not a private"),
        ({"azCount": 1}, "azCount", "greater than or equal to 2"),
        ({"azCount": 7}, "azCount", "less than or equal to 6"),
        ({"throttleRateLimit": -5}, "throttleRateLimit", "greater than 0"),
        ({"throttleBurstLimit": -1}, "throttleBurstLimit", "greater than or equal to 1"),
        ({"natGateways": "two"}, "natGateways", "'single' or 'per-az'"),
        ({"apiLoggingLevel": "DEBUG"}, "apiLoggingLevel", "'ERROR' or 'INFO'"),
        ({"findingSeverityThreshold": "SEVERE"}, "findingSeverityThreshold", "'LOW'"),
        ({"logRetentionDays": 42}, "logRetentionDays", "retention values"),
        ({"kmsDeletionWindowDays": 3}, "kmsDeletionWindowDays", "greater than or equal to 7"),
        ({"jwksUrl": "http://idp.example.com/jwks"}, "jwksUrl", "https://"),
        ({"externalAllowedHosts": '["other.example.com"]'}, "externalAllowedHosts", "must include"),
        ({"externalAllowedHosts": "not json"}, "externalAllowedHosts", "JSON list"),
        ({"apiClients": '["acme:gold"]'}, "apiClients", "basic"),
        ({"allowedSourceCidrs": '["0.0.0.0/0"]'}, "allowedSourceCidrs", "whole internet"),
        ({"customDomainName": "api.example.com"}, "customDomainName/customDomainZoneId", "set both"),
        ({"dbDeletionProtection": False}, "dbDeletionProtection", "allowUnprotectedProduction"),
        ({"dbSkipFinalSnapshot": True}, "dbSkipFinalSnapshot", "allowUnprotectedProduction"),
        ({"vpcCdir": "10.0.0.0/16"}, "vpcCdir", "not a known config key"),
        ({"dbAppUsername": "platform_admin"}, "dbAppUsername", "must differ from dbMasterUsername"),
        ({"dbAppUsername": "rds_superuser"}, "dbAppUsername", "reserved role name"),
        ({"aws:region": "mars"}, "aws:region", "pattern"),
    ],
)
def test_bad_input_names_the_key_and_what_is_allowed(overrides: dict[str, Any], key: str, fragment: str) -> None:
    with pytest.raises(SettingsError) as err:
        settings_from_mapping("prod", prod(**overrides))
    message = str(err.value)
    assert f"{key}:" in message
    assert fragment in message


def test_production_may_drop_protection_only_with_the_named_override() -> None:
    s = settings_from_mapping(
        "prod", prod(dbDeletionProtection=False, dbSkipFinalSnapshot=True, allowUnprotectedProduction=True)
    )
    assert not s.db_deletion_protection


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(SettingsError) as err:
        settings_from_mapping("prod", prod(azCount=9, natGateways="x", owner=""))
    assert all(k in str(err.value) for k in ("azCount:", "natGateways:", "owner:"))


def test_a_key_missing_from_the_project_file_is_reported() -> None:
    raw = prod()
    del raw["vpcCidr"]
    with pytest.raises(SettingsError, match=r"vpcCidr: is not set"):
        settings_from_mapping("prod", raw)


def test_load_settings_reads_through_the_config_reader() -> None:
    # The engine hands every value over as a string: JSON for numbers, booleans and lists.
    raw = {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in stack_config("dev").items()}
    raw["apiClients"] = '["acme:premium"]'
    s = load_settings(raw.get, "dev")
    assert s.clients == {"acme": "premium"}
    assert s.az_count == 2
