"""The reporting API's OpenAPI document: one place that lists the operations and their integrations."""

from typing import Any

OPERATIONS = [
    # (path, method, scoped?)
    ("/orders", "get", True),
    ("/orders", "post", True),
    ("/reports/daily", "get", False),  # "internal dashboard only" -- nobody added the security block
]


def document(function_arn: str, authorizer_arn: str, region: str) -> dict[str, Any]:
    def invoke(arn: str) -> str:
        return f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations"

    paths: dict[str, Any] = {}
    for path, method, scoped in OPERATIONS:
        operation: dict[str, Any] = {
            "x-amazon-apigateway-integration": {"type": "aws_proxy", "httpMethod": "POST",
                                                "uri": invoke(function_arn)},
            "responses": {"200": {"description": "OK"}},
        }
        if scoped:
            operation["security"] = [{"token": []}]
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.0.1",
        "info": {"title": "reporting", "version": "1"},
        "paths": paths,
        "components": {"securitySchemes": {"token": {
            "type": "apiKey", "name": "Authorization", "in": "header",
            "x-amazon-apigateway-authtype": "custom",
            "x-amazon-apigateway-authorizer": {"type": "token", "authorizerUri": invoke(authorizer_arn),
                                               "authorizerResultTtlInSeconds": 300},
        }}},
    }
