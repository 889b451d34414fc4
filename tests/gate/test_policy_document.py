"""aws.iam.get_policy_document as the AWS provider builds it: merge order, Sid rules, JSON rendering.

Expected documents follow the provider's own acceptance tests (terraform-provider-aws
`policy_document_data_source_test.go`), with an empty `Sid` left out as the provider does since v5.
"""

import json

import pytest

from gate.policy_document import PolicyDocumentError, policy_document


def _stmt(sid: str, effect: str, action: str) -> dict:
    return {"sid": sid, "effect": effect, "actions": [action]}


def _doc(*statements: dict) -> str:
    return policy_document({"statements": list(statements)})["json"]


def _statements(result: dict) -> list[dict]:
    return json.loads(result["json"])["Statement"]


def test_source_documents_are_merged_in_order_and_statements_without_sid_are_all_kept():
    a = _doc(_stmt("", "Allow", "foo:ActionOne"), _stmt("validSidOne", "Allow", "bar:ActionOne"))
    b = _doc(_stmt("validSidTwo", "Deny", "foo:ActionTwo"))
    c = _doc(_stmt("", "Allow", "bar:ActionTwo"))
    result = policy_document({"version": "2012-10-17", "sourcePolicyDocuments": [a, b, c]})
    assert result["json"] == """{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": "foo:ActionOne"
    },
    {
      "Sid": "validSidOne",
      "Effect": "Allow",
      "Action": "bar:ActionOne"
    },
    {
      "Sid": "validSidTwo",
      "Effect": "Deny",
      "Action": "foo:ActionTwo"
    },
    {
      "Effect": "Allow",
      "Action": "bar:ActionTwo"
    }
  ]
}"""
    assert result["minifiedJson"] == json.dumps(json.loads(result["json"]), separators=(",", ":"))


def test_a_sid_repeated_across_source_documents_fails_like_the_provider():
    a = _doc(_stmt("conflictSid", "Allow", "bar:ActionOne"))
    c = _doc(_stmt("conflictSid", "Allow", "bar:ActionTwo"))
    with pytest.raises(PolicyDocumentError, match=r"duplicate Sid \(conflictSid\) in source_policy_documents"):
        policy_document({"sourcePolicyDocuments": [a, c]})


def test_override_documents_replace_statements_with_the_same_sid_in_place():
    a = _doc(_stmt("", "Allow", "foo:ActionOne"), _stmt("overrideSid", "Allow", "bar:ActionOne"))
    b = _doc(_stmt("validSid", "Deny", "foo:ActionTwo"))
    c = _doc(_stmt("overrideSid", "Deny", "bar:ActionOne"))
    result = policy_document({"overridePolicyDocuments": [a, b, c]})
    assert [(s.get("Sid"), s["Effect"], s["Action"]) for s in _statements(result)] == [
        (None, "Allow", "foo:ActionOne"), ("overrideSid", "Deny", "bar:ActionOne"),
        ("validSid", "Deny", "foo:ActionTwo")]


def test_own_statements_override_sources_and_overrides_override_both():
    source = _doc({"sid": "Shared", "actions": ["iam:*"], "resources": ["*"]},
                  {"sid": "Kept", "actions": ["s3:GetObject"], "resources": ["*"]})
    override = _doc({"sid": "Mine", "effect": "Deny", "actions": ["*"], "resources": ["*"]})
    result = policy_document({
        "sourcePolicyDocuments": [source],
        "statements": [{"sid": "Shared", "actions": ["*"], "resources": ["*"]},
                       {"sid": "Mine", "actions": ["ec2:*"], "resources": ["*"]}],
        "overridePolicyDocuments": [override],
    })
    assert [(s["Sid"], s["Effect"], s["Action"]) for s in _statements(result)] == [
        ("Shared", "Allow", "*"), ("Kept", "Allow", "s3:GetObject"), ("Mine", "Deny", "*")]


def test_a_wildcard_statement_from_a_source_document_reaches_the_result():
    admin = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    result = policy_document({"sourcePolicyDocuments": [admin],
                              "statements": [{"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::b/*"]}]})
    assert {"Effect": "Allow", "Action": "*", "Resource": "*"} in _statements(result)


def test_duplicate_own_sids_fail_and_blank_sids_do_not():
    with pytest.raises(PolicyDocumentError, match=r"duplicate Sid \(1\)"):
        policy_document({"statements": [_stmt("1", "Allow", "a:B"), _stmt("1", "Allow", "c:D")]})
    assert len(_statements(policy_document({"statements": [_stmt("", "Allow", "a:B"),
                                                           _stmt("", "Allow", "c:D")]}))) == 2


def test_rendering_follows_the_provider():
    result = policy_document({"policyId": "policy_id", "statements": [
        {"sid": "1", "actions": ["s3:ListAllMyBuckets", "s3:GetBucketLocation"], "resources": ["arn:aws:s3:::*"]},
        {"actions": ["s3:ListBucket"], "resources": ["arn:aws:s3:::foo"],
         "conditions": [{"test": "StringLike", "variable": "s3:prefix",
                         "values": ["home/", "", "home/&{aws:username}/"]}],
         "notPrincipals": [{"type": "AWS", "identifiers": ["arn:blahblah:example"]}]},
        {"actions": ["s3:*"], "resources": ["arn:aws:s3:::foo/home/&{aws:username}",
                                            "arn:aws:s3:::foo/home/&{aws:username}/*"],
         "principals": [{"type": "AWS", "identifiers": ["arn:blahblah:example", "arn:blahblahblah:example"]}]},
        {"effect": "Deny", "notActions": ["s3:*"], "notResources": ["arn:aws:s3:::*"]},
        {"actions": ["kinesis:*"], "principals": [{"type": "AWS", "identifiers": ["*"]}]},
        {"actions": ["firehose:*"], "principals": [{"type": "*", "identifiers": ["*"]}]},
        {"effect": "Deny", "actions": ["sqs:*"], "principals": [{"type": "AWS", "identifiers": ["*"]}],
         "conditions": [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}]},
    ]})
    doc = json.loads(result["json"])
    assert list(doc) == ["Version", "Id", "Statement"] and doc["Id"] == "policy_id"
    first, listing, objects, deny, kinesis, firehose, tls = doc["Statement"]
    assert list(first) == ["Sid", "Effect", "Action", "Resource"]
    assert first["Action"] == ["s3:ListAllMyBuckets", "s3:GetBucketLocation"]  # descending
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["home/", "", "home/${aws:username}/"]}}
    assert listing["NotPrincipal"] == {"AWS": "arn:blahblah:example"}
    assert objects["Resource"] == ["arn:aws:s3:::foo/home/${aws:username}/*", "arn:aws:s3:::foo/home/${aws:username}"]
    assert objects["Principal"] == {"AWS": ["arn:blahblahblah:example", "arn:blahblah:example"]}
    assert deny == {"Effect": "Deny", "NotAction": "s3:*", "NotResource": "arn:aws:s3:::*"}
    assert kinesis["Principal"] == {"AWS": "*"} and firehose["Principal"] == "*"
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert result["id"].isdigit()


def test_principal_blocks_of_one_type_are_combined():
    result = policy_document({"statements": [{"actions": ["*"], "resources": ["*"], "principals": [
        {"type": "AWS", "identifiers": ["arn:aws:iam::111111111111:root"]},
        {"type": "AWS", "identifiers": ["arn:aws:iam::222222222222:root", "arn:aws:iam::333333333333:root"]}]}]})
    assert _statements(result)[0]["Principal"] == {"AWS": [
        "arn:aws:iam::111111111111:root", "arn:aws:iam::333333333333:root", "arn:aws:iam::222222222222:root"]}


def test_version_2008_rejects_policy_variables_and_bad_source_json_fails():
    with pytest.raises(PolicyDocumentError, match="not supported in document version 2008-10-17"):
        policy_document({"version": "2008-10-17", "statements": [{"actions": ["*"], "resources": ["&{aws:username}"]}]})
    with pytest.raises(PolicyDocumentError, match="merging source document 0"):
        policy_document({"sourcePolicyDocuments": ["{not json"]})
