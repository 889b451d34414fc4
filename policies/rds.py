"""RDS instance and cluster policies."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from . import _tokens as T
from ._meta import integer, resource_policy, stack_policy
from ._model import Resource, Stack
from ._values import UNKNOWN, as_bool, as_list, as_number, is_set

DB_TYPES = (T.RDS_INSTANCE, T.RDS_CLUSTER)
# Logs each engine must export, per the FSBP control for that engine (AWS Config rules' default logTypes):
# RDS.36 PostgreSQL and RDS.37 Aurora PostgreSQL: postgresql; RDS.34 Aurora MySQL: audit; RDS.42 MariaDB: error,
# audit; RDS.40 SQL Server: error, agent. MySQL and Oracle have no engine-specific control: RDS.9's lists apply.
_LOG_EXPORTS = {
    "postgres": ({"postgresql"}, "RDS.36"),
    "aurora-postgresql": ({"postgresql"}, "RDS.37"),
    "aurora-mysql": ({"audit"}, "RDS.34"),
    "mariadb": ({"audit", "error"}, "RDS.42"),
    "sqlserver": ({"error", "agent"}, "RDS.40"),
    "mysql": ({"audit", "error", "general", "slowquery"}, "RDS.9"),
    "oracle": ({"alert", "audit", "trace", "listener"}, "RDS.9"),
}
_DEFAULT_PORTS = {"mysql": 3306, "mariadb": 3306, "aurora-mysql": 3306, "aurora": 3306, "postgres": 5432,
                  "aurora-postgresql": 5432, "oracle": 1521, "sqlserver": 1433}


def _engine_family(engine: Any) -> str:
    if not isinstance(engine, str):
        return ""
    for prefix in ("oracle", "sqlserver"):
        if engine.startswith(prefix):
            return prefix
    return engine


def _is_replica(r: Resource) -> bool:
    return is_set(r.get("replicateSourceDb"))


@resource_policy(
    name="rds-not-public",
    description="RDS databases must not be publicly accessible.",
    severity=Severity.CRITICAL,
    category="exposure",
    controls=("RDS.2", "CIS3 2.3.3"),
    remediation="Set `publicly_accessible=False` (the default) and place the DB in isolated subnets.",
    resource_types=(T.RDS_INSTANCE, T.RDS_CLUSTER_INSTANCE),
)
def rds_not_public(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if as_bool(r.get("publiclyAccessible")) is True:
        yield f"The {r.label} sets publiclyAccessible=true."


@resource_policy(
    name="rds-multi-az",
    description="RDS instances should be Multi-AZ.",
    severity=Severity.MEDIUM,
    category="resilience",
    controls=("RDS.5", "AwsSolutions-RDS3"),
    remediation="Set `multi_az=True`.",
    resource_types=(T.RDS_INSTANCE,),
)
def rds_multi_az(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if not _is_replica(r) and r.get("multiAz") is not UNKNOWN and as_bool(r.get("multiAz")) is not True:
        yield f"The {r.label} is single-AZ; set multiAz=true."


@resource_policy(
    name="rds-enhanced-monitoring",
    description="RDS instances should have enhanced monitoring.",
    severity=Severity.LOW,
    category="operations",
    controls=("RDS.6",),
    remediation="Set `monitoring_interval` (1, 5, 10, 15, 30 or 60) and `monitoring_role_arn`.",
    resource_types=(T.RDS_INSTANCE, T.RDS_CLUSTER_INSTANCE),
)
def rds_enhanced_monitoring(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    interval = r.get("monitoringInterval")
    if interval is UNKNOWN:
        return
    if as_number(interval) not in (1, 5, 10, 15, 30, 60) or not is_set(r.get("monitoringRoleArn")):
        yield f"The {r.label} needs monitoringInterval in 1/5/10/15/30/60 and monitoringRoleArn."


@resource_policy(
    name="rds-log-exports",
    description="RDS databases must publish their engine logs to CloudWatch Logs.",
    severity=Severity.MEDIUM,
    category="operations",
    controls=("RDS.9", "RDS.34", "RDS.36", "RDS.37", "RDS.40", "RDS.42", "AwsSolutions-RDS16"),
    remediation="Set `enabled_cloudwatch_logs_exports` to the engine's logs (postgres: postgresql; mariadb: audit, "
    "error; aurora-mysql: audit; sqlserver: error, agent; mysql: audit, error, general, slowquery).",
    resource_types=DB_TYPES,
)
def rds_log_exports(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    family = _engine_family(r.get("engine"))
    if r.type == T.RDS_INSTANCE and family.startswith("aurora"):
        return  # an Aurora cluster's instances export nothing themselves: the cluster does
    required, control = _LOG_EXPORTS.get(family, (set(), ""))
    exports = r.get("enabledCloudwatchLogsExports")
    if not required or exports is UNKNOWN or UNKNOWN in as_list(exports):
        return
    missing = sorted(required - {e for e in as_list(exports) if isinstance(e, str)})
    if missing:
        yield f"The {r.label} does not export logs {', '.join(missing)} to CloudWatch Logs ({control})."


@resource_policy(
    name="rds-iam-authentication",
    description="RDS databases should enable IAM database authentication.",
    severity=Severity.MEDIUM,
    category="exposure",
    controls=("RDS.10", "RDS.12", "AwsSolutions-RDS6"),
    remediation="Set `iam_database_authentication_enabled=True`.",
    resource_types=DB_TYPES,
)
def rds_iam_authentication(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    family = _engine_family(r.get("engine"))
    if family not in ("mysql", "postgres", "mariadb", "aurora-mysql", "aurora-postgresql", "aurora"):
        return
    value = r.get("iamDatabaseAuthenticationEnabled")
    if value is not UNKNOWN and as_bool(value) is not True:
        yield f"The {r.label} must set iamDatabaseAuthenticationEnabled=true."


@resource_policy(
    name="rds-backup-retention",
    description="RDS databases must keep automated backups for at least the configured days.",
    severity=Severity.MEDIUM,
    category="resilience",
    controls=("RDS.11", "RDS.50", "AwsSolutions-RDS13"),
    remediation="Set `backup_retention_period` >= `minDays` (provider default 0 for instances, 1 for clusters).",
    resource_types=DB_TYPES,
    config={"minDays": integer("Minimum automated backup retention (days).", 7, 1)},
)
def rds_backup_retention(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if _is_replica(r):
        return
    value = r.get("backupRetentionPeriod")
    if value is UNKNOWN:
        return
    days = as_number(value)
    if days is None:
        days = 0 if r.type == T.RDS_INSTANCE else 1
    if days < cfg["minDays"]:
        yield f"The {r.label} keeps backups {days:g} days; at least {cfg['minDays']} are required."


@resource_policy(
    name="rds-auto-minor-version-upgrade",
    description="RDS databases must apply minor version upgrades automatically.",
    severity=Severity.HIGH,
    category="operations",
    controls=("RDS.13", "RDS.35", "CIS3 2.3.2"),
    remediation="Leave `auto_minor_version_upgrade` true (the default).",
    resource_types=(T.RDS_INSTANCE, T.RDS_CLUSTER_INSTANCE, T.RDS_CLUSTER),
)
def rds_auto_minor_version_upgrade(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if as_bool(r.get("autoMinorVersionUpgrade")) is False:
        yield f"The {r.label} sets autoMinorVersionUpgrade=false."


@resource_policy(
    name="rds-copy-tags-to-snapshot",
    description="RDS databases should copy tags to snapshots.",
    severity=Severity.LOW,
    category="operations",
    controls=("RDS.16", "RDS.17"),
    remediation="Set `copy_tags_to_snapshot=True`.",
    resource_types=DB_TYPES,
)
def rds_copy_tags_to_snapshot(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    value = r.get("copyTagsToSnapshot")
    if value is not UNKNOWN and as_bool(value) is not True:
        yield f"The {r.label} must set copyTagsToSnapshot=true."


@resource_policy(
    name="rds-non-default-port",
    description="RDS databases should not listen on the engine's default port.",
    severity=Severity.LOW,
    category="operations",
    controls=("RDS.23", "AwsSolutions-RDS11"),
    remediation="Set `port` to a non-default value.",
    resource_types=DB_TYPES,
)
def rds_non_default_port(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    default = _DEFAULT_PORTS.get(_engine_family(r.get("engine")))
    port = r.get("port")
    if default is None or port is UNKNOWN:
        return
    if port is None or as_number(port) == default:
        yield f"The {r.label} uses the default port {default}."


@resource_policy(
    name="rds-custom-admin-username",
    description="RDS master usernames must not be the well-known defaults.",
    severity=Severity.MEDIUM,
    category="operations",
    controls=("RDS.24", "RDS.25"),
    remediation="Choose a master username other than admin or postgres.",
    resource_types=DB_TYPES,
)
def rds_custom_admin_username(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    name = r.get("username") if r.type == T.RDS_INSTANCE else r.get("masterUsername")
    if isinstance(name, str) and name.lower() in ("admin", "postgres", "root", "sa"):
        yield f"The {r.label} uses the default master username '{name}'."


def _param(group: Resource, name: str) -> Any:
    for p in group.get("parameters") or []:
        if isinstance(p, dict) and p.get("name") == name:
            return p.get("value")
    return None


@stack_policy(
    name="rds-force-ssl",
    description="RDS instances must require TLS through their parameter group.",
    severity=Severity.MEDIUM,
    category="exposure",
    controls=("RDS.41", "RDS.44", "AwsSolutions-RDS"),
    remediation="Use a DB parameter group with rds.force_ssl=1 (PostgreSQL/SQL Server) or "
    "require_secure_transport=ON (MySQL/MariaDB).",
    preview_note="PostgreSQL 15+ defaults rds.force_ssl to 1, so the default parameter group passes.",
)
def rds_force_ssl(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    for db in stack.of_type(T.RDS_INSTANCE):
        family = _engine_family(db.get("engine"))
        good: tuple[str, ...]
        if family in ("postgres", "sqlserver"):
            key, good = "rds.force_ssl", ("1",)
        elif family in ("mysql", "mariadb"):
            key, good = "require_secure_transport", ("1", "ON", "on")
        else:
            continue
        groups = stack.targets_of(db, "parameterGroupName", [T.RDS_PARAMETER_GROUP], ["name", "id"])
        if not groups:
            if db.get("parameterGroupName") is not None:
                continue  # a group this stack doesn't own
            version = as_number(str(db.get("engineVersion") or "").split(".")[0])
            if family == "postgres" and version is not None and version >= 15:
                continue
            yield f"The {db.label} uses the default parameter group, which does not set {key}.", db.urn
            continue
        for group in groups:
            value = _param(group, key)
            if value is not UNKNOWN and str(value) not in good:
                yield f"The parameter group {group.label} of {db.label} must set {key}={good[0]}.", group.urn


def _world_route_to_igw(stack: Stack, table: Resource, igws: list[Resource]) -> bool:
    def to_igw(gateway_prop: str, holder: Resource) -> bool:
        gw = holder.get(gateway_prop)
        if isinstance(gw, str) and gw.startswith("igw-"):
            return True
        return any(stack.refers_to(holder, gateway_prop, igw, ["id"]) for igw in igws)

    for route in table.get("routes") or []:
        if isinstance(route, dict) and (route.get("cidrBlock") == "0.0.0.0/0"
                                        or route.get("ipv6CidrBlock") == "::/0"):
            gw = route.get("gatewayId")
            if (isinstance(gw, str) and gw.startswith("igw-")) or (
                gw is UNKNOWN and any(igw.urn in table.prop_deps.get("routes", set()) for igw in igws)
            ):
                return True
    for route in stack.referrers(table, [T.ROUTE], "routeTableId", ["id"]):
        world = route.get("destinationCidrBlock") == "0.0.0.0/0" or route.get("destinationIpv6CidrBlock") == "::/0"
        if world and to_igw("gatewayId", route):
            return True
    return False


@stack_policy(
    name="rds-not-in-public-subnet",
    description="RDS databases must not be in subnets routed to an internet gateway.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("RDS.46",),
    remediation="Use a DB subnet group of isolated subnets whose route tables have no 0.0.0.0/0 route to an "
    "internet gateway.",
    preview_note="Subnet and route table ids are unknown at preview; the chain DB -> subnet group -> subnets "
    "-> route table associations -> routes is followed through property dependencies.",
)
def rds_not_in_public_subnet(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    igws = stack.of_type(T.INTERNET_GATEWAY)
    subnets = stack.of_type(T.SUBNET)
    for db in stack.of_type(T.RDS_INSTANCE, T.RDS_CLUSTER_INSTANCE, T.RDS_CLUSTER):
        for group in stack.targets_of(db, "dbSubnetGroupName", [T.RDS_SUBNET_GROUP], ["name", "id"]):
            for subnet in [s for s in subnets if stack.refers_to(group, "subnetIds", s, ["id"])]:
                for assoc in stack.referrers(subnet, [T.ROUTE_TABLE_ASSOCIATION], "subnetId", ["id"]):
                    for table in stack.targets_of(assoc, "routeTableId", [T.ROUTE_TABLE], ["id"]):
                        if _world_route_to_igw(stack, table, igws):
                            yield (f"The {db.label} uses subnet {subnet.label}, whose route table {table.label} "
                                   "routes 0.0.0.0/0 to an internet gateway.", db.urn)


@resource_policy(
    name="rds-snapshot-not-public",
    description="RDS snapshots (instance, cluster and their copies) must not be shared with everyone.",
    severity=Severity.CRITICAL,
    category="exposure",
    controls=("RDS.1", "CKV_AWS_302"),
    remediation="Remove 'all' from `shared_accounts`; share with named account ids only.",
    resource_types=(T.RDS_SNAPSHOT, T.RDS_CLUSTER_SNAPSHOT, T.RDS_SNAPSHOT_COPY, T.RDS_CLUSTER_SNAPSHOT_COPY),
)
def rds_snapshot_not_public(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if any(isinstance(a, str) and a.strip().lower() == "all" for a in as_list(r.get("sharedAccounts"))):
        yield f"The {r.label} is shared with 'all': anyone with an AWS account can restore it."


def _cross_region_replica(r: Resource) -> bool:
    source = r.get("replicateSourceDb")
    return isinstance(source, str) and source.startswith("arn:")


@resource_policy(
    name="rds-in-custom-subnet-group",
    description="RDS instances and clusters must be placed with a DB subnet group (none means the default VPC).",
    severity=Severity.HIGH,
    category="exposure",
    controls=("NoDefaultVPC",),
    remediation="Set `db_subnet_group_name` to a subnet group of the workload's isolated subnets (and "
    "`vpc_security_group_ids`); without one RDS uses the default VPC, whose subnets are public.",
    resource_types=(T.RDS_INSTANCE, T.RDS_CLUSTER),
    preview_note="A same-region read replica takes its source's subnet group; a cross-region one (source given "
    "as an ARN) needs its own.",
)
def rds_in_custom_subnet_group(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if r.type == T.RDS_INSTANCE and is_set(r.get("replicateSourceDb")) and not _cross_region_replica(r):
        return
    if r.type == T.RDS_CLUSTER and is_set(r.get("replicationSourceIdentifier")):
        return
    if not is_set(r.get("dbSubnetGroupName")):
        yield (f"The {r.label} has no dbSubnetGroupName, so it is created in the default VPC (public subnets, "
               "the default security group).")
