"""Account baseline: CloudTrail, AWS Config, GuardDuty, Security Hub.

When the stack owns the baseline (outputs.monitoring.owns_account_baseline) the checks target the exact
trail, recorder and detector it exports. Otherwise another stack owns these account/region singletons
(see reference/deploy-correctness.md §7), so the same checks verify that *some* trail, recorder and detector
in this account and region provide the guarantee — the workload relies on them either way.
"""

from __future__ import annotations

from typing import Any

from audit.aws import AwsCallError
from audit.checks.context import AuditContext
from audit.model import Check, Result, Severity

TRAIL_LOGGING = Check(
    "cloudtrail-logging", "CloudTrail trail is logging", Severity.HIGH,
    "Start logging on the trail (enable_logging=True) and check its bucket policy lets CloudTrail write.",
    ("CloudTrail.1", "CIS3 3.1"),
)
TRAIL_MULTI_REGION = Check(
    "cloudtrail-multi-region", "CloudTrail trail covers all Regions", Severity.HIGH,
    "Set is_multi_region_trail=True on the trail.", ("CloudTrail.1", "CIS3 3.1"),
)
TRAIL_VALIDATION = Check(
    "cloudtrail-log-file-validation", "CloudTrail log file validation is on", Severity.LOW,
    "Set enable_log_file_validation=True on the trail.", ("CloudTrail.4", "CIS3 3.2"),
)
TRAIL_KMS = Check(
    "cloudtrail-kms", "CloudTrail logs are encrypted with a KMS key", Severity.MEDIUM,
    "Set kms_key_id on the trail to the logs CMK (its key policy must allow cloudtrail.amazonaws.com).",
    ("CloudTrail.2", "CIS3 3.5"),
)
CONFIG_RECORDING = Check(
    "config-recorder-recording", "AWS Config records all supported resources", Severity.CRITICAL,
    "Create the recorder with recording_group.all_supported=True, a delivery channel, and a RecorderStatus "
    "with is_enabled=True.", ("Config.1", "CIS3 3.3"),
)
GUARDDUTY_ENABLED = Check(
    "guardduty-enabled", "GuardDuty detector is enabled", Severity.HIGH,
    "Create guardduty.Detector(enable=True) in this Region (once per account).", ("GuardDuty.1",),
)
GUARDDUTY_FEATURES = Check(
    "guardduty-features", "GuardDuty protections for this workload are enabled", Severity.HIGH,
    "Add a guardduty.DetectorFeature(status='ENABLED') for each missing feature.",
    ("GuardDuty.6", "GuardDuty.8", "GuardDuty.9", "GuardDuty.10"),
)
SECURITYHUB_FSBP = Check(
    "securityhub-fsbp-enabled", "Security Hub runs the AWS Foundational Security Best Practices standard",
    Severity.HIGH,
    "Enable Security Hub and subscribe to the FSBP standard (securityhub.StandardsSubscription).",
    ("CIS3 4.16",),
)
CHECKS = (TRAIL_LOGGING, TRAIL_MULTI_REGION, TRAIL_VALIDATION, TRAIL_KMS, CONFIG_RECORDING,
          GUARDDUTY_ENABLED, GUARDDUTY_FEATURES, SECURITYHUB_FSBP)
TRAIL_CHECKS = (TRAIL_LOGGING, TRAIL_MULTI_REGION, TRAIL_VALIDATION, TRAIL_KMS)


def run(ctx: AuditContext) -> list[Result]:
    return [*_cloudtrail(ctx), _config(ctx), *_guardduty(ctx), _securityhub(ctx)]


def _owned(ctx: AuditContext) -> bool:
    return ctx.outputs.monitoring.owns_account_baseline


def _account(ctx: AuditContext) -> str:
    return f"account {ctx.outputs.account_id or '(unknown)'} in {ctx.aws.region}"


def _missing_output(checks: tuple[Check, ...], resource: str, field: str) -> list[Result]:
    message = (f"The stack owns the account baseline but outputs.monitoring.{field} is empty, so the "
               "resource cannot be found.")
    return [check.failed(resource, message) for check in checks]


# --- CloudTrail -----------------------------------------------------------------------------------

def _trail_score(trail: dict[str, Any]) -> int:
    return sum((bool(trail["_logging"]), bool(trail.get("IsMultiRegionTrail")),
                bool(trail.get("LogFileValidationEnabled")), bool(trail.get("KmsKeyId"))))


def _cloudtrail(ctx: AuditContext) -> list[Result]:
    name = ctx.outputs.monitoring.trail_name
    if _owned(ctx) and not name:
        return _missing_output(TRAIL_CHECKS, _account(ctx), "trail_name")
    resource = name if _owned(ctx) and name else _account(ctx)
    try:
        if _owned(ctx):
            trails = ctx.aws.call("cloudtrail", "describe_trails", trailNameList=[name])["trailList"]
            # Keep only the exported trail: a name list may also bring back other Regions' trails.
            trails = [t for t in trails if name in (t.get("Name"), t.get("TrailARN"))]
        else:
            # includeShadowTrails: a multi-Region trail created in another home Region also covers this one.
            trails = ctx.aws.call("cloudtrail", "describe_trails", includeShadowTrails=True)["trailList"]
        for trail in trails:
            status = ctx.aws.call("cloudtrail", "get_trail_status", Name=trail["TrailARN"])
            trail["_logging"] = bool(status.get("IsLogging"))
    except AwsCallError as exc:
        return [check.errored(resource, str(exc)) for check in TRAIL_CHECKS]
    if not trails:
        what = f"The trail {name} does not exist." if _owned(ctx) else "No CloudTrail trail exists in this account."
        return [check.failed(resource, what) for check in TRAIL_CHECKS]
    trail = max(trails, key=_trail_score)  # the account's best trail carries the guarantee
    arn = trail["TrailARN"]
    return [
        TRAIL_LOGGING.judge(arn, trail["_logging"], "The trail is logging.", "The trail is not logging."),
        TRAIL_MULTI_REGION.judge(arn, bool(trail.get("IsMultiRegionTrail")), "The trail covers all Regions.",
                                 "The trail covers only its home Region."),
        TRAIL_VALIDATION.judge(arn, bool(trail.get("LogFileValidationEnabled")),
                               "Log file validation is on.", "Log file validation is off."),
        TRAIL_KMS.judge(arn, bool(trail.get("KmsKeyId")), f"Logs are encrypted with {trail.get('KmsKeyId')}.",
                        "The trail's log files are not encrypted with a KMS key."),
    ]


# --- AWS Config -----------------------------------------------------------------------------------

def _config(ctx: AuditContext) -> Result:
    name = ctx.outputs.monitoring.config_recorder_name
    if _owned(ctx) and not name:
        return _missing_output((CONFIG_RECORDING,), _account(ctx), "config_recorder_name")[0]
    resource = name if _owned(ctx) and name else _account(ctx)
    names = {"ConfigurationRecorderNames": [name]} if _owned(ctx) else {}
    missing = frozenset({"NoSuchConfigurationRecorderException"})
    try:
        recorders = ctx.aws.call("config", "describe_configuration_recorders", absent=missing, **names)
        statuses = ctx.aws.call("config", "describe_configuration_recorder_status", absent=missing, **names)
    except AwsCallError as exc:
        return CONFIG_RECORDING.errored(resource, str(exc))
    recording = {s["name"]: s for s in (statuses or {}).get("ConfigurationRecordersStatus", [])
                 if s.get("recording") and s.get("lastStatus") != "FAILURE"}
    all_supported = {r["name"] for r in (recorders or {}).get("ConfigurationRecorders", [])
                     if (r.get("recordingGroup") or {}).get("allSupported", False)}
    if not recorders or not recorders.get("ConfigurationRecorders"):
        return CONFIG_RECORDING.failed(resource, "No AWS Config recorder exists." if not _owned(ctx)
                                       else f"The configuration recorder {name} does not exist.")
    good = sorted(set(recording) & all_supported)
    if good:
        return CONFIG_RECORDING.passed(good[0], f"Recorder {good[0]} is recording all supported resources.")
    if not recording:
        return CONFIG_RECORDING.failed(resource, "The configuration recorder is not recording "
                                       "(stopped, or its last delivery failed).")
    return CONFIG_RECORDING.failed(resource, "The recorder does not record all supported resource types.")


# --- GuardDuty ------------------------------------------------------------------------------------

def _guardduty(ctx: AuditContext) -> list[Result]:
    checks = (GUARDDUTY_ENABLED, GUARDDUTY_FEATURES)
    detector_id = ctx.outputs.monitoring.guardduty_detector_id
    if _owned(ctx) and not detector_id:
        return _missing_output(checks, _account(ctx), "guardduty_detector_id")
    try:
        if not _owned(ctx):
            ids = [i for page in ctx.aws.pages("guardduty", "list_detectors") for i in page["DetectorIds"]]
            if not ids:
                return [c.failed(_account(ctx), "No GuardDuty detector exists in this Region.") for c in checks]
            detector_id = ids[0]  # GuardDuty allows one detector per account and Region
        detector = ctx.aws.call("guardduty", "get_detector", DetectorId=str(detector_id),
                                absent=frozenset({"BadRequestException", "NotFoundException"}))
    except AwsCallError as exc:
        return [c.errored(detector_id or _account(ctx), str(exc)) for c in checks]
    resource = f"guardduty detector {detector_id}"
    if detector is None:
        return [c.failed(resource, f"The GuardDuty detector {detector_id} does not exist.") for c in checks]
    enabled = {f["Name"] for f in detector.get("Features", []) if f.get("Status") == "ENABLED"}
    missing = [f for f in ctx.guardduty_features if f not in enabled]
    return [
        GUARDDUTY_ENABLED.judge(resource, detector.get("Status") == "ENABLED", "The detector is enabled.",
                                f"The detector's status is {detector.get('Status')}."),
        GUARDDUTY_FEATURES.judge(resource, not missing,
                                 f"Enabled: {', '.join(ctx.guardduty_features)}.",
                                 f"Features not enabled: {', '.join(missing)}."),
    ]


# --- Security Hub ---------------------------------------------------------------------------------

def fsbp_arn(region: str) -> str:
    return f"arn:aws:securityhub:{region}::standards/aws-foundational-security-best-practices/v/1.0.0"


def _securityhub(ctx: AuditContext) -> Result:
    resource = _account(ctx)
    wanted = fsbp_arn(ctx.aws.region)
    try:
        subscriptions = [s for page in ctx.aws.pages("securityhub", "get_enabled_standards")
                         for s in page.get("StandardsSubscriptions", [])]
    except AwsCallError as exc:
        # Security Hub answers InvalidAccessException when the account is not subscribed at all.
        if exc.code == "InvalidAccessException":
            return SECURITYHUB_FSBP.failed(resource, "Security Hub is not enabled in this account and Region.")
        return SECURITYHUB_FSBP.errored(resource, str(exc))
    states = {s["StandardsArn"]: s.get("StandardsStatus") for s in subscriptions}
    if wanted not in states:
        return SECURITYHUB_FSBP.failed(resource, "The FSBP standard is not enabled in Security Hub.")
    return SECURITYHUB_FSBP.judge(resource, states[wanted] == "READY", "The FSBP standard is enabled (READY).",
                                  f"The FSBP standard subscription is {states[wanted]}, not READY.")
