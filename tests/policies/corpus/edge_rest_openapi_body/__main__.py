"""PR: the reporting function and its API as an OpenAPI document (integrations point at the function's ARN,
known only once the function exists), a stage with
access logs, throttling, the shared WAF -- and data trace switched on "while we debug the dashboard"."""

import json

import pulumi
import pulumi_aws as aws
from reporting.openapi import document  # type: ignore[import-not-found]

config = pulumi.Config()
region = aws.get_region().region
function = aws.lambda_.Function(
    "reporting",
    role=config.require("functionRoleArn"),
    runtime="python3.12",
    handler="reporting.handler",
    code=pulumi.FileArchive("./build/reporting.zip"),
    tracing_config={"mode": "Active"},
    vpc_config={"subnet_ids": config.require_object("subnetIds"),
                "security_group_ids": [config.require("securityGroupId")]},
)

api = aws.apigateway.RestApi(
    "reporting",
    endpoint_configuration={"types": "REGIONAL"},
    body=pulumi.Output.all(function.arn, config.require("authorizerFunctionArn")).apply(
        lambda arns: json.dumps(document(arns[0], arns[1], region))),
)
deployment = aws.apigateway.Deployment(
    "reporting", rest_api=api.id, triggers={"body": api.body.apply(lambda b: str(hash(b or "")))})
logs = aws.cloudwatch.LogGroup("reporting-access", retention_in_days=30,
                               kms_key_id="arn:aws:kms:eu-west-1:123456789012:key/1b2c3d4e-aaaa-bbbb-cccc-1234567890ab")
stage = aws.apigateway.Stage(
    "reporting-v1", rest_api=api.id, deployment=deployment.id, stage_name="v1", xray_tracing_enabled=True,
    access_log_settings={"destination_arn": logs.arn, "format": '{"requestId":"$context.requestId"}'},
)
aws.apigateway.MethodSettings(
    "reporting-v1-all", rest_api=api.id, stage_name=stage.stage_name, method_path="*/*",
    settings={"throttling_rate_limit": 20, "throttling_burst_limit": 40, "logging_level": "INFO",
              "metrics_enabled": True, "data_trace_enabled": True},
)
aws.wafv2.WebAclAssociation("reporting-v1-waf", resource_arn=stage.arn, web_acl_arn=config.require("webAclArn"))
aws.lambda_.Permission("reporting-invoke", action="lambda:InvokeFunction", function=function.name,
                       principal="apigateway.amazonaws.com", source_arn=api.execution_arn.apply(lambda a: f"{a}/*"))
