"""PR: an image-processing layer "partners can use in their own functions", a webhook receiver behind a
function URL ("the partner signs the payload, we verify in code"), and a thumbnailer triggered by uploads."""

from typing import Any

import pulumi
import pulumi_aws as aws

config = pulumi.Config()


def function(name: str, handler: str) -> aws.lambda_.Function:
    vpc: Any = {"subnet_ids": config.require_object("subnetIds"),
                "security_group_ids": [config.require("securityGroupId")]}
    return aws.lambda_.Function(name, role=config.require("roleArn"), runtime="python3.12", handler=handler,
                                code=pulumi.FileArchive(f"./build/{name}.zip"), tracing_config={"mode": "Active"},
                                vpc_config=vpc)


layer = aws.lambda_.LayerVersion("imaging", layer_name="imaging", code=pulumi.FileArchive("./build/imaging.zip"),
                                 compatible_runtimes=["python3.12"])
aws.lambda_.LayerVersionPermission("imaging-partners", layer_name=layer.layer_name,
                                   version_number=layer.version.apply(int), statement_id="partners",
                                   action="lambda:GetLayerVersion", principal="*")

webhook = function("webhook", "webhook.handler")
aws.lambda_.FunctionUrl("webhook", function_name=webhook.name, authorization_type="NONE")

thumbnailer = function("thumbnailer", "thumbs.handler")
uploads = aws.s3.Bucket("uploads")
invoke = aws.lambda_.Permission("uploads-invoke", action="lambda:InvokeFunction", function=thumbnailer.name,
                                principal="s3.amazonaws.com", source_arn=uploads.arn,
                                source_account=aws.get_caller_identity().account_id)
aws.s3.BucketNotification(
    "uploads", bucket=uploads.id,
    lambda_functions=[{"lambda_function_arn": thumbnailer.arn, "events": ["s3:ObjectCreated:*"]}],
    opts=pulumi.ResourceOptions(depends_on=[invoke]))
