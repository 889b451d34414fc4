"""Map a botocore operation to the IAM action that authorizes it.

Most services authorize `<signing name>:<OperationName>`. The exceptions are listed here rather than
guessed: API Gateway authorizes by HTTP verb on the resource path (`apigateway:GET`), and a few S3
operations are named differently in IAM than in the API.
"""

from __future__ import annotations

from typing import Any

# (IAM service prefix, API operation) -> IAM action, where the two names differ.
_RENAMED: dict[tuple[str, str], str] = {
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
}


def iam_action(service_model: Any, operation_name: str) -> str:
    """IAM action for `operation_name` of a botocore ServiceModel."""
    prefix = service_model.signing_name
    if prefix == "apigateway":
        verb = service_model.operation_model(operation_name).http["method"]
        return f"apigateway:{verb}"
    return _RENAMED.get((prefix, operation_name), f"{prefix}:{operation_name}")
