"""`aws.iam.get_policy_document`, computed as the AWS provider computes it (no cloud call involved).

The provider (terraform-provider-aws `data_source_iam_policy_document.go` and `policy_model.go`, which
pulumi-aws bridges) builds the document locally:

1. `source_policy_documents`, in order, merged into an empty document (a `Sid` may appear only once
   across all of them);
2. then the data source's own `statements` (unique `Sid`s), `policy_id` and `version`;
3. then `override_policy_documents`, in order.

Each merge adopts the incoming `Id`, keeps the greater `Version` and, statement by statement, replaces
an existing statement with the same non-empty `Sid` in place or appends (a statement without `Sid` is
always appended).  The output is Go's `encoding/json` rendering of the provider's structs: fields in
struct order, empty fields left out, map keys sorted, `<`, `>` and `&` escaped; a block's string set
(actions, resources, principal identifiers) is one string when it holds one value, else sorted in
descending order; `&{` is the policy-variable escape for `${`.  A violation of the provider's own
rules (a duplicate `Sid`, a source document that is not JSON) is raised as `PolicyDocumentError`, which
the provider reports as a failed invoke.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

DEFAULT_VERSION = "2012-10-17"
_STATEMENT_FIELDS = ("Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal",
                     "NotPrincipal", "Condition")


class PolicyDocumentError(ValueError):
    """The provider would reject these arguments; the message is the provider's."""


def policy_document(args: dict[str, Any]) -> dict[str, str]:
    """The invoke's result (`json`, `minifiedJson`, `id`) for its wire arguments (camelCase)."""
    merged: dict[str, Any] = {"Version": "", "Id": "", "Statement": []}
    seen_sids: set[str] = set()
    for index, text in enumerate(args.get("sourcePolicyDocuments") or []):
        if text is None:
            continue
        source = _parse_document(text, f"merging source document {index}")
        for number, statement in enumerate(source["Statement"]):
            sid = statement.get("Sid", "")
            if sid and sid in seen_sids:
                raise PolicyDocumentError(
                    f"writing IAM Policy Document: merging source document {index}: duplicate Sid ({sid}) in "
                    f"source_policy_documents (statement {number}). Remove the Sid or ensure Sids are unique.")
            if sid:
                seen_sids.add(sid)
        _merge(merged, source)
    _merge(merged, _own_document(args))
    for index, text in enumerate(args.get("overridePolicyDocuments") or []):
        if text is not None:
            _merge(merged, _parse_document(text, f"merging override document {index}"))
    document = _as_go_json(merged)
    pretty = _go_escape(json.dumps(document, indent=2, ensure_ascii=False))
    minified = _go_escape(json.dumps(document, separators=(",", ":"), ensure_ascii=False))
    # The provider's id is its string hash code of the JSON: crc32 (always >= 0 in a 64-bit Go int).
    return {"json": pretty, "minifiedJson": minified, "id": str(zlib.crc32(pretty.encode()))}


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    if new.get("Id"):
        into["Id"] = new["Id"]
    if new.get("Version", "") > into["Version"]:
        into["Version"] = new["Version"]
    statements: list[dict[str, Any]] = into["Statement"]
    for statement in new["Statement"]:
        sid = statement.get("Sid", "")
        same = next((i for i, existing in enumerate(statements) if sid and existing.get("Sid") == sid), None)
        if same is None:
            statements.append(statement)
        else:
            statements[same] = statement


# --- the data source's own arguments -----------------------------------------------------------------
def _own_document(args: dict[str, Any]) -> dict[str, Any]:
    version = args.get("version") or DEFAULT_VERSION
    if version not in ("2008-10-17", "2012-10-17"):
        raise PolicyDocumentError(f'expected version to be one of ["2008-10-17" "2012-10-17"], got {version}')
    statements = []
    sids: set[str] = set()
    for raw in args.get("statements") or []:
        statement = _own_statement(raw or {}, version)
        sid = statement.get("Sid", "")
        if sid in sids:
            raise PolicyDocumentError(
                f"writing IAM Policy Document: duplicate Sid ({sid}). Remove the Sid or ensure the Sid is unique.")
        if sid:
            sids.add(sid)
        statements.append(statement)
    return {"Version": version, "Id": args.get("policyId") or "", "Statement": statements}


def _own_statement(raw: dict[str, Any], version: str) -> dict[str, Any]:
    effect = raw.get("effect") or "Allow"
    if effect not in ("Allow", "Deny"):
        raise PolicyDocumentError(f'expected effect to be one of ["Allow" "Deny"], got {effect}')
    statement: dict[str, Any] = {"Sid": raw.get("sid") or "", "Effect": effect}
    for source, target, variables in (("actions", "Action", False), ("notActions", "NotAction", False),
                                      ("resources", "Resource", True), ("notResources", "NotResource", True)):
        values = _string_set(raw.get(source))
        if values:
            statement[target] = _one_or_descending(_variables(values, version) if variables else values)
    for source, target in (("principals", "Principal"), ("notPrincipals", "NotPrincipal")):
        blocks = raw.get(source) or []
        if blocks:
            statement[target] = [(b["type"], _one_or_descending(_variables(_string_set(b.get("identifiers")),
                                                                            version)))
                                 for b in blocks]
    conditions = raw.get("conditions") or []
    if conditions:
        statement["Condition"] = [(c["test"], c["variable"], _condition_values(c.get("values") or [], version))
                                  for c in conditions]
    return statement


def _string_set(values: Any) -> list[str]:
    """A Terraform set of strings: each value once."""
    return list(dict.fromkeys(values or []))


def _one_or_descending(values: list[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else sorted(values, reverse=True)


def _variables(values: list[str], version: str) -> list[str]:
    if version == "2008-10-17" and any("&{" in v for v in values):
        bad = next(v for v in values if "&{" in v)
        raise PolicyDocumentError(f"found &{{ sequence in ({bad}), which is not supported in document version "
                                  "2008-10-17")
    return [v.replace("&{", "${") for v in values]


def _condition_values(values: list[str], version: str) -> str | list[str]:
    out = _variables(list(values), version)  # a list in Terraform: order kept, no dedup
    return out[0] if len(out) == 1 else out


# --- documents given as JSON (source / override) -----------------------------------------------------
def _parse_document(text: Any, where: str) -> dict[str, Any]:
    try:
        raw = json.loads(text) if isinstance(text, str) else None
    except json.JSONDecodeError as exc:
        raise PolicyDocumentError(f"writing IAM Policy Document: {where}: {exc}") from None
    if not isinstance(raw, dict):
        raise PolicyDocumentError(f"writing IAM Policy Document: {where}: not a JSON object")
    statements = raw.get("Statement") or []
    if not isinstance(statements, list) or not all(isinstance(s, dict) for s in statements):
        raise PolicyDocumentError(f"writing IAM Policy Document: {where}: Statement must be a list of objects")
    return {"Version": raw.get("Version") or "", "Id": raw.get("Id") or "",
            "Statement": [_parsed_statement(s) for s in statements]}


def _parsed_statement(raw: dict[str, Any]) -> dict[str, Any]:
    statement: dict[str, Any] = {k: raw[k] for k in ("Sid", "Effect", "Action", "NotAction", "Resource",
                                                     "NotResource") if raw.get(k) not in (None, "", [])}
    for key in ("Principal", "NotPrincipal"):
        if raw.get(key):
            statement[key] = _parsed_principals(raw[key])
    if raw.get("Condition"):
        statement["Condition"] = [
            (test, variable, values if isinstance(values, list) else
             ("true" if values is True else "false") if isinstance(values, bool) else values)
            for test, variables in raw["Condition"].items() for variable, values in variables.items()]
    return statement


def _parsed_principals(raw: Any) -> list[tuple[str, Any]]:
    if isinstance(raw, str):
        return [("*", ["*"])]
    return [(kind, sorted(ids) if isinstance(ids, list) else ids) for kind, ids in raw.items()]


# --- Go's rendering ----------------------------------------------------------------------------------
def _as_go_json(document: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if document["Version"]:
        out["Version"] = document["Version"]
    if document["Id"]:
        out["Id"] = document["Id"]
    statements = [_statement_json(s) for s in document["Statement"]]
    if statements:
        out["Statement"] = statements
    return out


def _statement_json(statement: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in _STATEMENT_FIELDS:
        value = statement.get(key)
        if value in (None, "", []):
            continue
        if key in ("Principal", "NotPrincipal"):
            out[key] = _principals_json(value)
        elif key == "Condition":
            out[key] = _conditions_json(value)
        else:
            out[key] = value
    return out


def _principals_json(blocks: list[tuple[str, Any]]) -> Any:
    if len(blocks) == 1 and blocks[0][0] == "*" and blocks[0][1] in ("*", ["*"]):
        return "*"
    raw: dict[str, Any] = {}
    for kind, ids in blocks:
        current = raw.get(kind)
        if isinstance(ids, list):
            merged = [] if current is None else [current] if isinstance(current, str) else current
            raw[kind] = merged + sorted(ids, reverse=True)
        elif current is None:
            raw[kind] = ids
        else:
            raw[kind] = ([current] if isinstance(current, str) else current) + [ids]
    return dict(sorted(raw.items()))


def _conditions_json(conditions: list[tuple[str, str, Any]]) -> dict[str, dict[str, Any]]:
    raw: dict[str, dict[str, list[str]]] = {}
    for test, variable, values in conditions:
        raw.setdefault(test, {}).setdefault(variable, []).extend(values if isinstance(values, list) else [values])
    return {test: {variable: values[0] if len(values) == 1 else values
                   for variable, values in sorted(variables.items())}
            for test, variables in sorted(raw.items())}


def _go_escape(text: str) -> str:
    """encoding/json's HTML-safe escaping, as the provider's json.Marshal output has it."""
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
