"""Every policy of the pack, in report order. Add new policies here."""

from __future__ import annotations

from pulumi_policy import Policy

from . import (
    apigateway,
    awslambda,
    baseline,
    delivery,
    dynamodb,
    encryption,
    exposure,
    iam,
    lifecycle,
    logs,
    messaging,
    network,
    protection,
    rds,
    s3,
    secretsmanager,
    tagging,
    wafv2,
)
from ._meta import PolicyDef

PACK_NAME = "secure-api-platform"

POLICIES: tuple[PolicyDef, ...] = (
    # Platform guarantees (always mandatory).
    apigateway.apigateway_method_authorization,
    apigateway.apigateway_stage_throttling,
    apigateway.apigateway_usage_plan_limits,
    apigateway.apigateway_api_key_usage_plan,
    apigateway.apigateway_stage_waf,
    apigateway.apigateway_stage_access_logging,
    awslambda.lambda_in_vpc,
    logs.log_group_retention,
    iam.iam_no_wildcard_actions,
    iam.iam_no_wildcard_resources,
    network.security_group_no_public_ingress,
    network.nacl_no_public_ingress,
    tagging.required_tags,
    encryption.data_encrypted_with_cmk,
    encryption.s3_bucket_encrypted_with_cmk,
    encryption.kms_key_rotation,
    protection.stateful_resource_protection,
    baseline.baseline_cloudtrail,
    baseline.baseline_config_recorder,
    baseline.baseline_guardduty,
    delivery.eventbridge_target_delivery,
    lifecycle.account_switch_protected,
    # Controls, enforced by severity (critical/high mandatory) unless the stack config says otherwise.
    exposure.resource_policy_not_public,
    exposure.lambda_not_public,
    apigateway.apigateway_execution_logging,
    apigateway.apigateway_xray_tracing,
    apigateway.apigateway_cache_encrypted,
    apigateway.apigateway_client_certificate,
    apigateway.apigateway_domain_tls_policy,
    apigateway.apigateway_request_validation,
    wafv2.wafv2_web_acl_has_rules,
    wafv2.wafv2_cloudwatch_metrics,
    wafv2.wafv2_logging,
    network.vpc_default_security_group_closed,
    network.vpc_flow_logs,
    network.subnet_no_auto_public_ip,
    network.nacl_in_use,
    network.eip_in_use,
    network.lambda_vpc_multi_az,
    iam.iam_no_admin_managed_policies,
    iam.iam_no_aws_managed_policies,
    iam.iam_no_user_policies,
    rds.rds_not_public,
    rds.rds_multi_az,
    rds.rds_enhanced_monitoring,
    rds.rds_log_exports,
    rds.rds_iam_authentication,
    rds.rds_backup_retention,
    rds.rds_auto_minor_version_upgrade,
    rds.rds_copy_tags_to_snapshot,
    rds.rds_non_default_port,
    rds.rds_custom_admin_username,
    rds.rds_force_ssl,
    rds.rds_not_in_public_subnet,
    dynamodb.dynamodb_point_in_time_recovery,
    dynamodb.dynamodb_scales_with_demand,
    awslambda.lambda_supported_runtime,
    awslambda.lambda_xray_tracing,
    messaging.sqs_dead_letter_queue,
    messaging.sqs_ssl_only,
    s3.s3_bucket_public_access_block,
    s3.s3_bucket_ssl_only,
    s3.s3_bucket_access_logging,
    s3.s3_bucket_owner_enforced,
    s3.s3_bucket_lifecycle,
    s3.s3_bucket_versioning,
    secretsmanager.secret_rotation_enabled,
    secretsmanager.secret_rotation_interval,
    logs.alarm_has_actions,
    baseline.baseline_guardduty_features,
    baseline.baseline_inspector,
    baseline.baseline_access_analyzer,
    baseline.baseline_security_hub,
    baseline.baseline_s3_account_public_access_block,
    baseline.baseline_ebs_default_encryption,
    baseline.baseline_security_contact,
    baseline.baseline_cloudtrail_cloudwatch,
)

BY_NAME: dict[str, PolicyDef] = {p.name: p for p in POLICIES}


def build_policies() -> list[Policy]:
    """The pulumi_policy Policy objects, in registry order."""
    return [p.build() for p in POLICIES]
