"""Required tags on every taggable resource (own tags or the aws provider's defaultTags)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from ._meta import resource_policy, string_list
from ._model import Resource
from ._values import UNKNOWN
from .taggable import taggable_types


def _tag_map(tags: Any) -> dict[str, Any] | Any:
    """Tags as a dict; autoscaling-style lists of {key, value} are accepted too."""
    if tags is UNKNOWN or isinstance(tags, dict):
        return tags
    if isinstance(tags, list):
        return {t.get("key"): t.get("value") for t in tags if isinstance(t, dict)}
    return {}


@resource_policy(
    name="required-tags",
    description="Every taggable resource must carry the required tags (own tags or provider defaultTags).",
    severity=Severity.MEDIUM,
    category="operations",
    controls=("Tagging", "DynamoDB.5", "EC2.43", "EC2.46", "Lambda.6", "SQS.2", "SNS.3", "SecretsManager.5",
              "CloudTrail.9", "RDS.28", "IAM.23"),
    remediation="Set the tags on the aws provider's `default_tags.tags` (preferred) or on the resource's "
    "`tags`, with non-empty values.",
    guarantee=True,
    config={
        "requiredTags": string_list("Tag keys every taggable resource must have.",
                                    ["Project", "Environment", "ManagedBy", "Owner"]),
        "exemptTypes": string_list("Type tokens exempt from tagging.", []),
    },
    preview_note="An unknown tags map, or unknown provider defaultTags, counts as carrying the tags; an "
    "unknown tag value counts as non-empty.",
)
def required_tags(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if r.type not in taggable_types() or r.type in cfg["exemptTypes"]:
        return
    own = _tag_map(r.get("tags"))
    defaults = r.default_tags()
    if own is UNKNOWN or defaults is UNKNOWN:
        return
    merged = {**defaults, **own}
    missing = [key for key in cfg["requiredTags"] if merged.get(key) in (None, "")]
    if missing:
        yield (f"The {r.label} is missing required tag(s) {', '.join(missing)} "
               "(checked its tags and the aws provider's defaultTags).")
