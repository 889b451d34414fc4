"""PR: the render farm, written the unusual-but-secure way: IMDSv2 from the account default and from a launch
template, one node with no IMDS at all; volumes without `encrypted` because the stack turns EBS encryption by
default on with our key; ECR scanning from registry rules; Valkey (encrypted at rest by default) with IAM users;
OpenSearch in the VPC; EFS confined per application; signed Lambda code; a layer shared with the organization."""

from typing import Any

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
caller = aws.get_caller_identity()
subnets = config.require_object("privateSubnetIds")
sg = config.require("securityGroupId")
ami = config.require("amiId")
switch = pulumi.ResourceOptions(protect=True, retain_on_delete=True)

key = aws.kms.Key("render", enable_key_rotation=True, deletion_window_in_days=7,
                  policy=aws.iam.get_policy_document(statements=[{
                      "actions": ["kms:*"], "resources": ["*"],
                      "principals": [{"type": "AWS", "identifiers": [f"arn:aws:iam::{caller.account_id}:root"]}],
                  }]).json)

# --- EC2 / EBS -----------------------------------------------------------------------------------------
aws.ec2.InstanceMetadataDefaults("account", http_tokens="required", http_put_response_hop_limit=1)
aws.ebs.EncryptionByDefault("account", enabled=True, opts=switch)
aws.ebs.DefaultKmsKey("account", key_arn=key.arn)

template = aws.ec2.LaunchTemplate(
    "render-node", image_id=ami, instance_type="g5.xlarge",
    metadata_options={"http_tokens": "required", "http_put_response_hop_limit": 1},
    network_interfaces=[{"associate_public_ip_address": "false", "security_groups": [sg], "subnet_id": subnets[0]}],
    block_device_mappings=[{"device_name": "/dev/sdf", "ebs": {"volume_size": 500, "encrypted": "true",
                                                              "kms_key_id": key.arn}}],
)
aws.autoscaling.Group("render-nodes", min_size=0, max_size=20, vpc_zone_identifiers=subnets,
                      launch_template={"id": template.id, "version": "$Latest"})
aws.ec2.Instance("render-scheduler", launch_template={"id": template.id, "version": "$Latest"})
aws.ec2.Instance("license-server", ami=ami, instance_type="t4g.small", subnet_id=subnets[1],
                 vpc_security_group_ids=[sg], metadata_options={"http_endpoint": "disabled"},
                 root_block_device={"encrypted": True, "kms_key_id": key.arn})
aws.ec2.Instance("asset-sync", ami=ami, instance_type="t4g.small", subnet_id=subnets[0],
                 vpc_security_group_ids=[sg], associate_public_ip_address=False)  # account IMDS default
aws.ebs.Volume("asset-cache", availability_zone="eu-west-1a", size=1000, type="gp3")  # default encryption

# --- ECR ------------------------------------------------------------------------------------------------
aws.ecr.RegistryScanningConfiguration("registry", scan_type="ENHANCED", rules=[
    {"scan_frequency": "CONTINUOUS_SCAN", "repository_filters": [{"filter": "render-*", "filter_type": "WILDCARD"}]}])
for image in ("render-node", "render-api"):
    repo = aws.ecr.Repository(
        f"render-{image.split('-')[1]}", name=image, image_tag_mutability="IMMUTABLE_WITH_EXCLUSION",
        image_tag_mutability_exclusion_filters=[{"filter": "latest*", "filter_type": "WILDCARD"}],
        encryption_configurations=[{"encryption_type": "KMS", "kms_key": key.arn}])
    aws.ecr.LifecyclePolicy(f"render-{image.split('-')[1]}", repository=repo.name, policy="""{"rules": [{
        "rulePriority": 1, "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed",
        "countUnit": "days", "countNumber": 14}, "action": {"type": "expire"}}]}""")

# --- ElastiCache ------------------------------------------------------------------------------------------
renderer = aws.elasticache.User("renderer", user_id="renderer", user_name="renderer", engine="valkey",
                                access_string="on ~jobs:* +@read +@write", authentication_mode={"type": "iam"})
users = aws.elasticache.UserGroup("render", user_group_id="render", engine="valkey", user_ids=[renderer.user_id])
aws.elasticache.ReplicationGroup(
    "render-queue", description="Render job queue", engine="valkey", engine_version="8.0",
    node_type="cache.r7g.large", num_cache_clusters=2, automatic_failover_enabled=True,
    transit_encryption_enabled=True, kms_key_id=key.arn, user_group_ids=[users.id],
    subnet_group_name="shared-cache", security_group_ids=[sg])
aws.elasticache.ServerlessCache("render-sessions", engine="valkey", kms_key_id=key.arn, user_group_id=users.id,
                                subnet_ids=subnets, security_group_ids=[sg])

# --- OpenSearch -------------------------------------------------------------------------------------------
aws.opensearch.Domain(
    "render-logs", engine_version="OpenSearch_2.13",
    cluster_config={"instance_type": "r6g.large.search", "instance_count": 3,
                    "zone_awareness_enabled": True, "zone_awareness_config": {"availability_zone_count": 2}},
    ebs_options={"ebs_enabled": True, "volume_size": 200},
    vpc_options={"subnet_ids": subnets, "security_group_ids": [sg]},
    encrypt_at_rest={"enabled": True, "kms_key_id": key.arn},
    node_to_node_encryption={"enabled": True},
    domain_endpoint_options={"enforce_https": True, "tls_security_policy": "Policy-Min-TLS-1-2-PFS-2023-10"},
    advanced_security_options={"enabled": True, "anonymous_auth_enabled": False,
                               "master_user_options": {"master_user_arn": f"arn:aws:iam::{caller.account_id}:role/x"}},
)

# --- EFS -----------------------------------------------------------------------------------------------
shared = aws.efs.FileSystem("render-assets", encrypted=True, kms_key_id=key.arn)
for app, uid in (("scheduler", 2001), ("nodes", 2002)):
    aws.efs.AccessPoint(f"render-assets-{app}", file_system_id=shared.id,
                        posix_user={"uid": uid, "gid": uid},
                        root_directory={"path": f"/{app}", "creation_info": {
                            "owner_uid": uid, "owner_gid": uid, "permissions": "750"}})

# --- Lambda ------------------------------------------------------------------------------------------------
signing = aws.lambda_.CodeSigningConfig(
    "render", allowed_publishers={"signing_profile_version_arns": [config.require("signingProfileVersionArn")]},
    policies={"untrusted_artifact_on_deployment": "Enforce"})
failures = aws.sqs.Queue("render-failures", kms_master_key_id=key.arn, message_retention_seconds=1209600)
aws.sqs.QueuePolicy("render-failures-tls", queue_url=failures.url, policy=pulumi.Output.json_dumps({
    "Version": "2012-10-17", "Statement": [{
        "Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": failures.arn,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}))


def function(name: str) -> aws.lambda_.Function:
    vpc: Any = {"subnet_ids": subnets, "security_group_ids": [sg]}
    return aws.lambda_.Function(name, role=f"arn:aws:iam::{caller.account_id}:role/render-functions",
                                runtime="python3.12", handler="app.handler",
                                code=pulumi.FileArchive(f"./build/{name}.zip"), tracing_config={"mode": "Active"},
                                vpc_config=vpc, code_signing_config_arn=signing.arn)


on_render_done = function("render-done")
aws.lambda_.Permission("render-done-events", action="lambda:InvokeFunction", function=on_render_done.name,
                       principal="events.amazonaws.com",
                       source_arn=f"arn:aws:events:eu-west-1:{caller.account_id}:rule/render-done")
aws.lambda_.FunctionEventInvokeConfig("render-done", function_name=on_render_done.name, maximum_retry_attempts=2,
                                      destination_config={"on_failure": {"destination": failures.arn}})
layer = aws.lambda_.LayerVersion("render-sdk", layer_name="render-sdk", code=pulumi.FileArchive("./build/sdk.zip"))
aws.lambda_.LayerVersionPermission("render-sdk-org", layer_name=layer.layer_name,
                                   version_number=layer.version.apply(int), statement_id="org",
                                   action="lambda:GetLayerVersion", principal="*",
                                   organization_id=config.require("orgId"))
