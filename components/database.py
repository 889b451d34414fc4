"""The orders database: RDS PostgreSQL in the isolated data tier, encrypted, TLS-only, IAM-authenticated."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components._iam import service_trust_policy
from components._naming import physical_name
from components.encryption import Encryption
from components.network import DB_PORT, Network
from components.settings import Settings

ENGINE = "postgres"
# RDS-exported logs (FSBP RDS.9 / RDS.36 want both for PostgreSQL).
LOG_EXPORTS = ("postgresql", "upgrade")
# The CA the RDS global bundle (shipped in the api package) trusts; the functions verify the server against it.
CA_CERT_IDENTIFIER = "rds-ca-rsa2048-g1"
# Statements slower than this are logged with their duration: enough to find slow queries without logging every
# statement (which would also write order data into the logs).
SLOW_STATEMENT_MS = 1000
ENHANCED_MONITORING_SECONDS = 60
ENHANCED_MONITORING_LOG_GROUP = "RDSOSMetrics"
# 7 days is the free Performance Insights retention.
PERFORMANCE_INSIGHTS_RETENTION_DAYS = 7
BACKUP_WINDOW = "02:00-03:00"  # UTC; must not overlap the maintenance window
MAINTENANCE_WINDOW = "sun:03:30-sun:04:30"

# Instance classes on which RDS offers no Performance Insights / Database Insights, per engine (AWS user guide,
# "Amazon RDS DB engine, Region, and instance class support for Database Insights"): only MySQL and MariaDB
# exclude the smallest burstable classes; RDS for PostgreSQL lists no restriction.
_NO_PERFORMANCE_INSIGHTS: dict[str, frozenset[str]] = {
    engine: frozenset(
        {"db.t2.micro", "db.t2.small", "db.t3.micro", "db.t3.small", "db.t4g.micro", "db.t4g.small"}
    )
    for engine in ("mysql", "mariadb")
}


def performance_insights_supported(engine: str, instance_class: str) -> bool:
    """Whether RDS accepts ``performance_insights_enabled`` for this engine and class (CreateDBInstance fails
    otherwise, so the flag must follow the class rather than be forced on)."""
    return instance_class not in _NO_PERFORMANCE_INSIGHTS.get(engine, frozenset())


def parameter_family(engine_version: str) -> str:
    """``16.4`` -> ``postgres16``: parameter groups are per major version."""
    return f"{ENGINE}{engine_version.split('.', maxsplit=1)[0]}"


def db_parameters() -> list[aws.rds.ParameterGroupParameterArgsDict]:
    """Server parameters. All are dynamic, so ``immediate`` applies them without a reboot."""
    values = {
        # Refuse unencrypted connections server-side, whatever a client asks for (FSBP RDS.41-style control).
        "rds.force_ssl": "1",
        # Who connected and when: the evidence an investigation needs (also CIS-style DB audit logging).
        "log_connections": "1",
        "log_disconnections": "1",
        "log_min_duration_statement": str(SLOW_STATEMENT_MS),
    }
    return [{"name": k, "value": v, "apply_method": "immediate"} for k, v in values.items()]


def db_identifier(settings: Settings) -> str:
    """Explicit instance identifier: the exported log groups are named after it, so it must be known up front."""
    identifier = physical_name(settings.name_prefix, "db", 63).lower()
    # RDS rejects identifiers with consecutive hyphens or a trailing hyphen.
    if "--" in identifier or identifier.endswith("-"):
        raise ValueError(
            f"environment: '{settings.environment}' gives the database identifier '{identifier}', which RDS rejects"
            " (no consecutive or trailing hyphens)"
        )
    return identifier


def db_user_arn(region: str, account_id: str, resource_id: str, username: str) -> str:
    """What ``rds-db:connect`` must name: the instance's resource id (not its identifier) and the database user."""
    return f"arn:aws:rds-db:{region}:{account_id}:dbuser:{resource_id}/{username}"


def _monitoring_policy(region: str, account_id: str) -> str:
    # Enhanced monitoring writes OS metrics to the account-wide RDSOSMetrics group (RDS names it; it is shared by
    # every instance in the region, so this stack does not own or pre-create it).
    group = f"arn:aws:logs:{region}:{account_id}:log-group:{ENHANCED_MONITORING_LOG_GROUP}"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "MetricsLogGroup",
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogGroup", "logs:PutRetentionPolicy"],
                    "Resource": group,
                },
                {
                    "Sid": "MetricsLogStreams",
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams",
                               "logs:GetLogEvents"],
                    "Resource": f"{group}:log-stream:*",
                },
            ],
        }
    )


@dataclass
class DatabaseArgs:
    settings: Settings
    """Validated stack settings (engine version, class, storage, protection, backups, names)."""
    network: Network
    """The VPC: the instance lives in its isolated data subnets behind its database security group."""
    encryption: Encryption
    """Keys: data key for storage and Performance Insights, secrets key for the master password, logs key."""
    account_id: pulumi.Input[str]
    """Account that owns the instance (scopes the monitoring role's trust)."""


class Database(pulumi.ComponentResource):
    """Creates the PostgreSQL instance and what it needs to be safe to run:

    - log groups for the exported logs, created first (KMS-encrypted, the environment's retention), because RDS
      would otherwise create them unencrypted and never expiring;
    - a subnet group over the isolated data subnets only (no route out of the VPC);
    - a parameter group forcing TLS and logging connections and slow statements;
    - an enhanced-monitoring role (FSBP RDS.6) limited to the RDSOSMetrics log group;
    - the instance: not public, storage and Performance Insights encrypted with the data key, master password
      generated and kept in Secrets Manager by RDS (never in state), IAM database authentication for the
      functions, automated backups, deletion protection / final snapshot / multi-AZ as configured, and
      ``protect`` in production.

    RDS Proxy is deliberately not used: the functions authenticate with IAM tokens directly, the reserved
    concurrency caps connections far below the instance's max_connections, and a proxy adds cost, another
    TLS hop and a Secrets Manager dependency. Add it if concurrency grows past what the instance can hold.
    """

    instance: aws.rds.Instance
    log_groups: dict[str, aws.cloudwatch.LogGroup]
    identifier: str

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:backend:Database", name, None, opts)
        s, net, keys = args.settings, args.network, args.encryption
        child = pulumi.ResourceOptions(parent=self)
        self.identifier = db_identifier(s)

        self.log_groups = {
            export: aws.cloudwatch.LogGroup(
                f"{name}-{export}-logs",
                name=f"/aws/rds/instance/{self.identifier}/{export}",
                retention_in_days=s.log_retention_days,
                kms_key_id=keys.logs_key.arn,
                opts=child,
            )
            for export in LOG_EXPORTS
        }
        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            description=f"{s.name_prefix} database: isolated data tier",
            subnet_ids=[sn.id for sn in net.data_subnets],
            opts=child,
        )
        parameter_group = aws.rds.ParameterGroup(
            f"{name}-params",
            family=parameter_family(s.db_engine_version),
            description=f"{s.name_prefix} database: TLS only, connection and slow-statement logging",
            parameters=db_parameters(),
            opts=child,
        )
        monitoring_role = aws.iam.Role(
            f"{name}-monitoring-role",
            description=f"RDS enhanced monitoring of {self.identifier}",
            assume_role_policy=service_trust_policy("monitoring.rds.amazonaws.com", args.account_id),
            opts=child,
        )
        # What AWS's AmazonRDSEnhancedMonitoringRole grants, narrowed to the one log group RDS writes to.
        monitoring_policy = aws.iam.RolePolicy(
            f"{name}-monitoring-policy",
            role=monitoring_role.id,
            policy=pulumi.Output.from_input(args.account_id).apply(
                lambda acct: _monitoring_policy(s.region, acct)
            ),
            opts=child,
        )

        insights = performance_insights_supported(ENGINE, s.db_instance_class)
        insights_args: dict[str, Any] = (
            {
                "performance_insights_enabled": True,
                "performance_insights_kms_key_id": keys.data_key.arn,
                "performance_insights_retention_period": PERFORMANCE_INSIGHTS_RETENTION_DAYS,
            }
            if insights
            else {"performance_insights_enabled": False}
        )
        self.instance = aws.rds.Instance(
            f"{name}-instance",
            identifier=self.identifier,
            engine=ENGINE,
            engine_version=s.db_engine_version,
            instance_class=s.db_instance_class,
            allocated_storage=s.db_allocated_storage_gb,
            max_allocated_storage=s.db_max_allocated_storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=keys.data_key.arn,
            db_name=s.db_name,
            username=s.db_master_username,
            # RDS generates the password and keeps it in Secrets Manager: it never passes through Pulumi state.
            manage_master_user_password=True,
            master_user_secret_kms_key_id=keys.secrets_key.arn,
            iam_database_authentication_enabled=True,
            port=DB_PORT,  # the security groups and NACLs of the network admit exactly this port
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[net.database_security_group.id],
            parameter_group_name=parameter_group.name,
            publicly_accessible=False,
            ca_cert_identifier=CA_CERT_IDENTIFIER,
            multi_az=s.db_multi_az,
            backup_retention_period=s.db_backup_retention_days,
            backup_window=BACKUP_WINDOW,
            maintenance_window=MAINTENANCE_WINDOW,
            copy_tags_to_snapshot=True,
            # Automated backups outlive an accidental deletion in production.
            delete_automated_backups=not s.production,
            deletion_protection=s.db_deletion_protection,
            skip_final_snapshot=s.db_skip_final_snapshot,
            # Always named, so switching dbSkipFinalSnapshot off later needs no other change.
            final_snapshot_identifier=f"{self.identifier}-final",
            auto_minor_version_upgrade=True,
            allow_major_version_upgrade=False,
            # Production changes wait for the maintenance window; dev applies them at once.
            apply_immediately=not s.production,
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
            monitoring_interval=ENHANCED_MONITORING_SECONDS,
            monitoring_role_arn=monitoring_role.arn,
            **insights_args,
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=s.production,
                # Log groups first (or RDS creates them unencrypted); the monitoring policy before RDS uses the role.
                depends_on=[*self.log_groups.values(), monitoring_policy],
            ),
        )
        self.register_outputs(
            {
                "identifier": self.instance.identifier,
                "address": self.instance.address,
                "logGroups": {k: g.name for k, g in self.log_groups.items()},
            }
        )
