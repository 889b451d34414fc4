"""Parsing IAM policy documents (identity and resource policies) into comparable statements."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._values import UNKNOWN, as_list

# Condition keys that pin a "*" principal to something the account controls (KMS.5, SQS.3, SNS.4).
FIXING_CONDITION_KEYS = frozenset(
    k.lower()
    for k in (
        "aws:SourceArn",
        "aws:SourceAccount",
        "aws:SourceOwner",
        "aws:PrincipalOrgID",
        "aws:PrincipalAccount",
        "aws:PrincipalArn",
        "aws:SourceVpc",
        "aws:SourceVpce",
        "aws:SourceOrgID",
        "kms:CallerAccount",
        "kms:ViaService",
    )
)


class PolicyDocumentError(ValueError):
    """The document is not a JSON IAM policy."""


@dataclass(frozen=True)
class Statement:
    sid: str
    effect: str
    actions: tuple[Any, ...]
    not_actions: tuple[Any, ...]
    resources: tuple[Any, ...]
    not_resources: tuple[Any, ...]
    principal: Any
    conditions: Mapping[str, Any]

    @property
    def allows(self) -> bool:
        return self.effect == "Allow"

    @property
    def ref(self) -> str:
        return f"statement '{self.sid}'" if self.sid else "a statement"


def _conditions(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def parse(document: Any) -> list[Statement] | None:
    """Statements of a policy given as JSON text or object; None when unknown at preview.

    Raises PolicyDocumentError when the text is not a policy document.
    """
    if document is UNKNOWN:
        return None
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError as exc:
            raise PolicyDocumentError(f"is not valid JSON ({exc.msg})") from exc
    if not isinstance(document, Mapping):
        raise PolicyDocumentError("is not a JSON object")
    raw = document.get("Statement")
    if raw is UNKNOWN:
        return None
    statements: list[Statement] = []
    for item in as_list(raw):
        if item is UNKNOWN:
            return None
        if not isinstance(item, Mapping):
            raise PolicyDocumentError("has a Statement that is not an object")
        statements.append(
            Statement(
                sid=str(item.get("Sid") or ""),
                effect=str(item.get("Effect", "")),
                actions=tuple(as_list(item.get("Action"))),
                not_actions=tuple(as_list(item.get("NotAction"))),
                resources=tuple(as_list(item.get("Resource"))),
                not_resources=tuple(as_list(item.get("NotResource"))),
                principal=item.get("Principal"),
                conditions=_conditions(item.get("Condition")),
            )
        )
    return statements


def is_full_wildcard(action: Any) -> bool:
    return isinstance(action, str) and action.strip() == "*"


def is_service_wildcard(action: Any) -> bool:
    """``"s3:*"`` (every action of a service); ``"s3:Get*"`` is a narrower prefix and passes."""
    return isinstance(action, str) and action.endswith(":*")


def principal_is_public(principal: Any) -> bool:
    """Principal "*" or {"AWS": "*"} (also inside a list)."""
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        return any(p == "*" for p in as_list(principal.get("AWS")))
    return False


def _fixed(value: Any) -> bool:
    """A condition value pins access only when it has no wildcard or policy variable."""
    if value is UNKNOWN:
        return True  # computed from a resource output (an ARN/account id), never a wildcard
    values = as_list(value)
    return bool(values) and all(
        v is UNKNOWN or (isinstance(v, str) and "*" not in v and "?" not in v and "${" not in v)
        for v in values
    )


def has_fixing_condition(statement: Statement) -> bool:
    """Some condition operator pins a fixing key to fixed values (wildcards/variables don't count)."""
    for operator, clauses in statement.conditions.items():
        if not isinstance(clauses, Mapping) or "like" in str(operator).lower():
            continue
        for key, value in clauses.items():
            if key.lower() in FIXING_CONDITION_KEYS and _fixed(value):
                return True
    return False


def action_matches(pattern: Any, action: str) -> bool:
    """IAM action wildcard matching (case-insensitive, ``*`` and ``?``)."""
    if not isinstance(pattern, str):
        return False
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())
