"""Account/region singletons: CloudTrail, AWS Config, GuardDuty, Security Hub, Inspector, and their CIS alarms.

Only the one stack per account and region that owns the baseline (``ownsAccountBaseline``) creates this component:
a second copy of any of these fails (one recorder/detector/hub per account and region) or double-bills (a second
multi-region trail).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components import cis_filters
from components._iam import policy_document, service_trust_policy, service_trust_statement
from components._naming import physical_name, trail_name
from components.log_bucket import access_log_bucket_policy, deny_insecure_transport, hardened_bucket
from components.ownership import baseline_options
from components.settings import Settings

FSBP = "aws-foundational-security-best-practices/v/1.0.0"
CIS_V3 = "cis-aws-foundations-benchmark/v/3.0.0"
SECURITY_STANDARDS = (FSBP, CIS_V3)

# One DetectorFeature per protection plan (Detector.datasources is deprecated). The first three cover this
# workload (GuardDuty.6/.9/.10); the others are account-level FSBP controls (GuardDuty.5/.8/.11) that cost nothing
# while the account runs no EKS clusters, EBS-backed instances or containers.
GUARDDUTY_FEATURES: tuple[str, ...] = (
    "S3_DATA_EVENTS",
    "RDS_LOGIN_EVENTS",
    "LAMBDA_NETWORK_LOGS",
    "EBS_MALWARE_PROTECTION",
    "EKS_AUDIT_LOGS",
    "RUNTIME_MONITORING",
)
# Agent management for RUNTIME_MONITORING (GuardDuty.7/.12/.13); only meaningful if the account runs EKS/ECS/EC2.
RUNTIME_MONITORING_ADDONS = ("EKS_ADDON_MANAGEMENT", "ECS_FARGATE_AGENT_MANAGEMENT", "EC2_AGENT_MANAGEMENT")

# Inspector.1-.4 are account-level FSBP controls; scanning costs nothing where there are no instances or images.
INSPECTOR_RESOURCE_TYPES = ("LAMBDA", "LAMBDA_CODE", "EC2", "ECR")

# AWS managed Config rules mirroring the policy pack at run time (identifiers from the AWS Config developer guide).
# No managed rule exists for SQS encryption (Security Hub's SQS.1 uses its own rule), so FSBP covers it.
CONFIG_RULES: dict[str, str] = {
    "API_GW_EXECUTION_LOGGING_ENABLED": "API Gateway stages log execution (ERROR or INFO)",
    "API_GW_ASSOCIATED_WITH_WAF": "API Gateway stages are protected by a WAF web ACL",
    "CLOUD_TRAIL_ENABLED": "A CloudTrail trail is logging",
    "MULTI_REGION_CLOUD_TRAIL_ENABLED": "A multi-region CloudTrail trail is logging",
    "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED": "CloudTrail log file validation is on",
    "CLOUD_TRAIL_ENCRYPTION_ENABLED": "CloudTrail logs are encrypted with KMS",
    "RDS_STORAGE_ENCRYPTED": "RDS storage is encrypted",
    "RDS_INSTANCE_PUBLIC_ACCESS_CHECK": "RDS instances are not publicly accessible",
    "ENCRYPTED_VOLUMES": "Attached EBS volumes are encrypted",
    "INCOMING_SSH_DISABLED": "No security group admits SSH from anywhere (restricted-ssh)",
    "VPC_FLOW_LOGS_ENABLED": "VPCs have flow logs",
    "VPC_DEFAULT_SECURITY_GROUP_CLOSED": "Default security groups allow no traffic",
    "CMK_BACKING_KEY_ROTATION_ENABLED": "Customer managed keys rotate",
    "S3_BUCKET_PUBLIC_READ_PROHIBITED": "No bucket allows public read",
    "S3_BUCKET_SSL_REQUESTS_ONLY": "Buckets deny requests without TLS",
    "S3_ACCOUNT_LEVEL_PUBLIC_ACCESS_BLOCKS_PERIODIC": "Account-level S3 Block Public Access is on",
    "LAMBDA_INSIDE_VPC": "Lambda functions run in a VPC",
    "LAMBDA_FUNCTION_PUBLIC_ACCESS_PROHIBITED": "Lambda function policies do not allow public invocation",
    "SNS_ENCRYPTED_KMS": "SNS topics are encrypted with KMS",
    "CLOUDWATCH_ALARM_ACTION_CHECK": "CloudWatch alarms notify on ALARM and OK",
}
# Parameters where the rule's defaults would contradict the platform: our alarms notify on ALARM and OK but not on
# INSUFFICIENT_DATA (the rule's default requires that too, which would flag every alarm).
CONFIG_RULE_PARAMETERS: dict[str, dict[str, str]] = {
    "CLOUDWATCH_ALARM_ACTION_CHECK": {
        "alarmActionRequired": "true", "okActionRequired": "true", "insufficientDataActionRequired": "false",
    },
}

def trail_bucket_policy(bucket_arn: str, account_id: str, trail_arn: str) -> dict[str, Any]:
    """CloudTrail (this trail only) and AWS Config (this account only) deliver; nobody uses plain HTTP."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AWSCloudTrailAclCheck",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:GetBucketAcl",
                "Resource": bucket_arn,
                "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}},
            },
            {
                "Sid": "AWSCloudTrailWrite",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/AWSLogs/{account_id}/*",
                "Condition": {
                    "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": trail_arn}
                },
            },
            {
                "Sid": "AWSConfigBucketPermissionsCheck",
                "Effect": "Allow",
                "Principal": {"Service": "config.amazonaws.com"},
                "Action": "s3:GetBucketAcl",
                "Resource": bucket_arn,
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            },
            {
                "Sid": "AWSConfigBucketExistenceCheck",
                "Effect": "Allow",
                "Principal": {"Service": "config.amazonaws.com"},
                "Action": "s3:ListBucket",
                "Resource": bucket_arn,
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            },
            {
                "Sid": "AWSConfigBucketDelivery",
                "Effect": "Allow",
                "Principal": {"Service": "config.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/AWSLogs/{account_id}/Config/*",
                "Condition": {
                    "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceAccount": account_id}
                },
            },
            deny_insecure_transport(bucket_arn),
        ],
    }


@dataclass
class AccountBaselineArgs:
    settings: Settings
    """Validated stack settings (naming, region, retention, production flag)."""
    logs_key_arn: pulumi.Input[str]
    """The logs CMK: encrypts the trail, its bucket, its log group and AWS Config deliveries."""
    account_id: pulumi.Input[str]
    """The account being baselined."""
    alert_topic_arn: pulumi.Input[str]
    """Where the CIS alarms notify."""
    claim: pulumi.Resource | None = None
    """This stack's baseline claim (components/ownership.py); every singleton is created after it."""


class AccountBaseline(pulumi.ComponentResource):
    """Creates the account/region security baseline:

    - CloudTrail: a multi-region trail (global service events, log file validation, KMS) into a hardened bucket
      (public access blocked, ACLs disabled, versioning, SSE-KMS with bucket key, lifecycle, TLS-only policy that
      admits this trail only, server access logs to a separate access-log bucket) and into a KMS-encrypted log
      group through its own role.
    - AWS Config: recorder (all supported + global types), delivery channel into the trail bucket, recorder status,
      and AWS managed rules mirroring the policy pack at run time.
    - GuardDuty detector with one DetectorFeature per protection plan; Security Hub (default standards off,
      consolidated control findings) subscribed to FSBP and CIS v3.0; Inspector v2; IAM Access Analyzer;
      account-level S3 Block Public Access; EBS encryption by default.
    - CIS v3.0 section 4 metric filters on the trail's log group, each with an alarm to the alert topic.

    Every resource here except the CIS filters and alarms is ``protect``ed and ``retain_on_delete`` in every stack
    that owns the baseline, dev included: these are account-wide switches and what they need to keep working (the
    trail's bucket, roles and log group, Config's role and delivery). Destroying a detector deletes its findings,
    disabling the recorder or hub loses history and fails FSBP, and a dev stack being torn down must not take the
    account's audit trail, threat detection or public-access block with it. ``pulumi destroy --exclude-protected``
    removes the application and keeps the baseline managed; handing it to another stack is README, "Account
    singletons". (Two stacks in one account never both own these: components/ownership.py checks at preview.)
    """

    trail: aws.cloudtrail.Trail
    trail_bucket: aws.s3.Bucket
    recorder: aws.cfg.Recorder
    detector: aws.guardduty.Detector

    def __init__(self, name: str, args: AccountBaselineArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:monitoring:AccountBaseline", name, None, opts)
        self._name, self._settings, self._claim = name, args.settings, args.claim
        s = args.settings
        account_id = pulumi.Output.from_input(args.account_id)
        self.trail_name = trail_name(s.name_prefix)
        # A plain string (not trail.arn): the bucket policy and key policy must name the trail before it exists.
        trail_arn = account_id.apply(lambda acct: f"arn:aws:cloudtrail:{s.region}:{acct}:trail/{self.trail_name}")

        self._trail(args, account_id, trail_arn)
        self._config(args, account_id)
        self._threat_detection(account_id)
        self._cis_alarms(args)

        self.register_outputs({
            "trailName": self.trail.name,
            "trailBucket": self.trail_bucket.bucket,
            "configRecorderName": self.recorder.name,
            "guarddutyDetectorId": self.detector.id,
        })

    # ---- options ---------------------------------------------------------------------------------------
    def _owned(self, depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.ResourceOptions:
        """Options of every baseline resource a switch needs to keep working (see the class doc)."""
        return baseline_options(self, self._claim, depends_on)

    def _bucket_name(self, purpose: str, account_id: pulumi.Output[str]) -> pulumi.Output[str]:
        # Bucket names are global: the account and region make them unique, the prefix tells dev from prod.
        prefix, region = self._settings.name_prefix, self._settings.region
        return account_id.apply(lambda acct: physical_name(prefix, f"{purpose}-{acct}-{region}", 63).lower())

    def _hardened_bucket(self, label: str, bucket_name: pulumi.Output[str],
                         sse: aws.s3.BucketServerSideEncryptionConfigurationRuleArgsDict
                         ) -> tuple[aws.s3.Bucket, list[pulumi.Resource]]:
        # No force_destroy: the account's audit trail outlives any stack (the bucket is retained anyway).
        return hardened_bucket(self._name, label, bucket_name, sse, self._settings.log_retention_days, self._owned)

    # ---- CloudTrail ------------------------------------------------------------------------------------
    def _trail(self, args: AccountBaselineArgs, account_id: pulumi.Output[str],
               trail_arn: pulumi.Output[str]) -> None:
        s, name = self._settings, self._name
        child = self._owned()

        # Server access logs cannot be delivered to a bucket whose default encryption is SSE-KMS, so the access-log
        # bucket uses SSE-S3 (AES256); it holds request metadata only, never the trail's log files.
        self.access_log_bucket, access_deps = self._hardened_bucket(
            "access-logs", self._bucket_name("access-logs", account_id),
            {"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}},
        )
        self.trail_bucket, trail_deps = self._hardened_bucket(
            "trail-bucket", self._bucket_name("trail", account_id),
            {
                "apply_server_side_encryption_by_default": {
                    "sse_algorithm": "aws:kms", "kms_master_key_id": args.logs_key_arn,
                },
                "bucket_key_enabled": True,  # one data key per bucket period instead of a KMS call per object
            },
        )
        access_policy = aws.s3.BucketPolicy(
            f"{name}-access-logs-policy",
            bucket=self.access_log_bucket.id,
            policy=pulumi.Output.all(self.access_log_bucket.arn, account_id, self.trail_bucket.arn).apply(
                lambda v: json.dumps(access_log_bucket_policy(v[0], v[1], v[2]))
            ),
            opts=self._owned(depends_on=access_deps),
        )
        aws.s3.BucketLogging(
            f"{name}-trail-bucket-logging",
            bucket=self.trail_bucket.id,
            target_bucket=self.access_log_bucket.id,
            target_prefix="trail-bucket/",
            opts=self._owned(depends_on=[access_policy]),
        )
        self.trail_bucket_policy = aws.s3.BucketPolicy(
            f"{name}-trail-bucket-policy",
            bucket=self.trail_bucket.id,
            policy=pulumi.Output.all(self.trail_bucket.arn, account_id, trail_arn).apply(
                lambda v: json.dumps(trail_bucket_policy(v[0], v[1], v[2]))
            ),
            opts=self._owned(depends_on=trail_deps),
        )

        # CloudTrail -> CloudWatch Logs, for the CIS metric filters (CloudTrail.5).
        self.trail_log_group = aws.cloudwatch.LogGroup(
            f"{name}-trail-logs",
            retention_in_days=s.log_retention_days,
            kms_key_id=args.logs_key_arn,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-trail-logs-role",
            description=f"CloudTrail delivery to the {s.name_prefix} trail log group",
            # The trust follows the CloudTrail guide; the role can do nothing but write to one log group.
            assume_role_policy=policy_document(service_trust_statement("cloudtrail.amazonaws.com", None)),
            opts=child,
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-trail-logs-write",
            role=role.id,
            policy=self.trail_log_group.arn.apply(lambda arn: policy_document({
                "Sid": "TrailLogStreams",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{arn}:log-stream:*",
            })),
            opts=child,
        )
        self.trail = aws.cloudtrail.Trail(
            f"{name}-trail",
            name=self.trail_name,
            s3_bucket_name=self.trail_bucket.id,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_log_file_validation=True,
            enable_logging=True,
            kms_key_id=args.logs_key_arn,
            # CloudTrail wants the log group ARN with the ":*" suffix that LogGroup.arn lacks.
            cloud_watch_logs_group_arn=self.trail_log_group.arn.apply(lambda arn: f"{arn}:*"),
            cloud_watch_logs_role_arn=role.arn,
            # CreateTrail checks that it can write to the bucket and the log group.
            opts=self._owned(depends_on=[self.trail_bucket_policy, role_policy]),
        )

    # ---- AWS Config ------------------------------------------------------------------------------------
    def _config(self, args: AccountBaselineArgs, account_id: pulumi.Output[str]) -> None:
        s, name = self._settings, self._name
        child = self._owned()
        role = aws.iam.Role(
            f"{name}-config-role",
            description=f"AWS Config recorder of {s.name_prefix}",
            assume_role_policy=service_trust_policy("config.amazonaws.com", account_id),
            opts=child,
        )
        managed = aws.iam.RolePolicyAttachment(
            f"{name}-config-managed",
            role=role.name,
            policy_arn=aws.iam.ManagedPolicy.AW_S_CONFIG_ROLE,  # read access to resource configurations
            opts=child,
        )
        delivery = aws.iam.RolePolicy(
            f"{name}-config-delivery",
            role=role.id,
            # AWS_ConfigRole grants no write to our bucket nor use of our key.
            policy=pulumi.Output.all(self.trail_bucket.arn, account_id, args.logs_key_arn).apply(
                lambda v: policy_document(
                    {
                        "Sid": "DeliverSnapshots",
                        "Effect": "Allow",
                        "Action": "s3:PutObject",
                        "Resource": f"{v[0]}/AWSLogs/{v[1]}/Config/*",
                        "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}},
                    },
                    {"Sid": "CheckBucketAcl", "Effect": "Allow", "Action": "s3:GetBucketAcl", "Resource": v[0]},
                    {
                        "Sid": "EncryptDeliveries",
                        "Effect": "Allow",
                        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                        "Resource": v[2],
                    },
                )
            ),
            opts=child,
        )
        self.recorder = aws.cfg.Recorder(
            f"{name}-config-recorder",
            name=physical_name(s.name_prefix, "config"),
            role_arn=role.arn,
            recording_group={"all_supported": True, "include_global_resource_types": True},
            opts=self._owned(depends_on=[managed]),
        )
        # PutDeliveryChannel test-writes to the bucket: it needs the recorder, the bucket policy and the role policy.
        channel = aws.cfg.DeliveryChannel(
            f"{name}-config-channel",
            name=physical_name(s.name_prefix, "config"),
            s3_bucket_name=self.trail_bucket.id,
            s3_kms_key_arn=args.logs_key_arn,
            snapshot_delivery_properties={"delivery_frequency": "TwentyFour_Hours"},
            opts=self._owned(depends_on=[self.recorder, self.trail_bucket_policy, delivery]),
        )
        self.recorder_status = aws.cfg.RecorderStatus(
            f"{name}-config-status",
            name=self.recorder.name,
            is_enabled=True,
            opts=self._owned(depends_on=[channel]),  # a recorder cannot start without a delivery channel
        )
        self.config_rules = [
            aws.cfg.Rule(
                f"{name}-rule-{identifier.lower().replace('_', '-')}",
                description=description,
                source={"owner": "AWS", "source_identifier": identifier},
                input_parameters=json.dumps(CONFIG_RULE_PARAMETERS[identifier])
                if identifier in CONFIG_RULE_PARAMETERS else None,
                # Rules evaluate nothing until the recorder runs; PutConfigRule fails without a recorder.
                opts=self._owned(depends_on=[self.recorder_status]),
            )
            for identifier, description in CONFIG_RULES.items()
        ]

    # ---- GuardDuty, Security Hub, Inspector and account-wide switches --------------------------------
    def _threat_detection(self, account_id: pulumi.Output[str]) -> None:
        s, name = self._settings, self._name
        self.detector = aws.guardduty.Detector(
            f"{name}-guardduty",
            enable=True,
            finding_publishing_frequency="FIFTEEN_MINUTES",  # default is 6 hours: too slow to page on
            opts=self._owned(),
        )
        self.detector_features = [
            aws.guardduty.DetectorFeature(
                f"{name}-guardduty-{feature.lower().replace('_', '-')}",
                detector_id=self.detector.id,
                name=feature,
                status="ENABLED",
                additional_configurations=[{"name": addon, "status": "ENABLED"} for addon in RUNTIME_MONITORING_ADDONS]
                if feature == "RUNTIME_MONITORING" else None,
                opts=self._owned(),
            )
            for feature in GUARDDUTY_FEATURES
        ]

        self.security_hub = aws.securityhub.Account(
            f"{name}-securityhub",
            # Default standards would add CIS 1.2 and make the FSBP subscription below fail ("already enabled").
            enable_default_standards=False,
            control_finding_generator="SECURITY_CONTROL",  # one finding per control, not one per standard
            auto_enable_controls=True,
            opts=self._owned(),
        )
        self.standards = [
            aws.securityhub.StandardsSubscription(
                f"{name}-standard-{'fsbp' if standard == FSBP else 'cis-v3'}",
                standards_arn=f"arn:aws:securityhub:{s.region}::standards/{standard}",
                # FSBP and CIS evaluate through AWS Config: subscribe once the recorder runs.
                opts=self._owned(depends_on=[self.security_hub, self.recorder_status]),
            )
            for standard in SECURITY_STANDARDS
        ]
        self.inspector = aws.inspector2.Enabler(
            f"{name}-inspector",
            account_ids=[account_id],
            resource_types=list(INSPECTOR_RESOURCE_TYPES),
            opts=self._owned(),
        )
        aws.accessanalyzer.Analyzer(
            f"{name}-access-analyzer",
            analyzer_name=physical_name(s.name_prefix, "access-analyzer"),
            type="ACCOUNT",  # IAM.28: finds resources shared outside the account
            opts=self._owned(),
        )
        aws.s3.AccountPublicAccessBlock(
            f"{name}-s3-account-pab",
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=self._owned(),
        )
        aws.ebs.EncryptionByDefault(f"{name}-ebs-encryption", enabled=True, opts=self._owned())

    # ---- CIS v3.0 section 4 ----------------------------------------------------------------------------
    def _cis_alarms(self, args: AccountBaselineArgs) -> None:
        name = self._name
        cis_filters.validate()
        self.cis_alarms: dict[str, aws.cloudwatch.MetricAlarm] = {}
        for cis in cis_filters.CIS_FILTERS:
            label = f"{name}-cis-{cis.control.replace('.', '-')}"
            metric_filter = aws.cloudwatch.LogMetricFilter(
                label,
                name=f"{self._settings.name_prefix}-cis-{cis.metric}",
                log_group_name=self.trail_log_group.name,
                pattern=cis.pattern,
                metric_transformation={"name": cis.metric, "namespace": cis_filters.NAMESPACE, "value": "1"},
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.cis_alarms[cis.control] = aws.cloudwatch.MetricAlarm(
                f"{label}-alarm",
                alarm_description=f"CIS {cis.control}: {cis.title} (CloudTrail, all regions)",
                namespace=cis_filters.NAMESPACE,
                metric_name=cis.metric,
                statistic="Sum",
                period=cis_filters.PERIOD_SECONDS,
                evaluation_periods=1,
                threshold=1,
                comparison_operator="GreaterThanOrEqualToThreshold",
                # The filter publishes only when an event matches: no data means nothing happened.
                treat_missing_data="notBreaching",
                alarm_actions=[args.alert_topic_arn],
                ok_actions=[args.alert_topic_arn],
                # The metric exists only once the filter does (the alarm names it by string).
                opts=pulumi.ResourceOptions(parent=self, depends_on=[metric_filter]),
            )
