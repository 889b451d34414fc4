"""Seed a moto server with the resources of one deployed stack, compliant or with chosen violations.

Everything is created through the real moto HTTP server with boto3, the way the stack would exist in an
account; the returned dict is the stack outputs document (`pulumi stack output --json` shape).
"""

from __future__ import annotations

import json
from typing import Any

import boto3

ACCOUNT = "123456789012"

# One violation per audit check: name -> the check id it must trigger.
VIOLATIONS = {
    "no-waf": "apigw-stage-waf",
    "no-access-logs": "apigw-stage-access-logs",
    "no-exec-logging": "apigw-stage-execution-logging",
    "no-throttling": "apigw-stage-throttling",
    "open-method": "apigw-method-authorization",
    "key-disabled": "kms-key-customer-managed",
    "no-rotation": "kms-key-rotation",
    "trail-stopped": "cloudtrail-logging",
    "trail-single-region": "cloudtrail-multi-region",
    "trail-no-validation": "cloudtrail-log-file-validation",
    "trail-no-kms": "cloudtrail-kms",
    "config-stopped": "config-recorder-recording",
    "guardduty-disabled": "guardduty-enabled",
    "guardduty-missing-feature": "guardduty-features",
    "sg-ssh-open": "ec2-sg-public-ingress",
    "nacl-ssh-open": "ec2-nacl-public-ingress",
    "db-public": "rds-not-public",
    "db-unencrypted": "rds-encrypted",
    "db-no-deletion-protection": "rds-deletion-protection",
    "bucket-no-pab": "s3-bucket-public-access-block",
    "bucket-no-tls-policy": "s3-bucket-tls-only",
    "queue-sse-sqs": "sqs-queue-cmk",
    "topic-no-kms": "sns-topic-cmk",
    "log-group-no-kms": "logs-group-kms",
    "log-group-no-retention": "logs-group-retention",
    "secret-default-key": "secretsmanager-secret-cmk",
}
PAB_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
GUARDDUTY_FEATURES = ("S3_DATA_EVENTS", "RDS_LOGIN_EVENTS", "LAMBDA_NETWORK_LOGS", "EBS_MALWARE_PROTECTION")


def client(endpoint: str, region: str, service: str) -> Any:
    return boto3.client(service, region_name=region, endpoint_url=endpoint,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def seed(endpoint: str, region: str, env: str = "prod", violations: frozenset[str] = frozenset()) -> dict[str, Any]:
    unknown = violations - VIOLATIONS.keys()
    assert not unknown, unknown
    v = violations.__contains__
    c = lambda service: client(endpoint, region, service)  # noqa: E731
    prefix = f"{env}-{region}"

    kms = c("kms")
    keys = {p: kms.create_key(Description=f"{p} key")["KeyMetadata"]["Arn"] for p in ("data", "logs", "secrets")}
    for purpose, arn in keys.items():
        if not (v("no-rotation") and purpose == "data"):
            kms.enable_key_rotation(KeyId=arn)
    if v("key-disabled"):
        kms.disable_key(KeyId=keys["secrets"].split("/")[-1])  # moto accepts only the id here

    # --- log groups -------------------------------------------------------------------------------
    logs = c("logs")
    functions = {n: f"{prefix}-{n}" for n in ("authorizer", "api", "reconcile", "worker")}
    groups = [f"/aws/apigateway/{prefix}-access", "/vpc/flow/" + prefix]
    groups += [f"/aws/lambda/{f}" for f in functions.values()]
    api_gw = c("apigateway")
    api_id = api_gw.create_rest_api(name=f"{prefix}-api")["id"]
    execution_group = f"API-Gateway-Execution-Logs_{api_id}/{env}"
    groups.append(execution_group)
    for name in groups:
        plain = v("log-group-no-kms") and name == groups[-1]
        logs.create_log_group(logGroupName=name, **({} if plain else {"kmsKeyId": keys["logs"]}))
        if not (v("log-group-no-retention") and name.startswith("/aws/lambda/") and name.endswith("-worker")):
            logs.put_retention_policy(logGroupName=name, retentionInDays=365)

    # --- API Gateway + WAF ------------------------------------------------------------------------
    root = api_gw.get_resources(restApiId=api_id)["items"][0]["id"]
    orders = api_gw.create_resource(restApiId=api_id, parentId=root, pathPart="orders")["id"]
    health = api_gw.create_resource(restApiId=api_id, parentId=root, pathPart="health")["id"]
    routes = [(orders, "GET", "CUSTOM"), (orders, "POST", "CUSTOM"), (orders, "OPTIONS", "NONE"),
              (health, "GET", "AWS_IAM" if not v("open-method") else "NONE")]
    for resource_id, verb, auth in routes:
        extra = {"authorizerId": "authz1"} if auth == "CUSTOM" else {}
        api_gw.put_method(restApiId=api_id, resourceId=resource_id, httpMethod=verb, authorizationType=auth, **extra)
        api_gw.put_integration(restApiId=api_id, resourceId=resource_id, httpMethod=verb, type="MOCK")
    deployment = api_gw.create_deployment(restApiId=api_id)["id"]
    api_gw.create_stage(restApiId=api_id, stageName=env, deploymentId=deployment)
    patches = [{"op": "replace", "path": "/*/*/logging/loglevel", "value": "OFF" if v("no-exec-logging") else "ERROR"}]
    if not v("no-access-logs"):
        patches += [
            {"op": "replace", "path": "/accessLogSettings/destinationArn",
             "value": f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{groups[0]}"},
            {"op": "replace", "path": "/accessLogSettings/format", "value": '{"requestId":"$context.requestId"}'},
        ]
    rate, burst = ("-1", "-1") if v("no-throttling") else ("50", "100")  # -1 reads back as "no limit"
    patches += [{"op": "replace", "path": "/*/*/throttling/rateLimit", "value": rate},
                {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": burst}]
    api_gw.update_stage(restApiId=api_id, stageName=env, patchOperations=patches)
    stage_arn = f"arn:aws:apigateway:{region}::/restapis/{api_id}/stages/{env}"
    waf = c("wafv2")
    acl_arn = waf.create_web_acl(
        Name=f"{prefix}-acl", Scope="REGIONAL", DefaultAction={"Allow": {}},
        VisibilityConfig={"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "acl"},
    )["Summary"]["ARN"]
    if not v("no-waf"):
        waf.associate_web_acl(WebACLArn=acl_arn, ResourceArn=stage_arn)

    # --- network ----------------------------------------------------------------------------------
    ec2 = c("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    sgs = {name: ec2.create_security_group(GroupName=f"{prefix}-{name}", Description=name, VpcId=vpc)["GroupId"]
           for name in ("app", "endpoints", "database", "edge")}
    ec2.authorize_security_group_ingress(GroupId=sgs["endpoints"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}])
    ec2.authorize_security_group_ingress(GroupId=sgs["database"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": sgs["app"]}]}])
    ec2.authorize_security_group_ingress(GroupId=sgs["edge"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
         "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}])
    if v("sg-ssh-open"):
        ec2.authorize_security_group_ingress(GroupId=sgs["app"], IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    nacl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    current = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])
    association = next(a["NetworkAclAssociationId"] for acl in current["NetworkAcls"]
                       for a in acl["Associations"] if a["SubnetId"] == subnet)
    ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=nacl)
    entries = [(100, "0.0.0.0/0", 443, 443), (110, "0.0.0.0/0", 1024, 65535), (120, "::/0", 1024, 65535)]
    if v("nacl-ssh-open"):
        entries.append((90, "0.0.0.0/0", 22, 22))
    for rule, cidr, low, high in entries:
        block = {"Ipv6CidrBlock": cidr} if ":" in cidr else {"CidrBlock": cidr}
        ec2.create_network_acl_entry(NetworkAclId=nacl, RuleNumber=rule, Protocol="6", RuleAction="allow",
                                     Egress=False, PortRange={"From": low, "To": high}, **block)
    ec2.create_network_acl_entry(NetworkAclId=nacl, RuleNumber=130, Protocol="1", RuleAction="allow", Egress=False,
                                 CidrBlock="0.0.0.0/0", IcmpTypeCode={"Type": 3, "Code": 4})

    # --- database ---------------------------------------------------------------------------------
    db_id = f"{prefix}-db"
    encryption = {} if v("db-unencrypted") else {"StorageEncrypted": True, "KmsKeyId": keys["data"]}
    c("rds").create_db_instance(
        DBInstanceIdentifier=db_id, DBInstanceClass="db.t4g.medium", Engine="postgres", AllocatedStorage=20,
        MasterUsername="platform", MasterUserPassword="not-a-real-password-1",
        PubliclyAccessible=v("db-public"), DeletionProtection=not v("db-no-deletion-protection"), **encryption)

    # --- baseline: buckets, trail, config, guardduty ----------------------------------------------
    s3 = c("s3")
    trail_bucket, config_bucket = f"{prefix}-trail", f"{prefix}-config"
    for bucket in (trail_bucket, config_bucket):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
        if not (v("bucket-no-pab") and bucket == config_bucket):
            s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=dict.fromkeys(PAB_FLAGS, True))
        statements: list[dict[str, Any]] = [{
            "Sid": "AllowCloudTrail", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/AWSLogs/*"}]
        if not (v("bucket-no-tls-policy") and bucket == trail_bucket):
            statements.append({
                "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))

    trail_name = f"{prefix}-trail"
    cloudtrail = c("cloudtrail")
    cloudtrail.create_trail(
        Name=trail_name, S3BucketName=trail_bucket, IsMultiRegionTrail=not v("trail-single-region"),
        EnableLogFileValidation=not v("trail-no-validation"),
        **({} if v("trail-no-kms") else {"KmsKeyId": keys["logs"]}))
    if not v("trail-stopped"):
        cloudtrail.start_logging(Name=trail_name)

    config = c("config")
    recorder = "default"
    config.put_configuration_recorder(ConfigurationRecorder={
        "name": recorder, "roleARN": f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/config.amazonaws.com/"
                                     "AWSServiceRoleForConfig",
        "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True}})
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": config_bucket})
    if not v("config-stopped"):
        config.start_configuration_recorder(ConfigurationRecorderName=recorder)

    features = [f for f in GUARDDUTY_FEATURES if not (v("guardduty-missing-feature") and f == "RDS_LOGIN_EVENTS")]
    detector = c("guardduty").create_detector(
        Enable=not v("guardduty-disabled"), Features=[{"Name": f, "Status": "ENABLED"} for f in features],
    )["DetectorId"]

    # --- messaging and secrets --------------------------------------------------------------------
    sqs = c("sqs")
    queue_urls = {}
    for name in ("orders", "orders_dlq"):
        sse = {"SqsManagedSseEnabled": "true"} if v("queue-sse-sqs") and name == "orders_dlq" else {
            "KmsMasterKeyId": keys["data"]}
        queue_urls[name] = sqs.create_queue(QueueName=f"{prefix}-{name}", Attributes=sse)["QueueUrl"]
    topic = c("sns").create_topic(
        Name=f"{prefix}-alerts", Attributes={} if v("topic-no-kms") else {"KmsMasterKeyId": keys["logs"]})["TopicArn"]
    secrets = c("secretsmanager")
    secret_arns = {}
    for name in ("oauth_client", "db_master"):
        key = {} if v("secret-default-key") and name == "oauth_client" else {"KmsKeyId": keys["secrets"]}
        secret_arns[name] = secrets.create_secret(Name=f"{prefix}/{name}", SecretString="{}", **key)["ARN"]

    return {
        "environment": env, "region": region, "account_id": ACCOUNT,
        "api": {"url": f"https://{api_id}.execute-api.{region}.amazonaws.com/{env}", "rest_api_id": api_id,
                "stage_name": env, "stage_arn": stage_arn, "web_acl_arn": acl_arn, "custom_domain": None,
                "access_log_group": groups[0], "execution_log_group": execution_group, "usage_plan_ids": []},
        "network": {"vpc_id": vpc, "security_group_ids": {k: sgs[k] for k in ("app", "endpoints", "database")},
                    "flow_log_group": groups[1]},
        "keys": keys,
        "backend": {"db_instance_id": db_id, "db_endpoint": f"{db_id}.example", "event_bus_name": f"{prefix}-bus",
                    "queue_urls": queue_urls, "secret_arns": secret_arns, "function_names": functions},
        "monitoring": {"owns_account_baseline": True, "alert_topic_arn": topic, "trail_name": trail_name,
                       "trail_bucket": trail_bucket, "config_recorder_name": recorder,
                       "guardduty_detector_id": detector},
        "allowed_public_ports": [443],
    }


def not_owning(outputs: dict[str, Any]) -> dict[str, Any]:
    """The same stack as exported by a stack that leaves the account baseline to another stack."""
    copy = json.loads(json.dumps(outputs))
    copy["environment"] = "dev"
    copy["monitoring"].update(owns_account_baseline=False, trail_name=None, trail_bucket=None,
                              config_recorder_name=None, guardduty_detector_id=None)
    return copy
