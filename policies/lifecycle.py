"""What a `pulumi destroy` may take with it: never an account-wide switch, in any stack."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from . import _tokens as T
from ._meta import resource_policy, string_list
from ._model import Resource

# Deleting one turns a protection off for the whole account and region (or deletes its history): GuardDuty deletes
# the detector's findings, Config stops recording, Security Hub unsubscribes, S3/EBS switches reset, the API Gateway
# account setting loses its CloudWatch role. (Deleting a GuardDuty DetectorFeature does not disable the feature.)
ACCOUNT_SWITCHES = [
    T.S3_ACCOUNT_PUBLIC_ACCESS_BLOCK, T.EBS_DEFAULT_ENCRYPTION, T.GUARDDUTY_DETECTOR, T.SECURITYHUB_ACCOUNT,
    T.SECURITYHUB_STANDARDS, T.CONFIG_RECORDER, T.CONFIG_RECORDER_STATUS, T.CONFIG_DELIVERY_CHANNEL,
    T.INSPECTOR_ENABLER, T.ACCESS_ANALYZER, T.TRAIL, T.API_ACCOUNT,
]


@resource_policy(
    name="account-switch-protected",
    description="Account-wide switches (GuardDuty, Config, Security Hub, Inspector, Access Analyzer, trail, "
    "S3 account public access block, EBS default encryption, API Gateway account) must be protected in every "
    "stack, so that destroying a stack cannot turn them off for the account.",
    severity=Severity.HIGH,
    category="operations",
    controls=("GuardDuty.1", "Config.1", "CloudTrail.1", "Inspector.1", "IAM.28", "S3.1", "EC2.7"),
    remediation="Give the resource the options `protect=True` and `retain_on_delete=True` in every stack (dev "
    "included). Tear a stack down with `pulumi destroy --exclude-protected`; hand the baseline to another stack with "
    "`pulumi state unprotect` + destroy (retained resources stay on) and `pulumi import` in the new owner.",
    resource_types=tuple(ACCOUNT_SWITCHES),
    guarantee=True,
    config={"switchTypes": string_list("Type tokens of account-wide switches.", ACCOUNT_SWITCHES)},
    preview_note="The analyzer protocol passes `protect` but not `retainOnDelete` (AnalyzerResourceOptions), so "
    "protection is what the pack enforces; retain_on_delete is asserted by tests/components.",
)
def account_switch_protected(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if r.type in cfg["switchTypes"] and not r.protect:
        yield (f"The {r.label} is an account-wide switch: it must have protect=True (and retain_on_delete=True) in "
               "every stack, or destroying this stack turns it off for the whole account and region.")
