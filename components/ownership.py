"""One owner of the account baseline per account and region, checked before any resource is registered.

The account/region singletons (trail, Config recorder, GuardDuty detector, Security Hub, Inspector, Access Analyzer,
account-level S3 Block Public Access and EBS encryption, API Gateway's CloudWatch role setting) can exist once. The
stack that owns them (``ownsAccountBaseline: true``) first writes a claim: an SSM parameter naming the stack, which
every singleton waits for. Every preview then looks the claim and the singletons up (data sources) and fails with an
explanation instead of letting ``pulumi up`` fail half-way ("a detector already exists") or silently take over
another stack's setting (``apigateway.Account``):

- owner, claim by another stack: that stack owns the baseline; this one must set ``ownsAccountBaseline: false``.
- owner, no claim, but a detector or Security Hub already exists: created outside this project, or left running by a
  destroyed owner (the switches are retained on delete): import them (README) or do not own the baseline.
- not owner, no claim: nobody manages the baseline, and API Gateway has no CloudWatch role for this stack's stage
  logging; deploy the owner first.

Adopting an existing singleton by an automatic import was rejected: two stacks importing the same detector would both
manage it (the takeover this check exists to prevent), and an import fails anyway on any input that differs. Adoption
is a deliberate `pulumi import` into the one owner (README, "Account singletons").

The claim is protected but not retained: destroying the owner (after `pulumi state unprotect`) releases the claim and
leaves the retained singletons behind, which the next owner's preview then finds and asks to import.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.settings import PROJECT, Settings

CLAIM_PATH = f"/{PROJECT}/account-baseline"
CLAIM_NAME = f"{CLAIM_PATH}/owner"
# What the provider's data sources answer when the thing looked up does not exist (terraform-provider-aws: the
# GuardDuty detector data source's single-result assertion; Security Hub's InvalidAccessException).
_DETECTOR_ABSENT = "empty result"
_HUB_ABSENT = "not subscribed"


class OwnershipError(ValueError):
    """This stack would create an account singleton another owner holds, or depends on one nobody holds."""


@dataclass(frozen=True)
class Claim:
    """Who owns the baseline of this account and region (the claim parameter's value)."""

    project: str
    stack: str
    environment: str

    def names(self, project: str, stack: str) -> bool:
        return (self.project, self.stack) == (project, stack)

    def json(self) -> str:
        return json.dumps({"project": self.project, "stack": self.stack, "environment": self.environment},
                          sort_keys=True)


@dataclass(frozen=True)
class Found:
    """What the lookups found in the account and region."""

    claim: Claim | None
    detector_id: str | None
    security_hub: bool


def parse_claim(names: Sequence[str] | None, values: Sequence[str] | None) -> Claim | None:
    """The claim among the parameters under CLAIM_PATH; a value that is not a claim is an error naming it."""
    for name, value in zip(names or (), values or (), strict=False):
        if name != CLAIM_NAME:
            continue
        try:
            data = json.loads(value)
            return Claim(str(data["project"]), str(data["stack"]), str(data["environment"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise OwnershipError(f"ownsAccountBaseline: the SSM parameter {CLAIM_NAME} exists but is not a baseline "
                                 f"claim ({exc}); remove or fix it before deploying") from exc
    return None


def decide(owns: bool, project: str, stack: str, where: str, found: Found) -> None:
    """Raise OwnershipError, naming the setting and what to do, when this stack must not go ahead."""
    claim = found.claim
    if claim is not None and claim.names(project, stack):
        if not owns:
            raise OwnershipError(
                f"ownsAccountBaseline: this stack owns the account baseline of {where} (claim {CLAIM_NAME}); setting "
                "it to false would remove GuardDuty, Config, Security Hub and the other singletons for every stack. "
                "Hand the baseline over first (README, 'Account singletons')."
            )
        return
    if claim is not None:
        if owns:
            raise OwnershipError(
                f"ownsAccountBaseline: stack '{claim.stack}' of project '{claim.project}' already owns the account "
                f"baseline of {where} (claim {CLAIM_NAME}); a second copy would fail (one detector, recorder and "
                "hub per account and region) or take over its API Gateway logging role. Set ownsAccountBaseline: "
                "false for this stack."
            )
        return
    if not owns:
        raise OwnershipError(
            f"ownsAccountBaseline: no stack owns the account baseline of {where} (no claim {CLAIM_NAME}): API Gateway "
            "has no CloudWatch role there, so this stack's stage logging would fail, and GuardDuty, Config and "
            "Security Hub are unmanaged. Deploy the owning stack first, or set ownsAccountBaseline: true here."
        )
    existing = [what for what, present in (
        (f"GuardDuty detector {found.detector_id}", found.detector_id is not None),
        ("Security Hub (enabled)", found.security_hub),
    ) if present]
    if existing:
        raise OwnershipError(
            f"ownsAccountBaseline: {' and '.join(existing)} already exist in {where} but no stack claims the baseline "
            "(created outside this project, or left running by a destroyed owner: the switches are retained on "
            "delete). Import them into this stack (README, 'Account singletons': `pulumi import`) or set "
            "ownsAccountBaseline: false."
        )


def _detector(opts: pulumi.InvokeOptions) -> str | None:
    try:
        found = aws.guardduty.get_detector(opts=opts)
    except Exception as exc:  # a data source failure surfaces as a plain Exception from the invoke
        if _DETECTOR_ABSENT in str(exc).lower():
            return None
        raise OwnershipError(f"ownsAccountBaseline: could not look up the GuardDuty detector ({exc})") from exc
    return found.id or None


def _security_hub(opts: pulumi.InvokeOptions) -> bool:
    try:
        found = aws.securityhub.get_enabled_standards(opts=opts)
    except Exception as exc:  # see _detector
        if _HUB_ABSENT in str(exc).lower():
            return False
        raise OwnershipError(f"ownsAccountBaseline: could not look up Security Hub ({exc})") from exc
    # Answered with a list (possibly empty): the hub is enabled. No list at all: nothing was answered.
    return found.standards_subscription_arns is not None


def look_up(owns: bool, opts: pulumi.InvokeOptions) -> Found:
    """Query the account (data sources). The singletons are looked up only when they matter: for an owner."""
    params = aws.ssm.get_parameters_by_path(path=CLAIM_PATH, recursive=False, opts=opts)
    claim = parse_claim(params.names, params.values)
    if claim is not None or not owns:
        return Found(claim, None, False)
    return Found(None, _detector(opts), _security_hub(opts))


def check_ownership(settings: Settings, stack: str, opts: pulumi.InvokeOptions) -> None:
    """The preview-time check: raises OwnershipError (the message says what to change) or returns."""
    account = aws.get_caller_identity(opts=opts).account_id
    where = f"account {account}, region {settings.region}"
    decide(settings.owns_account_baseline, PROJECT, stack, where, look_up(settings.owns_account_baseline, opts))


def claim_parameter(name: str, settings: Settings, stack: str, opts: pulumi.ResourceOptions) -> aws.ssm.Parameter:
    """The owner's claim. Protected like the switches; not retained (see the module doc)."""
    claim = Claim(PROJECT, stack, settings.environment)
    return aws.ssm.Parameter(
        name,
        name=CLAIM_NAME,
        type="String",
        insecure_value=claim.json(),  # nothing secret (who owns the baseline): readable in previews and state
        description="Which stack owns this account's security baseline (read by every stack's preview)",
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=True)),
    )


def baseline_options(parent: pulumi.Resource, claim: pulumi.Resource | None,
                     depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.ResourceOptions:
    """Options of an account-baseline resource, in every stack that owns it: created after the claim, protected
    (the only deletion guard the policy pack can see) and retained on delete (a destroy that gets past protection
    still leaves the account's switches on)."""
    return pulumi.ResourceOptions(parent=parent, protect=True, retain_on_delete=True,
                                  depends_on=[*([claim] if claim is not None else []), *depends_on])
