"""PR: the baseline of a new workload account.  To cut CloudTrail cost the trail moves to advanced event
selectors: write management events only, plus S3 object writes of the data buckets."""

import json

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
# Account-wide switches outlive this stack: a destroy must not turn them off for the account.
SWITCH = pulumi.ResourceOptions(protect=True, retain_on_delete=True)
logs_key = config.require("logsKeyArn")
archive = config.require("logArchiveBucket")

trail_logs = aws.cloudwatch.LogGroup("trail", retention_in_days=365, kms_key_id=logs_key)
assume = aws.iam.get_policy_document(statements=[{
    "actions": ["sts:AssumeRole"], "principals": [{"type": "Service", "identifiers": ["cloudtrail.amazonaws.com"]}]}])
trail_role = aws.iam.Role("trail-to-logs", assume_role_policy=assume.json)
aws.iam.RolePolicy("trail-to-logs", role=trail_role.id, policy=trail_logs.arn.apply(lambda arn: json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                   "Resource": f"{arn}:log-stream:*"}]})))

aws.cloudtrail.Trail(
    "account",
    s3_bucket_name=archive,
    is_multi_region_trail=True,
    include_global_service_events=True,
    enable_log_file_validation=True,
    kms_key_id=logs_key,
    cloud_watch_logs_group_arn=trail_logs.arn.apply(lambda arn: f"{arn}:*"),
    cloud_watch_logs_role_arn=trail_role.arn,
    advanced_event_selectors=[
        {"name": "management writes", "field_selectors": [
            {"field": "eventCategory", "equals": ["Management"]},
            {"field": "readOnly", "equals": ["false"]},
        ]},
        {"name": "data bucket writes", "field_selectors": [
            {"field": "eventCategory", "equals": ["Data"]},
            {"field": "resources.type", "equals": ["AWS::S3::Object"]},
            {"field": "readOnly", "equals": ["false"]},
        ]},
    ],
    opts=SWITCH,
)

recorder = aws.cfg.Recorder("account", role_arn=config.require("configRoleArn"),
                            recording_group={"all_supported": True, "include_global_resource_types": True},
                            opts=SWITCH)
channel = aws.cfg.DeliveryChannel("account", s3_bucket_name=archive,
                                  opts=SWITCH.merge(pulumi.ResourceOptions(depends_on=[recorder])))
aws.cfg.RecorderStatus("account", name=recorder.name, is_enabled=True,
                       opts=SWITCH.merge(pulumi.ResourceOptions(depends_on=[channel])))

detector = aws.guardduty.Detector("account", enable=True, opts=SWITCH)
for feature in ("LAMBDA_NETWORK_LOGS", "RDS_LOGIN_EVENTS", "S3_DATA_EVENTS"):
    aws.guardduty.DetectorFeature(f"account-{feature.lower()}", detector_id=detector.id, name=feature,
                                  status="ENABLED")

hub = aws.securityhub.Account("account", enable_default_standards=False, opts=SWITCH)
for standard in ("aws-foundational-security-best-practices/v/1.0.0", "cis-aws-foundations-benchmark/v/3.0.0"):
    aws.securityhub.StandardsSubscription(
        f"account-{standard.split('/')[0]}", standards_arn=f"arn:aws:securityhub:eu-west-1::standards/{standard}",
        opts=SWITCH.merge(pulumi.ResourceOptions(depends_on=[hub])))

caller = aws.get_caller_identity()
aws.inspector2.Enabler("account", account_ids=[caller.account_id],
                       resource_types=["EC2", "ECR", "LAMBDA", "LAMBDA_CODE"], opts=SWITCH)
aws.accessanalyzer.Analyzer("account", analyzer_name="account", type="ACCOUNT", opts=SWITCH)
aws.s3.AccountPublicAccessBlock("account", block_public_acls=True, block_public_policy=True,
                                ignore_public_acls=True, restrict_public_buckets=True, opts=SWITCH)
aws.ebs.EncryptionByDefault("account", enabled=True, opts=SWITCH)
aws.account.AlternativeContact("security", alternate_contact_type="SECURITY", name="Security team",
                               email_address="security@example.com", phone_number="+3200000000",
                               title="CISO office")
