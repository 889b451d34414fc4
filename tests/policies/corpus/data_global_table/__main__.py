"""PR: make the sessions table global (replicas in two more regions, one key per region) and export it nightly
with an EventBridge Scheduler schedule."""

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
caller = aws.get_caller_identity()


def regional_key(region: str) -> aws.kms.Key:
    provider = aws.Provider(f"kms-{region}", region=region,
                            default_tags=pulumi.Config("aws").require_object("defaultTags"))
    return aws.kms.Key(
        f"sessions-{region}", enable_key_rotation=True, deletion_window_in_days=30,
        policy=aws.iam.get_policy_document(statements=[{
            "actions": ["kms:*"], "resources": ["*"],
            "principals": [{"type": "AWS", "identifiers": [f"arn:aws:iam::{caller.account_id}:root"]}],
        }]).json,
        opts=pulumi.ResourceOptions(provider=provider, protect=True))


home_key = regional_key("eu-west-1")
replica_keys = {"eu-central-1": regional_key("eu-central-1")}  # us-east-1: "add the key later"

table = aws.dynamodb.Table(
    "sessions",
    billing_mode="PAY_PER_REQUEST",
    hash_key="id",
    attributes=[{"name": "id", "type": "S"}],
    stream_enabled=True,
    stream_view_type="NEW_AND_OLD_IMAGES",
    point_in_time_recovery={"enabled": True},
    deletion_protection_enabled=True,
    server_side_encryption={"enabled": True, "kms_key_arn": home_key.arn},
    replicas=[
        {"region_name": region, "kms_key_arn": replica_keys[region].arn if region in replica_keys else None,
         "point_in_time_recovery": True}
        for region in ("eu-central-1", "us-east-1")
    ],
    opts=pulumi.ResourceOptions(protect=True),
)

aws.scheduler.Schedule(
    "sessions-nightly-export",
    schedule_expression="cron(0 2 * * ? *)",
    flexible_time_window={"mode": "OFF"},
    target={"arn": config.require("exportFunctionArn"), "role_arn": config.require("schedulerRoleArn"),
            "input": table.name.apply(lambda n: f'{{"table": "{n}"}}')},
)
