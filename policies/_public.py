"""One place where rules for resource types with their own exposure semantics (access points, domains,
layers ...) ask whether a resource policy document lets anyone in.  What "public" means (principals,
conditions that pin the caller) is decided by the IAM helpers in ``_iam``; this only words the finding."""

from __future__ import annotations

from typing import Any

from ._iam import has_fixing_condition, principal_is_public
from ._model import Resource
from .iam import statements_or_error


def public_grants(r: Resource, where: str, document: Any) -> list[str]:
    """Findings for the statements of ``document`` (input ``where`` of ``r``) any caller gets; a document that
    is not a policy is one finding; an unknown one (built from outputs) none: it is decided at update."""
    if document is None:
        return []
    statements, error = statements_or_error(r, where, document)
    if error:
        return [error]
    return [f"The {where} of {r.label} allows Principal '*' in {st.ref} with no condition that pins the caller, "
            "so anonymous or any-account callers get it."
            for st in statements or [] if st.allows and principal_is_public(st.principal)
            and not has_fixing_condition(st)]
