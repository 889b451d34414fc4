"""PR: "expose the thumbnail function over HTTP" — the quickest way, an HTTP API quick-created on the function."""

import pulumi
import pulumi_aws as aws

config = pulumi.Config()

assume = aws.iam.get_policy_document(statements=[{
    "actions": ["sts:AssumeRole"],
    "principals": [{"type": "Service", "identifiers": ["lambda.amazonaws.com"]}],
}])
role = aws.iam.Role("thumbnail-role", assume_role_policy=assume.json)

fn = aws.lambda_.Function(
    "thumbnail",
    role=role.arn,
    runtime="python3.12",
    handler="app.handler",
    code=pulumi.AssetArchive({"app.py": pulumi.StringAsset("def handler(event, context):\n    return {}\n")}),
    tracing_config={"mode": "Active"},
    vpc_config={"subnet_ids": config.require_object("subnetIds"),
                "security_group_ids": [config.require("securityGroupId")]},
)

# Quick create: API Gateway adds the integration, a catch-all route and an auto-deployed $default stage.
api = aws.apigatewayv2.Api("thumbnail-api", protocol_type="HTTP", target=fn.arn)

aws.lambda_.Permission(
    "thumbnail-invoke",
    action="lambda:InvokeFunction",
    function=fn.name,
    principal="apigateway.amazonaws.com",
    source_arn=api.execution_arn.apply(lambda arn: f"{arn}/*/*"),
)

pulumi.export("url", api.api_endpoint)
