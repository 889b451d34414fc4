"""Account/region baseline policies, enforced when this stack owns the account baseline.

A stack owns the baseline when its config says so (``ownsAccountBaseline``) or when it declares any
baseline singleton (a trail, a Config recorder, a GuardDuty detector, a Security Hub account).
Stacks that share an account with the owner report these policies as not applicable.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from . import _tokens as T
from ._meta import NotApplicable, boolean, stack_policy, string_list
from ._model import Resource, Stack
from ._values import UNKNOWN, as_bool, as_list, is_set

Finding = tuple[str, str | None]
_SINGLETONS = (T.TRAIL, T.CONFIG_RECORDER, T.GUARDDUTY_DETECTOR, T.SECURITYHUB_ACCOUNT)
_OWNS = {"ownsAccountBaseline": boolean(
    "This stack owns the account baseline even if it declares none of the singletons yet.", False)}


def _require_owner(stack: Stack, cfg: Mapping[str, Any]) -> None:
    if not cfg["ownsAccountBaseline"] and not stack.of_type(*_SINGLETONS):
        raise NotApplicable("this stack does not own the account baseline (no trail, Config recorder, "
                            "GuardDuty detector or Security Hub account, and ownsAccountBaseline=false)")


def _trail_gaps(trail: Resource) -> list[str]:
    gaps = []
    if trail.get("isMultiRegionTrail") is not UNKNOWN and as_bool(trail.get("isMultiRegionTrail")) is not True:
        gaps.append("isMultiRegionTrail is not true")
    if trail.get("enableLogFileValidation") is not UNKNOWN and \
            as_bool(trail.get("enableLogFileValidation")) is not True:
        gaps.append("enableLogFileValidation is not true")
    for key in ("enableLogging", "includeGlobalServiceEvents"):
        if as_bool(trail.get(key)) is False:
            gaps.append(f"{key} is false")
    advanced = trail.get("advancedEventSelectors")
    if isinstance(advanced, list) and advanced:
        missing = _management_events_dropped(advanced)
        if missing:
            gaps.append(f"its advanced event selectors drop {missing} management events")
    selectors = trail.get("eventSelectors")
    if isinstance(selectors, list) and selectors and not is_set(advanced):
        full = [s for s in selectors if isinstance(s, dict)
                and s.get("readWriteType", "All") in ("All", UNKNOWN)
                and as_bool(s.get("includeManagementEvents")) is not False
                and not as_list(s.get("excludeManagementEventSources"))]
        if not full:
            gaps.append("no event selector records all read and write management events")
    return gaps


_SOURCE_FILTERS = ("notEquals", "notStartsWith", "notEndsWith", "equals", "startsWith", "endsWith")


def _management_events_dropped(selectors: list[Any]) -> str | None:
    """Which management events (read, write, or both as 'all'/'some') advanced selectors leave out; None if none.

    A selector records management events when it has `eventCategory` equals `Management`; `readOnly` narrows it
    to reads or writes, and any `eventSource` filter (e.g. `notEquals kms.amazonaws.com`) leaves sources out.
    Selectors are alternatives: a read selector and a write selector together record everything.
    """
    covered: set[str] = set()
    for selector in selectors:
        fields = selector.get("fieldSelectors") if isinstance(selector, dict) else None
        if fields is UNKNOWN or selector is UNKNOWN:
            return None  # decided at update
        fields = [f for f in fields if isinstance(f, dict)] if isinstance(fields, list) else []
        by_name = {str(f.get("field")): f for f in fields}
        category = by_name.get("eventCategory")
        if category is None or "Management" not in as_list(category.get("equals")):
            continue
        if "eventSource" in by_name and any(as_list(by_name["eventSource"].get(k)) for k in _SOURCE_FILTERS):
            continue  # only some event sources
        both = {"true", "false"}
        read_only = by_name.get("readOnly") or {}
        values = {str(v).lower() for v in as_list(read_only.get("equals"))} or both
        values -= {str(v).lower() for v in as_list(read_only.get("notEquals"))}
        covered |= values & both
    if covered == {"true", "false"}:
        return None
    return {frozenset(): "all", frozenset({"true"}): "write", frozenset({"false"}): "read"}[frozenset(covered)]


@stack_policy(
    name="baseline-cloudtrail",
    description="The account baseline must include a multi-region CloudTrail trail with log file validation.",
    severity=Severity.HIGH,
    category="operations",
    controls=("CloudTrail.1", "CIS3 3.1", "CloudTrail.4", "CIS3 3.2"),
    remediation="Create an `aws.cloudtrail.Trail` with `is_multi_region_trail=True`, "
    "`enable_log_file_validation=True`, `include_global_service_events=True` and all management events (with "
    "`advanced_event_selectors`, one selecting `eventCategory` = Management with no `readOnly` or "
    "`eventSource` filter, or read and write selectors together).",
    guarantee=True,
    config=dict(_OWNS),
)
def baseline_cloudtrail(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    _require_owner(stack, cfg)
    trails = stack.of_type(T.TRAIL)
    if not trails:
        yield "The stack owns the account baseline but declares no CloudTrail trail.", None
        return
    gaps = {t.urn: _trail_gaps(t) for t in trails}
    if all(gaps.values()):
        for trail in trails:
            yield f"The CloudTrail trail {trail.label} does not qualify: {'; '.join(gaps[trail.urn])}.", trail.urn


@stack_policy(
    name="baseline-config-recorder",
    description="The account baseline must include an enabled AWS Config recorder recording all resources.",
    severity=Severity.CRITICAL,
    category="operations",
    controls=("Config.1", "CIS3 3.3"),
    remediation="Create an `aws.cfg.Recorder` (all_supported, include_global_resource_types, the "
    "AWSServiceRoleForConfig service-linked role), an `aws.cfg.DeliveryChannel` and an "
    "`aws.cfg.RecorderStatus` with `is_enabled=True`.",
    guarantee=True,
    config={**_OWNS, "requireServiceLinkedRole": boolean(
        "Require the recorder to use the AWSServiceRoleForConfig service-linked role (Config.1's own default). "
        "Off by default because the platform records with a scoped role of its own.", False),
        "requireGlobalResourceTypes": boolean(
        "Require include_global_resource_types (true in the home region).", True)},
)
def baseline_config_recorder(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    _require_owner(stack, cfg)
    recorders = stack.of_type(T.CONFIG_RECORDER)
    if not recorders:
        yield "The stack owns the account baseline but declares no AWS Config recorder.", None
        return
    if not stack.of_type(T.CONFIG_DELIVERY_CHANNEL):
        yield "The stack declares an AWS Config recorder but no DeliveryChannel.", None
    for rec in recorders:
        if as_bool(rec.get("recordingGroup.allSupported")) is False:
            yield f"The Config recorder {rec.label} must record all supported resource types.", rec.urn
        if cfg["requireGlobalResourceTypes"] and rec.get("recordingGroup.includeGlobalResourceTypes") \
                is not UNKNOWN and as_bool(rec.get("recordingGroup.includeGlobalResourceTypes")) is not True:
            yield f"The Config recorder {rec.label} must set recordingGroup.includeGlobalResourceTypes=true.", rec.urn
        role = rec.get("roleArn")
        if cfg["requireServiceLinkedRole"] and isinstance(role, str) and \
                not role.endswith("aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"):
            yield (f"The Config recorder {rec.label} uses role {role}; Config.1 expects the AWSServiceRoleForConfig "
                   "service-linked role.", rec.urn)
        statuses = [s for s in stack.referrers(rec, [T.CONFIG_RECORDER_STATUS], "name", ["name"])
                    if s.get("isEnabled") is UNKNOWN or as_bool(s.get("isEnabled")) is True]
        if not statuses:
            yield f"The Config recorder {rec.label} has no RecorderStatus with isEnabled=true.", rec.urn


@stack_policy(
    name="baseline-guardduty",
    description="The account baseline must include an enabled GuardDuty detector.",
    severity=Severity.HIGH,
    category="operations",
    controls=("GuardDuty.1",),
    remediation="Create an `aws.guardduty.Detector` with `enable=True`.",
    guarantee=True,
    config=dict(_OWNS),
)
def baseline_guardduty(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    _require_owner(stack, cfg)
    detectors = stack.of_type(T.GUARDDUTY_DETECTOR)
    if not detectors:
        yield "The stack owns the account baseline but declares no GuardDuty detector.", None
    for det in detectors:
        if as_bool(det.get("enable")) is False:
            yield f"The GuardDuty detector {det.label} sets enable=false.", det.urn


# The deprecated Detector.datasources blocks and the DetectorFeature each one turns on (GuardDuty API:
# "datasources" map onto the features S3_DATA_EVENTS, EKS_AUDIT_LOGS and EBS_MALWARE_PROTECTION).
_DATASOURCE_FEATURES = {
    "datasources.s3Logs.enable": "S3_DATA_EVENTS",
    "datasources.kubernetes.auditLogs.enable": "EKS_AUDIT_LOGS",
    "datasources.malwareProtection.scanEc2InstanceWithFindings.ebsVolumes.enable": "EBS_MALWARE_PROTECTION",
}


def _legacy_datasources(detector: Resource) -> set[Any]:
    """Features a detector enables through its legacy ``datasources`` input (UNKNOWN when unknown)."""
    found: set[Any] = set()
    for path, feature in _DATASOURCE_FEATURES.items():
        value = detector.get(path)
        if value is UNKNOWN:
            found.add(UNKNOWN)
        elif as_bool(value) is True:
            found.add(feature)
    return found


@stack_policy(
    name="baseline-guardduty-features",
    description="GuardDuty protection plans relevant to the workload must be enabled.",
    severity=Severity.HIGH,
    category="operations",
    controls=("GuardDuty.6", "GuardDuty.9", "GuardDuty.10"),
    remediation="Create `aws.guardduty.DetectorFeature` resources with `status='ENABLED'` for each required "
    "feature (the detector's legacy `datasources` count for S3_DATA_EVENTS, EKS_AUDIT_LOGS and "
    "EBS_MALWARE_PROTECTION).",
    config={**_OWNS, "requiredFeatures": string_list(
        "DetectorFeature names that must be ENABLED.", ["LAMBDA_NETWORK_LOGS", "RDS_LOGIN_EVENTS", "S3_DATA_EVENTS"])},
)
def baseline_guardduty_features(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    _require_owner(stack, cfg)
    for det in stack.of_type(T.GUARDDUTY_DETECTOR):
        enabled = {f.get("name") for f in stack.referrers(det, [T.GUARDDUTY_FEATURE], "detectorId", ["id"])
                   if f.get("status") in ("ENABLED", UNKNOWN)}
        enabled |= _legacy_datasources(det)
        missing = [name for name in cfg["requiredFeatures"] if name not in enabled]
        if missing and UNKNOWN not in enabled:
            yield f"The GuardDuty detector {det.label} lacks enabled features {', '.join(missing)}.", det.urn


def _single(stack: Stack, cfg: Mapping[str, Any], types: tuple[str, ...], what: str,
            ok: Any = None) -> Iterator[Finding]:
    _require_owner(stack, cfg)
    found = stack.of_type(*types)
    if not found or (ok is not None and not any(ok(r) for r in found)):
        yield f"The stack owns the account baseline but declares no {what}.", None


@stack_policy(
    name="baseline-inspector",
    description="Amazon Inspector must scan the workload's resource types.",
    severity=Severity.HIGH,
    category="operations",
    controls=("Inspector.1", "Inspector.2", "Inspector.3", "Inspector.4"),
    remediation="Create an `aws.inspector2.Enabler` for this account with the required `resource_types`.",
    config={**_OWNS, "requiredResourceTypes": string_list(
        "Inspector resource types to enable.", ["EC2", "ECR", "LAMBDA", "LAMBDA_CODE"])},
)
def baseline_inspector(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    required = set(cfg["requiredResourceTypes"])
    yield from _single(stack, cfg, (T.INSPECTOR_ENABLER,),
                       f"Inspector Enabler covering {', '.join(sorted(required))}",
                       lambda e: UNKNOWN in as_list(e.get("resourceTypes"))
                       or required <= set(as_list(e.get("resourceTypes"))))


@stack_policy(
    name="baseline-access-analyzer",
    description="An IAM Access Analyzer must exist in the region.",
    severity=Severity.HIGH,
    category="operations",
    controls=("IAM.28", "CIS3 1.20"),
    remediation="Create an `aws.accessanalyzer.Analyzer` with `type='ACCOUNT'` (or ORGANIZATION).",
    config=dict(_OWNS),
)
def baseline_access_analyzer(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    yield from _single(stack, cfg, (T.ACCESS_ANALYZER,), "ACCOUNT or ORGANIZATION IAM Access Analyzer",
                       lambda a: (a.get("type") or "ACCOUNT") in ("ACCOUNT", "ORGANIZATION", UNKNOWN))


@stack_policy(
    name="baseline-security-hub",
    description="Security Hub must be enabled with the FSBP and CIS v3.0 standards.",
    severity=Severity.MEDIUM,
    category="operations",
    controls=("CIS3 4.16",),
    remediation="Create an `aws.securityhub.Account` and `StandardsSubscription`s for "
    "aws-foundational-security-best-practices/v/1.0.0 and cis-aws-foundations-benchmark/v/3.0.0.",
    config=dict(_OWNS),
)
def baseline_security_hub(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    yield from _single(stack, cfg, (T.SECURITYHUB_ACCOUNT,), "Security Hub account")
    arns = [s.get("standardsArn") for s in stack.of_type(T.SECURITYHUB_STANDARDS)]
    if UNKNOWN in arns:
        return
    for std in ("aws-foundational-security-best-practices/v/1.0.0", "cis-aws-foundations-benchmark/v/3.0.0"):
        if not any(isinstance(a, str) and a.endswith(std) for a in arns):
            yield f"The stack owns the account baseline but does not subscribe Security Hub to {std}.", None


@stack_policy(
    name="baseline-s3-account-public-access-block",
    description="S3 Block Public Access must be on at the account level.",
    severity=Severity.MEDIUM,
    category="exposure",
    controls=("S3.1", "CIS3 2.1.4"),
    remediation="Create an `aws.s3.AccountPublicAccessBlock` with all four flags true.",
    config=dict(_OWNS),
)
def baseline_s3_account_public_access_block(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    yield from _single(stack, cfg, (T.S3_ACCOUNT_PUBLIC_ACCESS_BLOCK,), "AccountPublicAccessBlock with all flags",
                       lambda b: all(b.get(f) is UNKNOWN or as_bool(b.get(f)) is True for f in flags))


@stack_policy(
    name="baseline-ebs-default-encryption",
    description="EBS encryption by default must be enabled.",
    severity=Severity.MEDIUM,
    category="exposure",
    controls=("EC2.7", "CIS3 2.2.1"),
    remediation="Create an `aws.ebs.EncryptionByDefault` with `enabled=True`.",
    config=dict(_OWNS),
)
def baseline_ebs_default_encryption(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    yield from _single(stack, cfg, (T.EBS_DEFAULT_ENCRYPTION,), "EncryptionByDefault enabled",
                       lambda e: as_bool(e.get("enabled")) is not False)


@stack_policy(
    name="baseline-security-contact",
    description="The account must register a security alternate contact.",
    severity=Severity.MEDIUM,
    category="operations",
    controls=("Account.1", "CIS3 1.2"),
    remediation="Create an `aws.account.AlternativeContact` with `alternate_contact_type='SECURITY'`.",
    config=dict(_OWNS),
)
def baseline_security_contact(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    yield from _single(stack, cfg, (T.ALTERNATE_CONTACT,), "SECURITY alternate contact",
                       lambda c: c.get("alternateContactType") in ("SECURITY", UNKNOWN))


@stack_policy(
    name="baseline-cloudtrail-cloudwatch",
    description="The baseline trail should deliver to CloudWatch Logs (needed for CIS 4.x alarms).",
    severity=Severity.LOW,
    category="operations",
    controls=("CloudTrail.5",),
    remediation="Set `cloud_watch_logs_group_arn` (with `:*`) and `cloud_watch_logs_role_arn` on the trail.",
    config=dict(_OWNS),
)
def baseline_cloudtrail_cloudwatch(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    _require_owner(stack, cfg)
    for trail in stack.of_type(T.TRAIL):
        missing = [k for k in ("cloudWatchLogsGroupArn", "cloudWatchLogsRoleArn") if not is_set(trail.get(k))]
        if missing:
            yield f"The CloudTrail trail {trail.label} must set {' and '.join(missing)}.", trail.urn
