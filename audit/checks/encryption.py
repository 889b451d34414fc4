"""Data at rest of the stack's queues, topic, log groups and secrets (SQS.1, SNS.1, CloudWatch log groups,
Secrets Manager on CMKs)."""

from __future__ import annotations

from audit.aws import AwsCallError
from audit.checks.context import AuditContext
from audit.model import Check, Result, Severity

QUEUE_CMK = Check(
    "sqs-queue-cmk", "SQS queue is encrypted with a customer managed KMS key", Severity.MEDIUM,
    "Set kms_master_key_id on the sqs.Queue to the data CMK (not alias/aws/sqs, not SSE-SQS).", ("SQS.1",),
)
TOPIC_CMK = Check(
    "sns-topic-cmk", "SNS topic is encrypted with a customer managed KMS key", Severity.MEDIUM,
    "Set kms_master_key_id on the sns.Topic to a CMK whose policy lets the publishers use it.", ("SNS.1",),
)
LOG_GROUP_ENCRYPTED = Check(
    "logs-group-kms", "Log group is encrypted with a KMS key", Severity.MEDIUM,
    "Create the log group in the stack with kms_key_id of the logs CMK before the service writes to it.",
)
LOG_GROUP_RETENTION = Check(
    "logs-group-retention", "Log group has a retention period", Severity.LOW,
    "Set retention_in_days (logRetentionDays) on the log group.", ("CloudWatch.16",),
)
SECRET_CMK = Check(
    "secretsmanager-secret-cmk", "Secret is encrypted with a customer managed KMS key", Severity.MEDIUM,
    "Set kms_key_id on the secretsmanager.Secret (or master_user_secret_kms_key_id on the DB) to the "
    "secrets CMK.",
)
CHECKS = (QUEUE_CMK, TOPIC_CMK, LOG_GROUP_ENCRYPTED, LOG_GROUP_RETENTION, SECRET_CMK)


def run(ctx: AuditContext) -> list[Result]:
    return [*_queues(ctx), *_topic(ctx), *_log_groups(ctx), *_secrets(ctx)]


def _cmk_result(check: Check, ctx: AuditContext, resource: str, key_id: str | None, what: str) -> Result:
    try:
        managed, why = ctx.customer_managed(key_id)
    except AwsCallError as exc:
        return check.errored(resource, str(exc))
    return check.judge(resource, managed, f"The {what} is encrypted with a {why}.",
                       f"The {what} must be encrypted with a customer managed KMS key: {why}.")


def _queues(ctx: AuditContext) -> list[Result]:
    results = []
    for name, url in ctx.outputs.backend.queue_urls.items():
        try:
            attributes = ctx.aws.call("sqs", "get_queue_attributes", QueueUrl=url,
                                      AttributeNames=["KmsMasterKeyId", "QueueArn"])["Attributes"]
        except AwsCallError as exc:
            results.append(QUEUE_CMK.errored(url, str(exc)))
            continue
        resource = attributes.get("QueueArn", url)
        results.append(_cmk_result(QUEUE_CMK, ctx, resource, attributes.get("KmsMasterKeyId"), f"{name} queue"))
    return results


def _topic(ctx: AuditContext) -> list[Result]:
    arn = ctx.outputs.monitoring.alert_topic_arn
    if not arn:
        return []
    try:
        attributes = ctx.aws.call("sns", "get_topic_attributes", TopicArn=arn)["Attributes"]
    except AwsCallError as exc:
        return [TOPIC_CMK.errored(arn, str(exc))]
    return [_cmk_result(TOPIC_CMK, ctx, arn, attributes.get("KmsMasterKeyId"), "alert topic")]


def stack_log_groups(ctx: AuditContext) -> list[str]:
    """Log groups the outputs name, plus each function's /aws/lambda/<name> group."""
    out = ctx.outputs
    names = [out.api.access_log_group, out.api.execution_log_group, out.network.flow_log_group]
    names += [f"/aws/lambda/{fn}" for fn in out.backend.function_names.values()]
    return list(dict.fromkeys(n for n in names if n))


def _log_groups(ctx: AuditContext) -> list[Result]:
    results: list[Result] = []
    for name in stack_log_groups(ctx):
        try:
            groups = [g for page in ctx.aws.pages("logs", "describe_log_groups", logGroupNamePrefix=name)
                      for g in page["logGroups"] if g["logGroupName"] == name]
        except AwsCallError as exc:
            results += [LOG_GROUP_ENCRYPTED.errored(name, str(exc)), LOG_GROUP_RETENTION.errored(name, str(exc))]
            continue
        if not groups:
            # The service would create it on first write: unencrypted and never expiring.
            message = f"The log group {name} does not exist; the service would create it unencrypted."
            results += [LOG_GROUP_ENCRYPTED.failed(name, message), LOG_GROUP_RETENTION.failed(name, message)]
            continue
        group = groups[0]
        retention = group.get("retentionInDays")
        results += [
            LOG_GROUP_ENCRYPTED.judge(name, bool(group.get("kmsKeyId")), f"Encrypted with {group.get('kmsKeyId')}.",
                                      "The log group is not encrypted with a KMS key."),
            LOG_GROUP_RETENTION.judge(name, bool(retention), f"Events expire after {retention} days.",
                                      "The log group keeps events forever (no retention set)."),
        ]
    return results


def _secrets(ctx: AuditContext) -> list[Result]:
    results = []
    for name, arn in ctx.outputs.backend.secret_arns.items():
        try:
            secret = ctx.aws.call("secretsmanager", "describe_secret", SecretId=arn)
        except AwsCallError as exc:
            results.append(SECRET_CMK.errored(arn, str(exc)))
            continue
        # No KmsKeyId means the AWS managed aws/secretsmanager key.
        results.append(_cmk_result(SECRET_CMK, ctx, arn, secret.get("KmsKeyId"), f"{name} secret"))
    return results
