"""Account-baseline stack policies and required tags (own tags and provider defaultTags)."""

from __future__ import annotations

import pytest

from policies import _tokens as T

from .harness import DEFAULT_TAGS, UNKNOWN, Pack, Res, of

BASELINE = ["baseline-cloudtrail", "baseline-config-recorder", "baseline-guardduty"]
SLR = "arn:aws:iam::1:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"


def _baseline() -> list[Res]:
    return [
        Res(T.TRAIL, "trail", {"isMultiRegionTrail": True, "enableLogFileValidation": True, "kmsKeyId": UNKNOWN}),
        Res(T.CONFIG_RECORDER, "rec", {"name": "default", "roleArn": SLR,
                                       "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True}}),
        Res(T.CONFIG_DELIVERY_CHANNEL, "chan", {"s3BucketName": UNKNOWN}),
        Res(T.CONFIG_RECORDER_STATUS, "status", {"name": UNKNOWN, "isEnabled": True}, prop_deps={"name": ["rec"]}),
        Res(T.GUARDDUTY_DETECTOR, "gd", {"enable": True}),
    ]


def test_stack_without_baseline_is_not_applicable() -> None:
    diags = Pack().analyze_stack([Res(T.SQS_QUEUE, "q", {})])
    assert all(of(diags, name) == [] for name in BASELINE)


def test_complete_baseline_passes() -> None:
    diags = Pack().analyze_stack(_baseline())
    assert all(of(diags, name) == [] for name in BASELINE), diags


def test_owning_flag_without_resources_reports_each_missing_singleton() -> None:
    config = {name: {"ownsAccountBaseline": True} for name in BASELINE}
    diags = Pack(config).analyze_stack([Res(T.SQS_QUEUE, "q", {})])
    for name in BASELINE:
        found = of(diags, name)
        assert len(found) == 1 and found[0].level == "mandatory" and "declares no" in found[0].message


def test_single_region_trail_without_validation_fails() -> None:
    graph = _baseline()
    graph[0].props = {}  # provider defaults: single-region, no log file validation
    message = of(Pack().analyze_stack(graph), "baseline-cloudtrail")[0].message
    assert "isMultiRegionTrail is not true" in message and "enableLogFileValidation" in message


def test_recorder_without_enabled_status_fails() -> None:
    graph = _baseline()
    graph[3].props["isEnabled"] = False
    assert "isEnabled=true" in of(Pack().analyze_stack(graph), "baseline-config-recorder")[0].message


def test_recorder_with_custom_role_passes_unless_the_service_linked_role_is_required() -> None:
    graph = _baseline()
    graph[1].props["roleArn"] = "arn:aws:iam::1:role/config"
    assert of(Pack().analyze_stack(graph), "baseline-config-recorder") == []  # the platform's own scoped role
    pack = Pack({"baseline-config-recorder": {"requireServiceLinkedRole": True}})
    assert "AWSServiceRoleForConfig" in of(pack.analyze_stack(graph), "baseline-config-recorder")[0].message


def test_disabled_guardduty_fails() -> None:
    graph = _baseline()
    graph[4].props["enable"] = False
    assert "enable=false" in of(Pack().analyze_stack(graph), "baseline-guardduty")[0].message


def test_guardduty_features() -> None:
    graph = _baseline()
    assert "LAMBDA_NETWORK_LOGS" in of(Pack().analyze_stack(graph), "baseline-guardduty-features")[0].message
    graph += [Res(T.GUARDDUTY_FEATURE, f"f{i}", {"detectorId": UNKNOWN, "name": n, "status": "ENABLED"},
                  prop_deps={"detectorId": ["gd"]})
              for i, n in enumerate(["LAMBDA_NETWORK_LOGS", "RDS_LOGIN_EVENTS", "S3_DATA_EVENTS"])]
    assert of(Pack().analyze_stack(graph), "baseline-guardduty-features") == []


KMS = T.KMS_KEY


@pytest.mark.parametrize(
    ("tags", "default_tags", "missing"),
    [
        ({}, DEFAULT_TAGS, None),
        ({"Project": "p", "Environment": "e", "ManagedBy": "m", "Owner": "o"}, None, None),
        ({"Owner": "o"}, {"Project": "p", "Environment": "e", "ManagedBy": "m"}, None),
        ({}, None, "Project, Environment, ManagedBy, Owner"),
        ({"Owner": ""}, {"Project": "p", "Environment": "e", "ManagedBy": "m"}, "Owner"),
        ({"Owner": UNKNOWN}, {"Project": "p", "Environment": "e", "ManagedBy": "m"}, None),
    ],
    ids=["provider-default-tags", "own-tags", "merged", "none", "empty-value", "unknown-value"],
)
def test_required_tags(tags: dict, default_tags: dict | None, missing: str | None) -> None:
    diags = of(Pack().analyze(KMS, {"enableKeyRotation": True, "tags": tags}, default_tags=default_tags),
               "required-tags")
    if missing is None:
        assert diags == []
    else:
        assert len(diags) == 1 and f"missing required tag(s) {missing}" in diags[0].message


def test_required_tags_unknown_map_counts_as_set_and_untaggable_types_are_skipped() -> None:
    assert of(Pack().analyze(KMS, {"tags": UNKNOWN}), "required-tags") == []
    assert of(Pack().analyze(T.API_METHOD, {"authorization": "CUSTOM"}), "required-tags") == []


def test_required_tags_config_override() -> None:
    pack = Pack({"required-tags": {"requiredTags": ["CostCenter"]}})
    diags = of(pack.analyze(KMS, {}, default_tags=DEFAULT_TAGS), "required-tags")
    assert len(diags) == 1 and "CostCenter" in diags[0].message


def test_access_analyzer_type_absent_means_account() -> None:
    graph = _baseline()
    assert len(of(Pack().analyze_stack(graph), "baseline-access-analyzer")) == 1  # baseline owned, none declared
    graph.append(Res(T.ACCESS_ANALYZER, "analyzer", {"analyzerName": "a"}))  # type absent: AWS default ACCOUNT
    assert of(Pack().analyze_stack(graph), "baseline-access-analyzer") == []
    graph[-1].props["type"] = "ACCOUNT_UNUSED_ACCESS"
    assert len(of(Pack().analyze_stack(graph), "baseline-access-analyzer")) == 1
