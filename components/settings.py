"""Typed, validated settings for one stack.

Built once from the stack's configuration before any resource is registered. Every field maps to one config
key (its alias, the name users type in ``pulumi config set``); Pulumi.yaml declares each key's type,
description and default, so this module holds no defaults of its own: a key missing here means the project
file lost it, and the error says so.

Invalid input fails with a single SettingsError listing every offending key and what is allowed.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

import pulumi
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from components._cidr import MAX_AZS, CidrPlanError, plan_tiers

PROJECT = "secure-api-platform"

# CloudWatch Logs accepts only these retention values (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)
CLIENT_TIERS = ("basic", "premium")
_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_CLIENT_RE = re.compile(r"^[a-z][a-z0-9-]{1,30}:(basic|premium)$")
_HOST_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def required_concurrency(rate_per_second: float, p99_duration_ms: int) -> int:
    """Concurrent executions that carry ``rate_per_second`` when each takes ``p99_duration_ms`` (Little's law, the
    Lambda guide's "concurrency = requests per second x request duration", at the p99 for headroom)."""
    return math.ceil(round(rate_per_second * p99_duration_ms, 6) / 1000)


class SettingsError(ValueError):
    """Configuration is invalid; the message names every offending config key."""


PositiveInt = Annotated[int, Field(ge=1)]


class UsagePlanTier(BaseModel):
    """Limits of one usage-plan tier (per API key)."""

    rate_limit: float
    burst_limit: int
    quota_per_day: int


class Settings(BaseModel):
    """Everything that varies between stacks. Field aliases are the config keys."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    # identity
    stack: str
    environment: str = Field(alias="environment", description="Environment name used in names and tags.")
    owner: str = Field(alias="owner", min_length=1, description="Owner tag (team or person accountable).")
    region: str = Field(alias="aws:region", pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    production: bool = Field(alias="production")
    allow_unprotected_production: bool = Field(alias="allowUnprotectedProduction")

    # network
    vpc_cidr: str = Field(alias="vpcCidr")
    az_count: int = Field(alias="azCount", ge=2, le=MAX_AZS)
    nat_gateways: Literal["single", "per-az"] = Field(alias="natGateways")
    flow_log_destination: Literal["cloud-watch-logs", "s3"] = Field(alias="flowLogDestination")

    # encryption and logs
    kms_deletion_window_days: int = Field(alias="kmsDeletionWindowDays", ge=7, le=30)
    log_retention_days: int = Field(alias="logRetentionDays")

    # database
    db_engine_version: str = Field(alias="dbEngineVersion", pattern=r"^16(\.\d+)?$")
    db_instance_class: str = Field(alias="dbInstanceClass", pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    db_allocated_storage_gb: int = Field(alias="dbAllocatedStorageGb", ge=20, le=65536)
    db_max_allocated_storage_gb: int = Field(alias="dbMaxAllocatedStorageGb", ge=20, le=65536)
    db_multi_az: bool = Field(alias="dbMultiAz")
    db_deletion_protection: bool = Field(alias="dbDeletionProtection")
    db_skip_final_snapshot: bool = Field(alias="dbSkipFinalSnapshot")
    db_backup_retention_days: int = Field(alias="dbBackupRetentionDays", ge=1, le=35)
    db_name: str = Field(alias="dbName", pattern=r"^[a-z][a-z0-9_]{0,62}$")
    db_master_username: str = Field(alias="dbMasterUsername", pattern=r"^[a-z][a-z0-9_]{0,15}$")
    db_app_username: str = Field(alias="dbAppUsername", pattern=r"^[a-z][a-z0-9_]{0,62}$")

    # API edge
    throttle_rate_limit: float = Field(alias="throttleRateLimit", gt=0, le=10000)
    throttle_burst_limit: int = Field(alias="throttleBurstLimit", ge=1, le=5000)
    api_logging_level: Literal["ERROR", "INFO"] = Field(alias="apiLoggingLevel")
    waf_rate_limit: int = Field(alias="wafRateLimit", ge=10, le=2_000_000_000)
    max_request_body_bytes: int = Field(alias="maxRequestBodyBytes", ge=1, le=8192 * 8)
    api_clients: tuple[str, ...] = Field(alias="apiClients")
    plan_basic_rate_limit: float = Field(alias="planBasicRateLimit", gt=0)
    plan_basic_burst_limit: int = Field(alias="planBasicBurstLimit", ge=1)
    plan_basic_quota_per_day: int = Field(alias="planBasicQuotaPerDay", ge=1)
    plan_premium_rate_limit: float = Field(alias="planPremiumRateLimit", gt=0)
    plan_premium_burst_limit: int = Field(alias="planPremiumBurstLimit", ge=1)
    plan_premium_quota_per_day: int = Field(alias="planPremiumQuotaPerDay", ge=1)
    allowed_source_cidrs: tuple[str, ...] = Field(alias="allowedSourceCidrs")
    custom_domain_name: str = Field(alias="customDomainName")
    custom_domain_zone_id: str = Field(alias="customDomainZoneId")
    tls_security_policy: Literal[
        "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09",
        "SecurityPolicy_TLS13_1_3_2025_09",
        "SecurityPolicy_TLS13_1_3_FIPS_2025_09",
        "TLS_1_2",
    ] = Field(alias="tlsSecurityPolicy")

    # identity provider (JWT authorizer)
    jwt_issuer: str = Field(alias="jwtIssuer")
    jwt_audience: str = Field(alias="jwtAudience", min_length=1)
    jwks_url: str = Field(alias="jwksUrl")

    # external API (worker)
    external_api_url: str = Field(alias="externalApiUrl")
    oauth_token_url: str = Field(alias="oauthTokenUrl")
    oauth_scope: str = Field(alias="oauthScope")
    oauth_client_id: str = Field(alias="oauthClientId")
    external_allowed_hosts: tuple[str, ...] = Field(alias="externalAllowedHosts", min_length=1)

    # functions
    lambda_reserved_concurrency: int = Field(alias="lambdaReservedConcurrency", ge=-1, le=1000)
    function_p99_duration_ms: int = Field(alias="functionP99DurationMs", ge=1, le=29000)
    lambda_memory_mb: int = Field(alias="lambdaMemoryMb", ge=128, le=10240)

    # monitoring
    owns_account_baseline: bool = Field(alias="ownsAccountBaseline")
    alert_emails: tuple[str, ...] = Field(alias="alertEmails")
    alert_https_endpoint: str = Field(alias="alertHttpsEndpoint")
    finding_severity_threshold: Literal["LOW", "MEDIUM", "HIGH", "CRITICAL"] = Field(
        alias="findingSeverityThreshold"
    )
    alarm_5xx_rate_percent: float = Field(alias="alarm5xxRatePercent", gt=0, le=100)
    alarm_4xx_rate_percent: float = Field(alias="alarm4xxRatePercent", gt=0, le=100)
    alarm_p99_latency_ms: int = Field(alias="alarmP99LatencyMs", ge=50, le=29000)

    # ---- field checks -------------------------------------------------------------------------------
    @field_validator("log_retention_days")
    @classmethod
    def _retention_allowed(cls, v: int) -> int:
        if v not in LOG_RETENTION_DAYS:
            raise ValueError(f"must be one of the CloudWatch Logs retention values {list(LOG_RETENTION_DAYS)}")
        return v

    @field_validator("environment")
    @classmethod
    def _env_name(cls, v: str) -> str:
        if not _NAME_RE.match(v):
            raise ValueError("must start with a letter and hold 1-20 lowercase letters, digits or '-'")
        return v

    @field_validator("api_clients")
    @classmethod
    def _clients(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [c for c in v if not _CLIENT_RE.match(c)]
        if bad:
            raise ValueError(f"entries must look like 'client-name:basic' or 'client-name:premium'; bad: {bad}")
        names = [c.split(":")[0] for c in v]
        if len(set(names)) != len(names):
            raise ValueError("client names must be unique")
        return v

    @field_validator("allowed_source_cidrs")
    @classmethod
    def _cidrs(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for c in v:
            try:
                net = ipaddress.ip_network(c, strict=True)
            except ValueError as exc:
                raise ValueError(f"'{c}' is not a CIDR block ({exc})") from exc
            if net.prefixlen == 0:
                raise ValueError(f"'{c}' allows the whole internet; leave the list empty for no restriction")
        return v

    @field_validator("jwt_issuer", "jwks_url", "external_api_url", "oauth_token_url")
    @classmethod
    def _https(cls, v: str) -> str:
        parsed = urlparse(v)
        if parsed.scheme != "https" or not parsed.hostname:
            raise ValueError("must be an https:// URL with a host name")
        return v

    @field_validator("alert_https_endpoint")
    @classmethod
    def _optional_https(cls, v: str) -> str:
        return cls._https(v) if v else v

    @field_validator("external_allowed_hosts")
    @classmethod
    def _hosts(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [h for h in v if not _HOST_RE.match(h)]
        if bad:
            raise ValueError(f"entries must be lowercase DNS host names (no scheme, port or wildcard); bad: {bad}")
        return v

    @field_validator("alert_emails")
    @classmethod
    def _emails(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [e for e in v if not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", e)]
        if bad:
            raise ValueError(f"entries must be e-mail addresses; bad: {bad}")
        return v

    @field_validator("custom_domain_name")
    @classmethod
    def _domain(cls, v: str) -> str:
        if v and not _HOST_RE.match(v):
            raise ValueError("must be a lowercase DNS name such as api.example.com, or empty for none")
        return v

    # ---- cross-field checks (each error names its keys) ---------------------------------------------
    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        errors: list[str] = []
        try:
            plan_tiers(self.vpc_cidr, self.az_count)
        except CidrPlanError as exc:
            errors.append(f"vpcCidr: {exc}")
        if self.db_max_allocated_storage_gb < self.db_allocated_storage_gb:
            errors.append("dbMaxAllocatedStorageGb: must be >= dbAllocatedStorageGb")
        if self.throttle_burst_limit < self.throttle_rate_limit:
            errors.append("throttleBurstLimit: must be >= throttleRateLimit (a burst below the rate is never used)")
        for host in (urlparse(self.external_api_url).hostname, urlparse(self.oauth_token_url).hostname):
            if host not in self.external_allowed_hosts:
                errors.append(f"externalAllowedHosts: must include '{host}' (used by externalApiUrl/oauthTokenUrl)")
        if self.db_app_username == self.db_master_username:
            errors.append("dbAppUsername: must differ from dbMasterUsername (the app role must not own the schema)")
        if self.db_app_username.startswith(("pg_", "rds")) or self.db_app_username in {"postgres", "public"}:
            errors.append("dbAppUsername: must not be a PostgreSQL or RDS reserved role name (pg_*, rds*, postgres)")
        if bool(self.custom_domain_name) != bool(self.custom_domain_zone_id):
            errors.append("customDomainName/customDomainZoneId: set both (or neither)")
        if self.lambda_reserved_concurrency >= 0:
            needed = required_concurrency(self.throttle_rate_limit, self.function_p99_duration_ms)
            if self.lambda_reserved_concurrency < needed:
                errors.append(
                    f"lambdaReservedConcurrency: {self.lambda_reserved_concurrency} cannot carry throttleRateLimit "
                    f"{self.throttle_rate_limit:g} requests/s at functionP99DurationMs {self.function_p99_duration_ms}"
                    f" ms: concurrency >= rate x p99 duration = {needed} (raise lambdaReservedConcurrency, or lower "
                    "throttleRateLimit; -1 leaves the functions unreserved)"
                )
        if self.production and not self.allow_unprotected_production:
            unprotected = [
                key
                for key, insecure in (
                    ("dbDeletionProtection", not self.db_deletion_protection),
                    ("dbSkipFinalSnapshot", self.db_skip_final_snapshot),
                    ("dbMultiAz", not self.db_multi_az),
                    ("kmsDeletionWindowDays", self.kms_deletion_window_days < 30),
                )
                if insecure
            ]
            if unprotected:
                errors.append(
                    f"{', '.join(unprotected)}: a production stack must keep deletion protection, final snapshots,"
                    " multi-AZ and a 30-day key deletion window; set allowUnprotectedProduction: true to override"
                )
        if errors:
            raise ValueError("; ".join(errors))
        return self

    # ---- derived values ------------------------------------------------------------------------------
    @property
    def name_prefix(self) -> str:
        """Prefix of explicit physical names: unique per environment in a shared account."""
        return f"sap-{self.environment}"

    @property
    def nat_gateway_count(self) -> int:
        return self.az_count if self.nat_gateways == "per-az" else 1

    @property
    def usage_plan_tiers(self) -> dict[str, UsagePlanTier]:
        return {
            "basic": UsagePlanTier(
                rate_limit=self.plan_basic_rate_limit,
                burst_limit=self.plan_basic_burst_limit,
                quota_per_day=self.plan_basic_quota_per_day,
            ),
            "premium": UsagePlanTier(
                rate_limit=self.plan_premium_rate_limit,
                burst_limit=self.plan_premium_burst_limit,
                quota_per_day=self.plan_premium_quota_per_day,
            ),
        }

    @property
    def clients(self) -> dict[str, str]:
        """API-key clients: name -> tier."""
        return dict(c.split(":", 1) for c in self.api_clients)

    @property
    def tags(self) -> dict[str, str]:
        """Provider default tags: on every taggable resource."""
        return {
            "Project": PROJECT,
            "Environment": self.environment,
            "ManagedBy": "pulumi",
            "Owner": self.owner,
        }


_LIST_FIELDS = {
    f.alias for f in Settings.model_fields.values() if f.alias and str(f.annotation).startswith("tuple")
}
CONFIG_KEYS: tuple[str, ...] = tuple(
    f.alias for name, f in Settings.model_fields.items() if name != "stack" and f.alias
)
# Secrets are read as pulumi Outputs where they are used (never validated into plain settings).
SECRET_KEYS: tuple[str, ...] = ("oauthClientSecret",)


def _describe(error: dict[str, Any]) -> str:
    loc = str(error["loc"][0]) if error["loc"] else None
    aliases = {f.alias for f in Settings.model_fields.values()}
    key = loc if loc in aliases else (Settings.model_fields[loc].alias if loc in Settings.model_fields else None)
    msg = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "missing":
        return f"{key}: is not set (Pulumi.yaml must declare it with a default)"
    if key is None:
        return msg
    shown = error.get("input")
    return f"{key}: {msg} (got {shown!r})"


def settings_from_mapping(stack: str, raw: Mapping[str, Any]) -> Settings:
    """Validate raw config values (strings as Pulumi stores them, or already-typed values).

    ``raw`` is keyed by config key (``vpcCidr``, ``aws:region``). An empty ``environment`` means the stack name.
    """
    values: dict[str, Any] = {"stack": stack}
    problems: list[str] = []
    for key, given in raw.items():
        value = given
        if key in SECRET_KEYS:
            continue
        if key not in CONFIG_KEYS:
            if not key.startswith("aws:"):  # provider keys (aws:profile, aws:defaultTags...) are the provider's
                problems.append(f"{key}: is not a known config key (see Pulumi.yaml for the keys this project reads)")
            continue
        if key in _LIST_FIELDS and isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                problems.append(f"{key}: must be a JSON list (got {value!r})")
                continue
            if not isinstance(value, list):
                problems.append(f"{key}: must be a list (got {value!r})")
                continue
        values[key] = value
    if not values.get("environment"):
        values["environment"] = stack
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        problems.extend(_describe(dict(e)) for e in exc.errors())
    if problems:
        raise SettingsError(f"invalid configuration for stack '{stack}': " + "; ".join(problems))
    return settings


def load_settings(get: Callable[[str], str | None], stack: str) -> Settings:
    """Read every declared key through ``get`` (full key -> raw string) and validate.

    ``get`` is usually ``pulumi_config_reader()``; tests pass a dict's ``get``.
    """
    raw = {key: value for key in CONFIG_KEYS if (value := get(key)) is not None}
    return settings_from_mapping(stack, raw)


def pulumi_config_reader() -> Callable[[str], str | None]:
    """A reader over the running stack's pulumi.Config (project keys and ``aws:`` keys)."""
    project_cfg = pulumi.Config()
    aws_cfg = pulumi.Config("aws")

    def get(key: str) -> str | None:
        if key.startswith("aws:"):
            return aws_cfg.get(key.split(":", 1)[1])
        return project_cfg.get(key)

    return get
