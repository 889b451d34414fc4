"""The backend tier: database, order events, the external API credentials and the functions that use them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.capacity import BOOTSTRAP_RESERVATION
from components.database import Database, DatabaseArgs, db_user_arn
from components.encryption import Encryption
from components.events import EVENT_SOURCE, OrderEvents, OrderEventsArgs
from components.lambda_function import FunctionArgs, VpcFunction
from components.network import DB_PORT, Network
from components.settings import Settings
from functions.api.config import RDS_CA_BUNDLE_PACKAGE_PATH
from functions.api.schema import SCHEMA_VERSION, code_version, quote_role

API_TIMEOUT_SECONDS = 10
# The bootstrap's DDL may wait for locks held by running functions (it gives up after its own lock timeout).
BOOTSTRAP_TIMEOUT_SECONDS = 60
WORKER_TIMEOUT_SECONDS = 60
# AWS's advice for an SQS event source: visibility timeout >= 6x the function timeout, so a batch being retried
# after throttling is not handed to a second invocation while the first still runs.
VISIBILITY_TIMEOUT_FACTOR = 6
WORKER_BATCH_SIZE = 10
# Wait at most this long to fill a batch: fewer invocations under load, bounded added latency.
WORKER_BATCHING_WINDOW_SECONDS = 2
# Lambda extracts the package to /var/task (LAMBDA_TASK_ROOT); packaging puts the RDS global CA bundle at the path
# the api package declares (functions/api/rds-ca-bundle/README.md).
DB_SSL_ROOT_CERT = f"/var/task/{RDS_CA_BUNDLE_PACKAGE_PATH}"
# Worker HTTP limits (contract defaults, set explicitly so the deployed values are visible in the console).
WORKER_HTTP_ENV = {"HTTP_CONNECT_TIMEOUT": "3", "HTTP_READ_TIMEOUT": "10", "MAX_RESPONSE_BYTES": "1048576"}


@dataclass
class BackendArgs:
    settings: Settings
    """Validated stack settings."""
    network: Network
    """The VPC: functions in the app subnets with the app SG, the database in the data subnets."""
    encryption: Encryption
    """Customer managed keys (data, logs, secrets)."""
    account_id: pulumi.Input[str]
    """The AWS account (IAM resource ARNs and trust conditions name it)."""
    oauth_client_secret: pulumi.Output[str] | None = None
    """External API client secret (``pulumi config set --secret oauthClientSecret``); None: the secret is created
    without a value and must be set before the worker can call the external API."""


def _master_secret_arn(secrets: Any) -> str:
    if not secrets:
        # manage_master_user_password is on, so RDS always reports the secret; without it nothing can log in.
        raise ValueError("the database reports no RDS-managed master user secret; the bootstrap cannot read it")
    return str(secrets[0]["secret_arn"] if isinstance(secrets[0], dict) else secrets[0].secret_arn)


def _secret_decrypt_statement(key_arn: pulumi.Input[str], secret_arn: pulumi.Input[str], region: str
                              ) -> pulumi.Output[Mapping[str, Any]]:
    """kms:Decrypt on the secrets key, only when Secrets Manager asks on the caller's behalf for this secret."""
    return pulumi.Output.all(key_arn, secret_arn).apply(
        lambda a: {
            "Sid": "DecryptMasterSecret",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": a[0],
            "Condition": {
                "StringEquals": {
                    "kms:ViaService": f"secretsmanager.{region}.amazonaws.com",
                    "kms:EncryptionContext:SecretARN": a[1],
                }
            },
        }
    )


def _allow(sid: str, actions: list[str], resources: pulumi.Input[Any]) -> pulumi.Output[Mapping[str, Any]]:
    """An Allow statement naming its resources (Outputs resolved into the policy document)."""
    return pulumi.Output.from_input(resources).apply(
        lambda res: {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": res}
    )


class Backend(pulumi.ComponentResource):
    """Creates the backend tier and grants each function exactly what its code calls:

    - ``Database``: RDS PostgreSQL in the isolated tier (see components/database.py);
    - ``OrderEvents``: encrypted bus -> rule -> encrypted queue + DLQ (see components/events.py);
    - the external API's OAuth2 client credentials in Secrets Manager (secrets key; a value only when the secret
      config is set; ``protect``ed in production);
    - functions in the app tier: ``api`` and ``reconcile`` (PostgreSQL as the IAM-authenticated app user, PutEvents
      on the bus) and ``worker`` (consumes the queue with partial batch failures, reads the OAuth secret), each
      with its own role, env vars encrypted with the data key;
    - the worker's SQS event source mapping;
    - the database ``bootstrap`` function (same package as the api; reads only the RDS-managed master secret)
      and an ``aws.lambda_.Invocation`` of it that runs at deploy time, once the instance and the network path
      to it exist: it creates the app role (granted rds_iam), applies the schema as the master user and grants
      the app role only SELECT/INSERT and UPDATE of the outbox columns. It runs again when the instance is
      replaced, the app user or schema version changes, or the bootstrap code changes; if it fails, the
      deployment fails with its error message.
    """

    db: aws.rds.Instance
    database: Database
    events: OrderEvents
    event_bus: aws.cloudwatch.EventBus
    queue: aws.sqs.Queue
    dlq: aws.sqs.Queue
    oauth_secret: aws.secretsmanager.Secret
    oauth_secret_version: aws.secretsmanager.SecretVersion | None
    functions: dict[str, VpcFunction]
    bootstrap: aws.lambda_.Invocation
    db_log_groups: dict[str, aws.cloudwatch.LogGroup]
    db_master_secret_arn: pulumi.Output[str | None]

    def __init__(self, name: str, args: BackendArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:backend:Backend", name, None, opts)
        s, net, keys = args.settings, args.network, args.encryption
        if args.oauth_client_secret is not None and not s.oauth_client_id:
            raise ValueError("oauthClientId: must be set when oauthClientSecret is set (the token request needs both)")
        child = pulumi.ResourceOptions(parent=self)

        self.database = Database(f"{name}-db", DatabaseArgs(s, net, keys, args.account_id), child)
        self.db = self.database.instance
        self.db_log_groups = self.database.log_groups
        self.db_master_secret_arn = self.db.master_user_secrets.apply(
            lambda secrets: secrets[0].secret_arn if secrets else None
        )

        self.events = OrderEvents(
            f"{name}-events",
            OrderEventsArgs(s, keys, visibility_timeout_seconds=VISIBILITY_TIMEOUT_FACTOR * WORKER_TIMEOUT_SECONDS),
            child,
        )
        self.event_bus, self.queue, self.dlq = self.events.bus, self.events.queue, self.events.dlq

        self.oauth_secret, self.oauth_secret_version = self._oauth_secret(name, s, keys, args.oauth_client_secret)
        self.functions = self._functions(name, args)
        self.bootstrap = self._bootstrap_invocation(name, s, args.network)

        aws.lambda_.EventSourceMapping(
            f"{name}-worker-queue",
            event_source_arn=self.queue.arn,
            function_name=self.functions["worker"].function.arn,
            batch_size=WORKER_BATCH_SIZE,
            maximum_batching_window_in_seconds=WORKER_BATCHING_WINDOW_SECONDS,
            # The worker reports which messages failed; only those are retried (and eventually dead-lettered).
            function_response_types=["ReportBatchItemFailures"],
            # Below the reserved concurrency, so the poller never invokes into throttling (throttled batches count
            # as receives and would push healthy messages toward the DLQ). SQS requires at least 2.
            scaling_config=(
                {"maximum_concurrency": min(s.lambda_reserved_concurrency, 1000)}
                if s.lambda_reserved_concurrency >= 2
                else None
            ),
            opts=child,
        )
        self.register_outputs(
            {
                "dbInstanceId": self.db.identifier,
                "dbEndpoint": self.db.endpoint,
                "eventBusName": self.event_bus.name,
                "queueUrl": self.queue.url,
                "dlqUrl": self.dlq.url,
                "oauthSecretArn": self.oauth_secret.arn,
                "functionNames": {k: f.function.name for k, f in self.functions.items()},
                "bootstrapResult": self.bootstrap.result,
            }
        )

    def _oauth_secret(
        self, name: str, s: Settings, keys: Encryption, value: pulumi.Output[str] | None
    ) -> tuple[aws.secretsmanager.Secret, aws.secretsmanager.SecretVersion | None]:
        secret = aws.secretsmanager.Secret(
            f"{name}-oauth-client",
            name_prefix=f"{s.name_prefix}-oauth-client-",
            description=f"{s.name_prefix}: OAuth2 client credentials of the external API (client_id, client_secret)",
            kms_key_id=keys.secrets_key.arn,
            # Outside production a deleted secret goes quickly, so a re-created stack does not wait a month.
            recovery_window_in_days=30 if s.production else 7,
            opts=pulumi.ResourceOptions(parent=self, protect=s.production),
        )
        if value is None:
            pulumi.log.warn(
                "oauthClientSecret is not set: the external API secret is created without a value and the worker"
                " cannot call the external API. Set it with `pulumi config set --secret oauthClientSecret <value>`"
                " (and oauthClientId) and run `pulumi up` again.",
                resource=self,
            )
            return secret, None
        version = aws.secretsmanager.SecretVersion(
            f"{name}-oauth-client-value",
            secret_id=secret.id,
            secret_string=pulumi.Output.json_dumps({"client_id": s.oauth_client_id, "client_secret": value}),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return secret, version

    def _functions(self, name: str, args: BackendArgs) -> dict[str, VpcFunction]:
        s, net, keys = args.settings, args.network, args.encryption
        db_user = pulumi.Output.all(args.account_id, self.db.resource_id).apply(
            lambda a: db_user_arn(s.region, str(a[0]), str(a[1]), s.db_app_username)
        )
        # api and reconcile: same database user and bus.
        db_and_events = [
            _allow("ConnectAsAppUser", ["rds-db:connect"], db_user),
            _allow("PublishOrderEvents", ["events:PutEvents"], self.event_bus.arn),
            # The bus is encrypted with the data key; PutEvents encrypts with the caller's permission.
            _allow("EncryptOrderEvents", ["kms:GenerateDataKey", "kms:Decrypt"], keys.data_key.arn),
        ]
        db_env: dict[str, pulumi.Input[str]] = {
            "DB_HOST": self.db.address,
            "DB_PORT": str(DB_PORT),
            "DB_NAME": s.db_name,
            "DB_USER": s.db_app_username,
            "DB_SSL_ROOT_CERT": DB_SSL_ROOT_CERT,
            "EVENT_BUS_NAME": self.event_bus.name,
            "EVENT_SOURCE": EVENT_SOURCE,
        }
        worker_env: dict[str, pulumi.Input[str]] = {
            "EXTERNAL_API_URL": s.external_api_url,
            "OAUTH_TOKEN_URL": s.oauth_token_url,
            "OAUTH_CLIENT_SECRET_ARN": self.oauth_secret.arn,
            "ALLOWED_HOSTS": ",".join(s.external_allowed_hosts),
            **WORKER_HTTP_ENV,
        }
        if s.oauth_scope:  # optional; an empty value is left out rather than sent as ""
            worker_env["OAUTH_SCOPE"] = s.oauth_scope
        worker_statements = [
            _allow(
                "ConsumeOrders",
                ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
                self.queue.arn,
            ),
            _allow("ReadOAuthClient", ["secretsmanager:GetSecretValue"], self.oauth_secret.arn),
            # Queue messages are encrypted with the data key, the secret with the secrets key.
            _allow("DecryptOrdersAndSecret", ["kms:Decrypt"], [keys.data_key.arn, keys.secrets_key.arn]),
        ]
        master_secret_arn = self.db.master_user_secrets.apply(_master_secret_arn)
        bootstrap_env: dict[str, pulumi.Input[str]] = {
            "DB_HOST": self.db.address,
            "DB_PORT": str(DB_PORT),
            "DB_NAME": s.db_name,
            "DB_APP_USER": s.db_app_username,
            "DB_SSL_ROOT_CERT": DB_SSL_ROOT_CERT,
            "DB_MASTER_SECRET_ARN": master_secret_arn,
        }
        bootstrap_statements = [
            _allow("ReadMasterSecret", ["secretsmanager:GetSecretValue"], master_secret_arn),
            _secret_decrypt_statement(keys.secrets_key.arn, master_secret_arn, s.region),
        ]
        specs: dict[str, tuple[str, str, str, dict[str, pulumi.Input[str]], list[Any], int]] = {
            "api": ("api", "functions.api.app.handler", "Orders API (API Gateway proxy)", db_env, db_and_events,
                    API_TIMEOUT_SECONDS),
            "reconcile": ("api", "functions.api.reconcile.handler", "Republishes orders whose event was not sent",
                          db_env, db_and_events, API_TIMEOUT_SECONDS),
            "worker": ("worker", "functions.worker.app.handler", "Sends new orders to the external API",
                       worker_env, worker_statements, WORKER_TIMEOUT_SECONDS),
            "bootstrap": ("api", "functions.api.bootstrap.handler",
                          "Deploy-time database bootstrap: app role, schema, grants (run by the stack)",
                          bootstrap_env, bootstrap_statements, BOOTSTRAP_TIMEOUT_SECONDS),
        }
        return {
            key: VpcFunction(
                f"{name}-{key}",
                FunctionArgs(
                    settings=s,
                    package=package,
                    handler=handler,
                    subnet_ids=[sn.id for sn in net.app_subnets],
                    security_group_ids=[net.app_security_group.id],
                    logs_key_arn=keys.logs_key.arn,
                    env_key_arn=keys.data_key.arn,
                    description=description,
                    environment=env,
                    statements=statements,
                    timeout=timeout,
                    # one deploy-time run at a time: it holds the migration lock and a master connection
                    reserved_concurrency=BOOTSTRAP_RESERVATION if key == "bootstrap" else None,
                ),
                pulumi.ResourceOptions(parent=self),
            )
            for key, (package, handler, description, env, statements, timeout) in specs.items()
        }

    def _bootstrap_invocation(self, name: str, s: Settings, network: Network) -> aws.lambda_.Invocation:
        # A name the bootstrap would refuse fails the preview instead of the deployment.
        quote_role(s.db_app_username, "dbAppUsername")
        if s.db_app_username == s.db_master_username:
            raise ValueError("dbAppUsername: must differ from dbMasterUsername (the app role must not own the schema)")
        return aws.lambda_.Invocation(
            f"{name}-db-bootstrap",
            function_name=self.functions["bootstrap"].function.name,
            # The function reads everything from its environment; the input only labels the call in the logs.
            input=json.dumps({"operation": "bootstrap", "schema_version": SCHEMA_VERSION}),
            # Invoked on create and on replacement only (any trigger change replaces). Deleting the stack deletes
            # the database too, so there is nothing to undo (CRUD would also invoke on delete).
            lifecycle_scope="CREATE_ONLY",
            triggers={
                "db_instance": self.db.resource_id,  # a replaced instance is empty
                "app_user": s.db_app_username,
                "schema_version": SCHEMA_VERSION,
                "bootstrap_code": code_version(),
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                # Runs only once the instance is available and the function can reach it and Secrets Manager:
                # every child of the network (security group rules, NACLs, VPC endpoints, NAT) and of the database.
                depends_on=[self.database, network],
            ),
        )
