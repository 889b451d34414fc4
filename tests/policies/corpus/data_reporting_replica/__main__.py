"""PR: a reporting read replica with Performance Insights, a DR copy of the latest manual snapshot in
eu-central-1 (shared with the analytics accounts), and automated backups replicated to eu-central-1."""

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
dr = aws.Provider("dr", region="eu-central-1", default_tags=pulumi.Config("aws").require_object("defaultTags"))
dr_opts = pulumi.ResourceOptions(provider=dr)

replica = aws.rds.Instance(
    "orders-reporting",
    replicate_source_db=config.require("sourceDbIdentifier"),
    instance_class="db.r6g.large",
    performance_insights_enabled=True,
    performance_insights_retention_period=7,
    skip_final_snapshot=True,
)

aws.rds.SnapshotCopy(
    "orders-dr-copy",
    source_db_snapshot_identifier=config.require("manualSnapshotArn"),
    target_db_snapshot_identifier="orders-dr-latest",
    destination_region="eu-central-1",
    shared_accounts=config.require_object("shareWith"),
    opts=dr_opts,
)

aws.rds.InstanceAutomatedBackupsReplication(
    "orders-backups-dr",
    source_db_instance_arn=config.require("sourceDbArn"),
    retention_period=7,
    opts=dr_opts,
)
