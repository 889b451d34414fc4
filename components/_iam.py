"""IAM policy documents (pure helpers; the components wrap them in Outputs where values are unknown)."""

from __future__ import annotations

import json
from typing import Any

import pulumi


def policy_document(*statements: dict[str, Any]) -> str:
    """A policy document (JSON) holding ``statements``."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def service_trust_statement(service: str, account_id: str | None) -> dict[str, Any]:
    """Lets ``service`` assume the role; with ``account_id``, only on behalf of that account.

    The aws:SourceAccount condition is the confused-deputy guard: another account cannot point the same AWS
    service at this role.
    """
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if account_id is not None:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": account_id}}
    return statement


def service_trust_policy(service: str, account_id: pulumi.Input[str]) -> pulumi.Output[str]:
    """The assume-role policy of a role used by ``service`` for this account only."""
    return pulumi.Output.from_input(account_id).apply(
        lambda acct: policy_document(service_trust_statement(service, acct))
    )
