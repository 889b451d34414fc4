"""PR: an OpenSearch domain for the log explorer ("IP-restricted, so no VPC needed"), and an EFS file system
with an access point for its plugins."""

import json

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
caller = aws.get_caller_identity()

domain = aws.opensearch.Domain(
    "log-explorer",
    engine_version="OpenSearch_2.13",
    cluster_config={"instance_type": "r6g.large.search", "instance_count": 2},
    ebs_options={"ebs_enabled": True, "volume_size": 100},
    encrypt_at_rest={"enabled": True},
    access_policies=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "es:ESHttp*",
        "Resource": f"arn:aws:es:eu-west-1:{caller.account_id}:domain/log-explorer/*",
        "Condition": {"IpAddress": {"aws:SourceIp": config.require_object("allowedIps")}}}]}),
)

plugins = aws.efs.FileSystem("plugins", performance_mode="generalPurpose")
aws.efs.AccessPoint("plugins", file_system_id=plugins.id)
