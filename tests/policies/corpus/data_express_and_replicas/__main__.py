"""PR: the ingest tier.  An S3 Express directory bucket encrypted with our key, a VPC-only access point whose
policy is open because the network origin is the VPC, a read access point for the auditors' account, an Aurora
cluster with Performance Insights on our key, a snapshot shared with the auditors, DynamoDB replicas declared as
TableReplica resources with a key each, and a scheduled compaction with our key."""

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
caller = aws.get_caller_identity()
tags = pulumi.Config("aws").require_object("defaultTags")


def cmk(name: str, provider: aws.Provider | None = None) -> aws.kms.Key:
    return aws.kms.Key(
        name, enable_key_rotation=True, deletion_window_in_days=7,
        policy=aws.iam.get_policy_document(statements=[{
            "actions": ["kms:*"], "resources": ["*"],
            "principals": [{"type": "AWS", "identifiers": [f"arn:aws:iam::{caller.account_id}:root"]}],
        }]).json,
        opts=pulumi.ResourceOptions(provider=provider))


key = cmk("ingest")

# --- S3 Express staging -------------------------------------------------------------------------------------
staging = aws.s3.DirectoryBucket("staging", bucket="ingest-staging--euw1-az1--x-s3",
                                 location={"name": "euw1-az1"})
aws.s3.BucketServerSideEncryptionConfiguration(
    "staging", bucket=staging.bucket,
    rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key.arn},
            "bucket_key_enabled": True}])

workers = aws.s3.AccessPoint(
    "archive-workers", bucket=config.require("archiveBucket"), name="archive-workers",
    vpc_configuration={"vpc_id": config.require("vpcId")},
    policy=pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:PutObject"],
        "Resource": f"arn:aws:s3:eu-west-1:{caller.account_id}:accesspoint/archive-workers/object/*"}]}),
)
auditors = aws.s3.AccessPoint("archive-auditors", bucket=config.require("archiveBucket"), name="archive-auditors")
aws.s3control.AccessPointPolicy(
    "archive-auditors", access_point_arn=auditors.arn,
    policy=pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{config.require('auditorAccount')}:root"},
        "Action": "s3:GetObject", "Resource": auditors.arn.apply(lambda arn: f"{arn}/object/*")}]}))

# --- Aurora ---------------------------------------------------------------------------------------------
cluster = aws.rds.Cluster(
    "ingest", engine="aurora-postgresql", engine_version="16.4", master_username="ingest_admin",
    manage_master_user_password=True, db_subnet_group_name=config.require("dbSubnetGroup"),
    storage_encrypted=True, kms_key_id=key.arn, iam_database_authentication_enabled=True,
    backup_retention_period=7, copy_tags_to_snapshot=True, port=6432, skip_final_snapshot=True,
    enabled_cloudwatch_logs_exports=["postgresql"],
    performance_insights_enabled=True, performance_insights_kms_key_id=key.arn,
)
for index in range(2):
    aws.rds.ClusterInstance(
        f"ingest-{index}", cluster_identifier=cluster.id, instance_class="db.r6g.large",
        engine=aws.rds.EngineType.AURORA_POSTGRESQL, performance_insights_enabled=True,
        performance_insights_kms_key_id=key.arn)
aws.rds.ClusterSnapshot("ingest-audit", db_cluster_identifier=cluster.id,
                        db_cluster_snapshot_identifier="ingest-audit",
                        shared_accounts=[config.require("auditorAccount")])

# --- DynamoDB global table, replicas as resources ------------------------------------------------------------
table = aws.dynamodb.Table(
    "events", billing_mode="PAY_PER_REQUEST", hash_key="pk", attributes=[{"name": "pk", "type": "S"}],
    stream_enabled=True, stream_view_type="NEW_AND_OLD_IMAGES", point_in_time_recovery={"enabled": True},
    server_side_encryption={"enabled": True, "kms_key_arn": key.arn},
    opts=pulumi.ResourceOptions(ignore_changes=["replicas"]))
for region in ("eu-central-1", "eu-north-1"):
    provider = aws.Provider(f"replica-{region}", region=region, default_tags=tags)
    aws.dynamodb.TableReplica(f"events-{region}", global_table_arn=table.arn, point_in_time_recovery=True,
                              kms_key_arn=cmk(f"events-{region}", provider).arn,
                              opts=pulumi.ResourceOptions(provider=provider))

aws.scheduler.Schedule(
    "events-compaction", schedule_expression="rate(6 hours)", flexible_time_window={"mode": "OFF"},
    kms_key_arn=key.arn,
    target={"arn": "arn:aws:lambda:eu-west-1:123456789012:function:compact",
            "role_arn": "arn:aws:iam::123456789012:role/compaction-scheduler"})
