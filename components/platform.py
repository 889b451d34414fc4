"""The whole platform for one stack: the tiers wired together."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.api import Api, ApiArgs
from components.backend import Backend, BackendArgs
from components.encryption import Encryption, EncryptionArgs
from components.monitoring import EventRuleRef, Monitoring, MonitoringArgs
from components.network import Network, NetworkArgs
from components.ownership import check_ownership, claim_parameter
from components.settings import Settings


@dataclass
class PlatformArgs:
    settings: Settings
    """Validated settings of the stack being deployed."""
    oauth_client_secret: pulumi.Output[str] | None = None
    """External API client secret from `pulumi config set --secret oauthClientSecret` (None: not set)."""


class SecureApiPlatform(pulumi.ComponentResource):
    """Creates, in dependency order: the KMS keys, the VPC tiers, the backend services, the API edge and the
    monitoring baseline, and exposes what users of the stack need (its outputs)."""

    def __init__(self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:SecureApiPlatform", name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)
        stack = pulumi.get_stack()
        # Before any resource: a second owner of the account baseline, or a stack relying on a missing one, fails here
        # with an explanation rather than half-way through `pulumi up`.
        check_ownership(s, stack, pulumi.InvokeOptions(parent=self))
        self.baseline_claim = (
            claim_parameter(f"{name}-baseline-claim", s, stack, child) if s.owns_account_baseline else None
        )
        self.account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self)).account_id

        self.encryption = Encryption(f"{name}-keys", EncryptionArgs(s, self.account_id), child)
        self.network = Network(
            f"{name}-network", NetworkArgs(s, self.encryption.logs_key, self.account_id), child
        )
        self.backend = Backend(
            f"{name}-backend",
            BackendArgs(s, self.network, self.encryption, self.account_id, args.oauth_client_secret),
            child,
        )
        self.api = Api(
            f"{name}-api",
            ApiArgs(
                settings=s,
                api_function=self.backend.functions["api"].function,
                reconcile_function=self.backend.functions["reconcile"].function,
                logs_key_arn=self.encryption.logs_key.arn,
                lambda_env_key_arn=self.encryption.data_key.arn,
                subnet_ids=[sn.id for sn in self.network.app_subnets],
                security_group_ids=[self.network.app_security_group.id],
                baseline_claim=self.baseline_claim,
            ),
            child,
        )
        functions = {key: fn.function.name for key, fn in self.backend.functions.items()}
        functions["authorizer"] = self.api.authorizer_function.function.name
        self.monitoring = Monitoring(
            f"{name}-monitoring",
            MonitoringArgs(
                settings=s,
                encryption=self.encryption,
                account_id=self.account_id,
                api_name=self.api.rest_api.name,
                stage_name=self.api.stage.stage_name,
                web_acl_metric_name=self.api.web_acl_metric_name,
                function_names=functions,
                dlq_name=self.backend.dlq.name,
                db_instance_id=self.backend.db.identifier,
                access_log_group_name=self.api.access_log_group.name,
                event_rules={"orders": EventRuleRef(self.backend.events.rule.name, self.backend.event_bus.name)},
                baseline_claim=self.baseline_claim,
            ),
            child,
        )
        self.outputs: dict[str, pulumi.Input[object]] = {
            "environment": s.environment,
            "api": self.api.outputs,
            "monitoring": self.monitoring.outputs(),
            "region": s.region,
            "account_id": self.account_id,
            "keys": {
                "data": self.encryption.data_key.arn,
                "logs": self.encryption.logs_key.arn,
                "secrets": self.encryption.secrets_key.arn,
            },
            "network": {
                "vpc_id": self.network.vpc.id,
                "security_group_ids": {
                    "app": self.network.app_security_group.id,
                    "endpoints": self.network.endpoint_security_group.id,
                    "database": self.network.database_security_group.id,
                },
                "flow_log_group": group.name if (group := self.network.flow_log_group) else None,
                "flow_log_bucket": bucket.bucket if (bucket := self.network.flow_log_bucket) else None,
            },
            "backend": {
                "db_instance_id": self.backend.db.identifier,
                "db_endpoint": self.backend.db.endpoint,
                "event_bus_name": self.backend.event_bus.name,
                "queue_urls": {"orders": self.backend.queue.url, "orders_dlq": self.backend.dlq.url},
                "secret_arns": {
                    "oauth_client": self.backend.oauth_secret.arn,
                    "db_master": self.backend.db_master_secret_arn,
                },
                "function_names": functions,
            },
            "allowed_public_ports": [443],
        }
        self.register_outputs(self.outputs)
