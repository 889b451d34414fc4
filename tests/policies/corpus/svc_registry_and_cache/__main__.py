"""PR: an ECR repository per service image and a Redis session cache ("TLS and AUTH later, the client library
needs an upgrade first")."""

import pulumi
import pulumi_aws as aws

config = pulumi.Config()

for image in ("sessions-api", "sessions-worker"):
    aws.ecr.Repository(image, name=image, force_delete=True)

aws.elasticache.ReplicationGroup(
    "sessions-cache",
    description="Session cache",
    engine="redis",
    engine_version="7.1",
    node_type="cache.t4g.small",
    num_cache_clusters=2,
    automatic_failover_enabled=True,
    subnet_group_name=config.require("cacheSubnetGroup"),
    security_group_ids=[config.require("cacheSecurityGroupId")],
)
