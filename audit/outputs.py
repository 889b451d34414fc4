"""The stack outputs contract (`pulumi stack output --json`), validated so bad input names the field."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _Model(BaseModel):
    # Unknown keys are allowed so that new exports in __main__.py do not break an older audit.
    model_config = ConfigDict(extra="ignore", frozen=True)


class ApiOutputs(_Model):
    url: str
    rest_api_id: str
    stage_name: str
    stage_arn: str
    web_acl_arn: str | None = None
    custom_domain: str | None = None
    access_log_group: str
    execution_log_group: str
    usage_plan_ids: list[str] = Field(default_factory=list)


class NetworkOutputs(_Model):
    vpc_id: str
    security_group_ids: dict[str, str] = Field(default_factory=dict)
    flow_log_group: str | None = None


class KeyOutputs(_Model):
    data: str
    logs: str
    secrets: str


class BackendOutputs(_Model):
    db_instance_id: str
    db_endpoint: str | None = None
    event_bus_name: str | None = None
    queue_urls: dict[str, str] = Field(default_factory=dict)
    secret_arns: dict[str, str] = Field(default_factory=dict)
    function_names: dict[str, str] = Field(default_factory=dict)


class MonitoringOutputs(_Model):
    owns_account_baseline: bool
    alert_topic_arn: str | None = None
    trail_name: str | None = None
    trail_bucket: str | None = None
    config_recorder_name: str | None = None
    guardduty_detector_id: str | None = None


class StackOutputs(_Model):
    environment: str
    region: str
    account_id: str | None = None
    api: ApiOutputs
    network: NetworkOutputs
    keys: KeyOutputs
    backend: BackendOutputs
    monitoring: MonitoringOutputs
    allowed_public_ports: list[int] = Field(default_factory=lambda: [443])

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"


class OutputsError(ValueError):
    """The outputs document is missing or malformed; the message names the field."""


def parse_outputs(text: str, source: str = "outputs") -> StackOutputs:
    try:
        raw: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise OutputsError(f"{source}: not JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(raw, dict):
        raise OutputsError(f"{source}: expected a JSON object (pulumi stack output --json)")
    try:
        return StackOutputs.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise OutputsError(f"{source}: {problems}") from exc
