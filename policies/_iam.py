"""Parsing IAM policy documents (identity and resource policies) into comparable statements."""

from __future__ import annotations

import fnmatch
import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._values import UNKNOWN, as_list

# Condition keys whose fixed value pins the caller of a "*" principal to something the account controls
# (KMS.5, SQS.3, SNS.4, S3.2/S3.3, Lambda.1), with the kind of value that pins. Anonymous callers carry none of
# them, so a statement that requires one of them (with a positive operator) is not public.
_ID, _ARN, _PATH, _IP = "id", "arn", "path", "ip"
PIN_KEYS: dict[str, str] = {
    "aws:sourcearn": _ARN, "aws:principalarn": _ARN, "s3:dataaccesspointarn": _ARN,
    "aws:sourceaccount": _ID, "aws:sourceowner": _ID, "aws:principalaccount": _ID, "kms:calleraccount": _ID,
    "aws:vpceaccount": _ID, "s3:dataaccesspointaccount": _ID,
    "aws:principalorgid": _ID, "aws:sourceorgid": _ID, "aws:vpceorgid": _ID,
    "aws:principalorgpaths": _PATH, "aws:sourceorgpaths": _PATH, "aws:vpceorgpaths": _PATH,
    "aws:sourcevpc": _ID, "aws:sourcevpce": _ID,
    "aws:sourceip": _IP,
}
FIXING_CONDITION_KEYS = frozenset(PIN_KEYS)
# Operators that require the key to be present with a matching value. Negated operators, `...IfExists`,
# `Null` and `ForAllValues:` (true when the key is absent) never pin a caller who lacks the key.
_POSITIVE_OPERATORS = frozenset(o.lower() for o in (
    "StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike", "IpAddress"))
_NEGATED_OPERATORS = frozenset(o.lower() for o in (
    "StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike", "NotIpAddress"))


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
    not_principal: Any = None

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
                not_principal=item.get("NotPrincipal"),
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


def _wild(text: str) -> bool:
    return "*" in text or "?" in text or "${" in text


def _pins(kind: str, value: Any) -> bool:
    """Whether one condition value names a fixed account, organization, network or source."""
    if value is UNKNOWN:
        return True  # computed from a resource output (an ARN, account or org id), never a wildcard
    if not isinstance(value, str) or not value:
        return False
    if kind == _ID:
        return not _wild(value)
    if kind == _PATH:  # o-xxxxxxxxxx/r-xxxx/ou-.../: the organization id must be fixed, the rest may be wild
        org = value.split("/", 1)[0]
        return org.startswith("o-") and not _wild(org)
    if kind == _IP:
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            return False
        return network.prefixlen >= (8 if network.version == 4 else 32)
    parts = value.split(":", 5)  # arn:partition:service:region:account:resource
    if len(parts) < 6 or parts[0] != "arn":
        return False
    account = parts[4]
    if account:
        return not _wild(account)
    return not _wild(parts[5])  # account-less ARNs (S3): the resource name itself must be fixed


def _clause_pins(key: Any, value: Any) -> bool:
    kind = PIN_KEYS.get(str(key).lower())
    values = value if isinstance(value, list) else [value]
    return kind is not None and bool(values) and all(_pins(kind, v) for v in values)


def _operator(name: Any) -> tuple[str, str]:
    """(set prefix, base operator) in lower case: ``ForAnyValue:StringLike`` -> (``foranyvalue``, ``stringlike``)."""
    text = str(name).lower()
    prefix, _, base = text.rpartition(":")
    return prefix, base


def has_fixing_condition(statement: Statement) -> bool:
    """Some condition requires a pinning key (PIN_KEYS) to have fixed values: a positive operator, not
    `...IfExists` (true when the key is absent, as it is for anonymous callers), not `ForAllValues:`."""
    for operator, clauses in statement.conditions.items():
        prefix, base = _operator(operator)
        if not isinstance(clauses, Mapping) or prefix == "forallvalues" or base not in _POSITIVE_OPERATORS:
            continue
        if any(_clause_pins(key, value) for key, value in clauses.items()):
            return True
    return False


def _deny_pins_everyone_else(statement: Statement) -> bool:
    """A Deny whose every condition is a negated pinning clause (``StringNotEquals aws:PrincipalOrgID o-x``,
    with or without IfExists): it denies every caller that does not carry the pinned value, anonymous ones
    included (a negated operator is true when the key is absent)."""
    clauses = [(operator, key, value) for operator, block in statement.conditions.items()
               if isinstance(block, Mapping) for key, value in block.items()]
    if not clauses:
        return False
    for operator, key, value in clauses:
        prefix, base = _operator(operator)
        if prefix == "forallvalues" or base.removesuffix("ifexists") not in _NEGATED_OPERATORS:
            return False
        if not _clause_pins(key, value):
            return False
    return True


def _covers(patterns: tuple[Any, ...], values: tuple[Any, ...]) -> bool:
    """Every value (action or resource, possibly a pattern itself) is matched by one of the patterns."""
    for value in values:
        if not any(p == value or (isinstance(p, str) and isinstance(value, str)
                                  and fnmatch.fnmatchcase(value.lower(), p.lower())) for p in patterns):
            return False
    return True


def anyone_can_be_principal(statement: Statement) -> bool:
    """Principal "*" / {"AWS": "*"}, or NotPrincipal (every principal but the listed ones)."""
    return principal_is_public(statement.principal) or statement.not_principal is not None


def statement_is_public(statement: Statement, statements: list[Statement]) -> bool:
    """An Allow that some anonymous or any-account caller gets: anyone may be the principal, no condition
    pins the caller, and no Deny of the same document takes the access away from everyone the Allow's
    conditions would not pin."""
    if not statement.allows or not anyone_can_be_principal(statement) or has_fixing_condition(statement):
        return False
    for deny in statements:
        if deny.effect != "Deny" or not principal_is_public(deny.principal) or deny.not_actions \
                or deny.not_resources or not _deny_pins_everyone_else(deny):
            continue
        actions_covered = _covers(deny.actions, statement.actions) if statement.actions else \
            any(is_full_wildcard(a) for a in deny.actions)
        resources_covered = any(r == "*" for r in deny.resources) or (
            bool(statement.resources) and _covers(deny.resources, statement.resources))
        if actions_covered and resources_covered:
            return False
    return True


def public_statements(statements: list[Statement]) -> list[Statement]:
    """The statements of a resource policy that make it public (see ``statement_is_public``)."""
    return [st for st in statements if statement_is_public(st, statements)]


def arn_pins_account(value: Any) -> bool:
    """An ARN (or unknown output) naming a fixed account: ``arn:aws:execute-api:r:*:api/*`` does not."""
    return _pins(_ARN, value)


def action_matches(pattern: Any, action: str) -> bool:
    """IAM action wildcard matching (case-insensitive, ``*`` and ``?``)."""
    if not isinstance(pattern, str):
        return False
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


# --- identity statements, evaluated against the IAM action database (policies/_iam_data.py) -------------------

def matches_action(patterns: tuple[Any, ...], action: str) -> bool:
    """Some Action/NotAction pattern matches the action (case-insensitive, ``*`` and ``?``)."""
    return any(action_matches(p, action) for p in patterns)


def grants_action(statement: Statement, action: str) -> bool:
    """The statement's Action (or the complement of its NotAction) covers the action."""
    if statement.not_actions:
        return not matches_action(statement.not_actions, action)
    return matches_action(statement.actions, action)


def _broad(resource: Any) -> bool:
    """A Resource that names no particular resource: ``*``, any account, or every resource of a type."""
    if not isinstance(resource, str):
        return False  # unknown: an output (an ARN of a resource of the stack)
    if resource.strip() == "*":
        return True
    parts = resource.split(":", 5)
    if len(parts) < 6:
        return False
    account, rest = parts[4], parts[5]
    return "*" in account or rest.startswith("*") or rest.split("/", 1)[-1].startswith("*")


def broad_resources(statement: Statement) -> bool:
    """The statement applies to every resource (of some type): Resource ``*``-like, or NotResource."""
    return bool(statement.not_resources) or any(_broad(r) for r in statement.resources)


def denied_everywhere(statements: list[Statement], action: str) -> bool:
    """An unconditional Deny of the same document takes the action away on every resource."""
    return any(st.effect == "Deny" and not st.conditions and not st.not_resources
               and any(isinstance(r, str) and r.strip() == "*" for r in st.resources)
               and grants_action(st, action) for st in statements)


def positive_condition_on(statement: Statement, key: str) -> bool:
    """Some positive, non-IfExists operator constrains the condition key (e.g. iam:PassedToService)."""
    for operator, clauses in statement.conditions.items():
        prefix, base = _operator(operator)
        if isinstance(clauses, Mapping) and prefix != "forallvalues" and base in _POSITIVE_OPERATORS \
                and any(str(k).lower() == key.lower() for k in clauses):
            return True
    return False
