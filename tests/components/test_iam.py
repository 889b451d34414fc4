import json

from components._iam import policy_document, service_trust_statement


def test_trust_is_limited_to_the_account_when_one_is_given() -> None:
    st = service_trust_statement("lambda.amazonaws.com", "123456789012")
    assert st == {
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
    }
    assert "Condition" not in service_trust_statement("cloudtrail.amazonaws.com", None)


def test_policy_document_wraps_statements_in_the_2012_version() -> None:
    doc = json.loads(policy_document({"Effect": "Allow"}, {"Effect": "Deny"}))
    assert doc == {"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}, {"Effect": "Deny"}]}
