"""ECR repositories (and the templates that create them): immutable tags, scanning, lifecycle."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from . import _tokens as T
from ._meta import resource_policy, stack_policy
from ._model import Resource, Stack
from ._values import UNKNOWN, as_bool, as_list

Finding = tuple[str, str | None]
_IMMUTABLE = ("IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION")


@resource_policy(
    name="ecr-image-tag-immutability",
    description="ECR repositories (and repository creation templates) must make image tags immutable.",
    severity=Severity.MEDIUM,
    category="operations",
    controls=("ECR.2", "CKV_AWS_51"),
    remediation="Set `image_tag_mutability='IMMUTABLE'` (or IMMUTABLE_WITH_EXCLUSION with narrow exclusion "
    "filters): a pushed `:v1.2.3` can then not be replaced by another image.",
    resource_types=(T.ECR_REPOSITORY, T.ECR_CREATION_TEMPLATE),
)
def ecr_image_tag_immutability(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    mutability = r.get("imageTagMutability")
    if mutability not in (*_IMMUTABLE, UNKNOWN):
        yield f"The {r.label} lets tags be overwritten (imageTagMutability {mutability or 'absent: MUTABLE'})."


def _registry_scans(configs: list[Resource], repository_name: Any) -> bool | None:
    """Whether a registry scanning rule of the stack (on push or continuous) matches the repository; None when
    unknown at preview."""
    for config in configs:
        rules = config.get("rules")
        if rules is UNKNOWN:
            return None
        for rule in as_list(rules):
            if not isinstance(rule, dict) or rule.get("scanFrequency") not in ("SCAN_ON_PUSH", "CONTINUOUS_SCAN",
                                                                                UNKNOWN):
                continue
            for flt in as_list(rule.get("repositoryFilters")):
                pattern = flt.get("filter") if isinstance(flt, dict) else None
                if pattern is UNKNOWN or repository_name is UNKNOWN:
                    return None
                if isinstance(pattern, str) and isinstance(repository_name, str) \
                        and fnmatch.fnmatchcase(repository_name, pattern):
                    return True
    return False


@stack_policy(
    name="ecr-scan-on-push",
    description="ECR repositories must scan images on push (repository setting or registry scanning rules).",
    severity=Severity.HIGH,
    category="operations",
    controls=("ECR.1", "CKV_AWS_163"),
    remediation="Set `image_scanning_configuration={'scan_on_push': True}`, or an "
    "`aws.ecr.RegistryScanningConfiguration` whose rules (SCAN_ON_PUSH or CONTINUOUS_SCAN) match the repository.",
)
def ecr_scan_on_push(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    registry = stack.of_type(T.ECR_REGISTRY_SCANNING)
    for repo in stack.of_type(T.ECR_REPOSITORY):
        on_push = repo.get("imageScanningConfiguration.scanOnPush")
        if on_push is UNKNOWN or as_bool(on_push) is True:
            continue
        if _registry_scans(registry, repo.get("name")) is not False:
            continue
        yield (f"The ECR repository {repo.label} does not scan images on push, and no registry scanning rule of "
               "the stack covers it.", repo.urn)


@stack_policy(
    name="ecr-lifecycle-policy",
    description="ECR repositories should have a lifecycle policy.",
    severity=Severity.LOW,
    category="resilience",
    controls=("ECR.3",),
    remediation="Add an `aws.ecr.LifecyclePolicy` for the repository (e.g. expire untagged images after 14 days, "
    "keep the last N tagged ones).",
)
def ecr_lifecycle_policy(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    for repo in stack.of_type(T.ECR_REPOSITORY):
        if not stack.referrers(repo, [T.ECR_LIFECYCLE_POLICY], "repository", ["name"]):
            yield f"The ECR repository {repo.label} has no lifecycle policy; old images pile up.", repo.urn
