"""What the rendered backend tier means, for every stack file: database, order events, secret, functions."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

import pulumi
import pytest
from pulumi.runtime import rpc
from pulumi.runtime.sync_await import _sync_await

from components.backend import DB_SSL_ROOT_CERT, VISIBILITY_TIMEOUT_FACTOR, Backend, BackendArgs
from components.database import db_identifier, parameter_family, performance_insights_supported
from components.encryption import Encryption, EncryptionArgs
from components.network import Network, NetworkArgs
from components.settings import Settings, settings_from_mapping
from functions.api.config import RDS_CA_BUNDLE_PACKAGE_PATH
from functions.api.schema import SCHEMA_VERSION, code_version
from tests import harness
from tests.harness import ACCOUNT_ID, Graph, Res, stack_config

INSTANCE = "aws:rds/instance:Instance"
QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
FUNCTION = "aws:lambda/function:Function"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
BUS = "aws:cloudwatch/eventBus:EventBus"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
ESM = "aws:lambda/eventSourceMapping:EventSourceMapping"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
HANDLERS = {
    "api": "functions.api.app.handler",
    "reconcile": "functions.api.reconcile.handler",
    "worker": "functions.worker.app.handler",
    "bootstrap": "functions.api.bootstrap.handler",
}
INVOCATION = "aws:lambda/invocation:Invocation"
# Statements every VpcFunction role carries (its own log group, env decryption, X-Ray, VPC ENIs).
BASELINE_SIDS = {"OwnLogGroup", "DecryptEnvironment", "XRayTraces", "VpcNetworkInterfaces"}


class Rendered:
    """A render of Encryption + Network + Backend, and the Backend object (to resolve its outputs)."""

    def __init__(self, graph: Graph, holder: dict[str, Any]) -> None:
        self.graph = graph
        self.backend: Backend = holder["backend"]
        self.keys: Encryption = holder["keys"]
        self.settings: Settings = holder["settings"]

    def resolve(self, output: pulumi.Output[Any]) -> Any:
        return _sync_await(output.future())


def render(program: Callable[[], None], stack: str, *, preview: bool = False,
           config: dict[str, Any] | None = None) -> Graph:
    return harness.render(program, stack, preview=preview, config=config)


CLIENT_ID = {"oauthClientId": "orders-client"}


def _program(stack: str, secret: str | None, holder: dict[str, Any]) -> Callable[[], None]:
    def program() -> None:
        s = settings_from_mapping(stack, stack_config(stack, CLIENT_ID))
        keys = Encryption("keys", EncryptionArgs(s, ACCOUNT_ID))
        net = Network("net", NetworkArgs(s, keys.logs_key, ACCOUNT_ID))
        value = None if secret is None else pulumi.Output.secret(secret)
        holder["settings"], holder["keys"] = s, keys
        holder["backend"] = Backend("backend", BackendArgs(s, net, keys, ACCOUNT_ID, value))

    return program


@functools.cache
def backend_render(stack: str, secret: str | None = None, preview: bool = False) -> Rendered:
    holder: dict[str, Any] = {}
    graph = render(_program(stack, secret, holder), stack, preview=preview, config=CLIENT_ID)
    return Rendered(graph, holder)


@pytest.fixture
def r(stack: str) -> Rendered:
    return backend_render(stack)


# ---- helpers ---------------------------------------------------------------------------------------------------
def key(graph: Graph, purpose: str) -> Res:
    return graph.named(f"keys-{purpose}")


def deps(res: Res, prop: str) -> set[str]:
    return set(res.property_dependencies.get(prop, []))


def tier_subnets(graph: Graph, tier: str) -> list[Res]:
    return [sn for sn in graph.of_type("aws:ec2/subnet:Subnet") if sn["tags"]["Tier"] == tier]


def function(graph: Graph, role: str) -> Res:
    (fn,) = [f for f in graph.of_type(FUNCTION) if f["handler"] == HANDLERS[role]]
    return fn


def role_policy_of(graph: Graph, fn: Res) -> dict[str, Any]:
    (role_urn,) = deps(fn, "role")
    (policy,) = [p for p in graph.of_type(ROLE_POLICY) if role_urn in deps(p, "role")]
    return dict(json.loads(policy["policy"]))


def statements_granting(policy: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [st for st in policy["Statement"] if st["Effect"] == "Allow" and action in _as_list(st["Action"])]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def orders_queue(graph: Graph) -> Res:
    (queue,) = [q for q in graph.of_type(QUEUE) if "redrivePolicy" in q.inputs]
    return queue


def dead_letter_queue(graph: Graph) -> Res:
    (dlq,) = [q for q in graph.of_type(QUEUE) if "redrivePolicy" not in q.inputs]
    return dlq


def policy_of_queue(graph: Graph, queue: Res) -> tuple[Res, dict[str, Any]]:
    (pol,) = [p for p in graph.of_type(QUEUE_POLICY) if queue.urn in deps(p, "queueUrl")]
    return pol, json.loads(pol["policy"])


# ---- database ----------------------------------------------------------------------------------------------------
def test_database_is_private_encrypted_with_the_data_key_and_iam_authenticated(r: Rendered) -> None:
    g = r.graph
    db = g.one(INSTANCE)
    assert db["engine"] == "postgres"
    assert db["publiclyAccessible"] is False
    assert db["storageEncrypted"] is True
    assert deps(db, "kmsKeyId") == {key(g, "data").urn}
    assert db["iamDatabaseAuthenticationEnabled"] is True
    # the master password never passes through Pulumi: RDS keeps it in Secrets Manager under the secrets key
    assert db["manageMasterUserPassword"] is True and "password" not in db.inputs
    assert deps(db, "masterUserSecretKmsKeyId") == {key(g, "secrets").urn}
    assert db["username"] not in {"admin", "postgres"}


def test_database_lives_only_in_the_isolated_subnets_behind_its_security_group(r: Rendered) -> None:
    g = r.graph
    db = g.one(INSTANCE)
    (group_urn,) = deps(db, "dbSubnetGroupName")
    subnet_group = g.by_urn(group_urn)
    data = {sn.urn for sn in tier_subnets(g, "data")}
    assert deps(subnet_group, "subnetIds") == data
    assert len(subnet_group["subnetIds"]) == len(data) >= 2  # RDS needs two AZs
    assert deps(db, "vpcSecurityGroupIds") == {g.named("net-database-sg").urn}


def test_parameter_group_forces_tls_and_logs_connections(r: Rendered) -> None:
    g = r.graph
    db = g.one(INSTANCE)
    (pg_urn,) = deps(db, "parameterGroupName")
    pg = g.by_urn(pg_urn)
    assert pg["family"] == f"postgres{r.settings.db_engine_version.split('.')[0]}"
    params = {p["name"]: p["value"] for p in pg["parameters"]}
    assert params["rds.force_ssl"] == "1"
    assert params["log_connections"] == "1" and params["log_disconnections"] == "1"
    assert int(params["log_min_duration_statement"]) > 0  # slow statements only, never every statement


def test_protection_follows_the_stack_and_production_is_fully_protected(r: Rendered, stack: str) -> None:
    db = r.graph.one(INSTANCE)
    cfg = stack_config(stack)
    assert db["deletionProtection"] is cfg["dbDeletionProtection"]
    assert db["skipFinalSnapshot"] is cfg["dbSkipFinalSnapshot"]
    assert db["multiAz"] is cfg["dbMultiAz"]
    assert db["backupRetentionPeriod"] == cfg["dbBackupRetentionDays"] >= 1
    assert db.protect is bool(cfg["production"])
    assert db["finalSnapshotIdentifier"].startswith(db["identifier"])
    if cfg["production"]:
        assert db["deletionProtection"] and not db["skipFinalSnapshot"] and db["multiAz"] and db.protect
        assert r.graph.one(SECRET).protect


def test_dev_is_disposable_as_configured() -> None:
    db = backend_render("dev").graph.one(INSTANCE)
    assert db["deletionProtection"] is False and db["skipFinalSnapshot"] is True and db["multiAz"] is False
    assert db.protect is False


def test_database_logs_go_to_precreated_encrypted_groups(r: Rendered) -> None:
    g = r.graph
    db = g.one(INSTANCE)
    exports = db["enabledCloudwatchLogsExports"]
    assert set(exports) >= {"postgresql", "upgrade"}
    assert set(r.backend.db_log_groups) == set(exports)
    for export in exports:
        name = f"/aws/rds/instance/{db['identifier']}/{export}"
        (group,) = [lg for lg in g.of_type(LOG_GROUP) if lg.get("name") == name]
        assert deps(group, "kmsKeyId") == {key(g, "logs").urn}
        assert group["retentionInDays"] == r.settings.log_retention_days
        assert g.depends_on(db, group), "RDS would create the group itself, unencrypted"


def test_database_is_monitored_and_maintained(r: Rendered) -> None:
    g = r.graph
    db = g.one(INSTANCE)
    assert db["performanceInsightsEnabled"] is True  # every configured class supports it for PostgreSQL
    assert deps(db, "performanceInsightsKmsKeyId") == {key(g, "data").urn}
    assert db["monitoringInterval"] in {1, 5, 10, 15, 30, 60}
    (role_urn,) = deps(db, "monitoringRoleArn")
    role = g.by_urn(role_urn)
    (trust,) = json.loads(role["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "monitoring.rds.amazonaws.com"}
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT_ID
    (policy,) = [p for p in g.of_type(ROLE_POLICY) if role_urn in deps(p, "role")]
    region = r.settings.region
    for st in json.loads(policy["policy"])["Statement"]:
        assert all(res.startswith(f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:RDSOSMetrics")
                   for res in _as_list(st["Resource"]))
    attachments = g.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert not [a for a in attachments if role_urn in deps(a, "role")]
    assert db["caCertIdentifier"] == "rds-ca-rsa2048-g1"
    assert db["storageType"] == "gp3"
    assert db["maxAllocatedStorage"] >= db["allocatedStorage"]
    assert db["copyTagsToSnapshot"] is True and db["autoMinorVersionUpgrade"] is True


# ---- events --------------------------------------------------------------------------------------------------------
def test_bus_and_every_queue_are_encrypted_with_the_data_key(r: Rendered) -> None:
    g = r.graph
    data = key(g, "data").urn
    assert deps(g.one(BUS), "kmsKeyIdentifier") == {data}
    queues = g.of_type(QUEUE)
    assert len(queues) == 2
    for queue in queues:
        assert deps(queue, "kmsMasterKeyId") == {data}
        assert not queue.get("sqsManagedSseEnabled")


def test_dead_letter_queue_is_wired_with_an_integer_receive_count_and_longer_retention(r: Rendered) -> None:
    g = r.graph
    queue, dlq = orders_queue(g), dead_letter_queue(g)
    redrive = json.loads(queue["redrivePolicy"])
    assert type(redrive["maxReceiveCount"]) is int and 1 <= redrive["maxReceiveCount"] <= 10
    assert deps(queue, "redrivePolicy") == {dlq.urn}
    assert dlq["messageRetentionSeconds"] > queue["messageRetentionSeconds"]
    (allow,) = g.of_type("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy")
    assert deps(allow, "queueUrl") == {dlq.urn}
    assert deps(allow, "redriveAllowPolicy") == {queue.urn}
    assert json.loads(allow["redriveAllowPolicy"])["redrivePermission"] == "byQueue"


def test_queue_policies_deny_plaintext_and_admit_eventbridge_only_for_our_rule(r: Rendered) -> None:
    g = r.graph
    rule, bus = g.one(RULE), g.one(BUS)
    for queue in (orders_queue(g), dead_letter_queue(g)):
        pol, doc = policy_of_queue(g, queue)
        deny = [st for st in doc["Statement"] if st["Effect"] == "Deny"]
        assert any(
            st["Principal"] == "*" and st["Action"] == "sqs:*"
            and st["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for st in deny
        ), f"{queue.name} accepts plaintext"
        allows = [st for st in doc["Statement"] if st["Effect"] == "Allow"]
        assert allows
        for st in allows:
            assert st["Principal"] == {"Service": "events.amazonaws.com"}
            assert st["Action"] == "sqs:SendMessage"
            assert st["Condition"]["ArnEquals"]["aws:SourceArn"]  # never an unscoped service grant
        assert rule.urn in deps(pol, "policy")
    # the DLQ also admits the bus's own dead letters, the orders queue only the rule
    _, dlq_doc = policy_of_queue(g, dead_letter_queue(g))
    assert bus.urn in deps(policy_of_queue(g, dead_letter_queue(g))[0], "policy")
    assert len(dlq_doc["Statement"][1]["Condition"]["ArnEquals"]["aws:SourceArn"]) == 2
    _, q_doc = policy_of_queue(g, orders_queue(g))
    assert len(q_doc["Statement"][1]["Condition"]["ArnEquals"]["aws:SourceArn"]) == 1


def test_rule_routes_order_created_on_the_custom_bus_to_the_queue(r: Rendered) -> None:
    g = r.graph
    rule, bus, target = g.one(RULE), g.one(BUS), g.one(TARGET)
    assert json.loads(rule["eventPattern"]) == {"source": ["platform.orders"], "detail-type": ["OrderCreated"]}
    assert deps(rule, "eventBusName") == {bus.urn}
    assert deps(target, "arn") == {orders_queue(g).urn}
    assert deps(target, "rule") == {rule.urn} and deps(target, "eventBusName") == {bus.urn}
    # undeliverable events are kept, not dropped; and delivery waits for the queue policies
    assert deps(target, "deadLetterConfig") == {dead_letter_queue(g).urn}
    assert 0 < target["retryPolicy"]["maximumRetryAttempts"] <= 185
    for pol in g.of_type(QUEUE_POLICY):
        assert pol.urn in target.dependencies


def test_visibility_timeout_is_at_least_six_worker_timeouts(r: Rendered) -> None:
    g = r.graph
    worker = function(g, "worker")
    assert orders_queue(g)["visibilityTimeoutSeconds"] >= VISIBILITY_TIMEOUT_FACTOR * worker["timeout"]
    assert VISIBILITY_TIMEOUT_FACTOR >= 6


def test_worker_consumes_the_queue_reporting_partial_failures(r: Rendered, stack: str) -> None:
    g = r.graph
    esm = g.one(ESM)
    assert deps(esm, "eventSourceArn") == {orders_queue(g).urn}
    assert deps(esm, "functionName") == {function(g, "worker").urn}
    assert esm["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert 1 <= esm["batchSize"] <= 10
    reserved = stack_config(stack)["lambdaReservedConcurrency"]
    assert esm["scalingConfig"]["maximumConcurrency"] <= reserved  # never invokes into throttling


# ---- functions and IAM ---------------------------------------------------------------------------------------------
# Statements AWS gives no resource-level permissions for, and the only actions each may hold.
WILDCARD_RESOURCE_SIDS = {
    "XRayTraces": {"xray:PutTraceSegments", "xray:PutTelemetryRecords"},
    "VpcNetworkInterfaces": {
        "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
    },
}


def test_every_backend_statement_names_its_actions_and_resources(r: Rendered) -> None:
    g = r.graph
    for role in HANDLERS:
        for st in role_policy_of(g, function(g, role))["Statement"]:
            actions = _as_list(st["Action"])
            assert all(a != "*" and not a.endswith(":*") for a in actions), (role, st)
            if st.get("Sid") in WILDCARD_RESOURCE_SIDS:
                assert all(a in WILDCARD_RESOURCE_SIDS[st["Sid"]] for a in actions), (role, st)
                continue
            resources = _as_list(st["Resource"])
            assert resources and all(res.startswith("arn:aws:") and res != "*" for res in resources), (role, st)
            assert all("*" not in res.removesuffix(":*") for res in resources), (role, st)


def test_api_and_reconcile_may_connect_as_the_app_user_and_publish_to_the_bus(r: Rendered) -> None:
    g = r.graph
    s, backend = r.settings, r.backend
    resource_id = r.resolve(backend.db.resource_id)
    bus_arn = r.resolve(backend.event_bus.arn)
    data_key = r.resolve(r.keys.data_key.arn)
    for role in ("api", "reconcile"):
        policy = role_policy_of(g, function(g, role))
        (connect,) = statements_granting(policy, "rds-db:connect")
        assert connect["Resource"] == (
            f"arn:aws:rds-db:{s.region}:{ACCOUNT_ID}:dbuser:{resource_id}/{s.db_app_username}"
        )
        (put,) = statements_granting(policy, "events:PutEvents")
        assert put["Resource"] == bus_arn
        (kms,) = statements_granting(policy, "kms:GenerateDataKey")
        assert kms["Resource"] == data_key
        assert not statements_granting(policy, "secretsmanager:GetSecretValue")
        assert not statements_granting(policy, "sqs:ReceiveMessage")


def test_worker_may_consume_the_queue_and_read_only_its_secret(r: Rendered) -> None:
    g = r.graph
    backend = r.backend
    policy = role_policy_of(g, function(g, "worker"))
    queue_arn = r.resolve(backend.queue.arn)
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"):
        (st,) = statements_granting(policy, action)
        assert st["Resource"] == queue_arn
    (secret,) = statements_granting(policy, "secretsmanager:GetSecretValue")
    assert secret["Resource"] == r.resolve(backend.oauth_secret.arn)
    decryptable = {res for st in statements_granting(policy, "kms:Decrypt") for res in _as_list(st["Resource"])}
    assert decryptable == {r.resolve(r.keys.data_key.arn), r.resolve(r.keys.secrets_key.arn)}
    assert not statements_granting(policy, "rds-db:connect")
    assert not statements_granting(policy, "events:PutEvents")


def test_functions_run_in_the_app_tier_with_encrypted_environment(r: Rendered) -> None:
    g = r.graph
    app = {sn.urn for sn in tier_subnets(g, "app")}
    app_sg = g.named("net-app-sg").urn
    fns = [function(g, role) for role in HANDLERS]
    for fn in fns:
        vpc_deps = deps(fn, "vpcConfig")
        subnets = {u for u in vpc_deps if g.by_urn(u).type == "aws:ec2/subnet:Subnet"}
        assert subnets and subnets <= app, fn.name
        assert len(fn["vpcConfig"]["subnetIds"]) == len(app)  # every AZ
        assert vpc_deps - subnets == {app_sg}, fn.name
        assert deps(fn, "kmsKeyArn") == {key(g, "data").urn}, fn.name
        assert fn["tracingConfig"]["mode"] == "Active"
    assert function(g, "api")["timeout"] == 10 and function(g, "reconcile")["timeout"] == 10
    assert function(g, "worker")["timeout"] == 60
    assert set(r.backend.functions) == set(HANDLERS)


def test_environment_variables_follow_the_contract(r: Rendered) -> None:
    g = r.graph
    s = r.settings
    db, bus, secret = g.one(INSTANCE), g.one(BUS), g.one(SECRET)
    for role in ("api", "reconcile"):
        fn = function(g, role)
        env = fn["environment"]["variables"]
        assert set(env) >= {"DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_SSL_ROOT_CERT", "EVENT_BUS_NAME",
                            "EVENT_SOURCE"}
        assert env["DB_PORT"] == "5432" and env["DB_NAME"] == s.db_name and env["DB_USER"] == s.db_app_username
        assert env["DB_HOST"] == r.resolve(r.backend.db.address)
        # where packaging puts the RDS CA bundle inside the zip, which Lambda unpacks in /var/task
        assert env["DB_SSL_ROOT_CERT"] == f"/var/task/{RDS_CA_BUNDLE_PACKAGE_PATH}"
        assert env["EVENT_BUS_NAME"] == bus["name"] and env["EVENT_SOURCE"] == "platform.orders"
        assert {db.urn, bus.urn} <= deps(fn, "environment")
    worker = function(g, "worker")
    env = worker["environment"]["variables"]
    assert env["EXTERNAL_API_URL"] == s.external_api_url and env["OAUTH_TOKEN_URL"] == s.oauth_token_url
    assert env["ALLOWED_HOSTS"].split(",") == list(s.external_allowed_hosts)
    assert env["OAUTH_CLIENT_SECRET_ARN"] == r.resolve(r.backend.oauth_secret.arn)
    assert secret.urn in deps(worker, "environment")
    assert not any(name.startswith("DB_") for name in env)  # the worker never sees the database
    assert ("OAUTH_SCOPE" in env) is bool(s.oauth_scope)


# ---- database bootstrap ------------------------------------------------------------------------------------------
def test_bootstrap_runs_at_deploy_time_after_the_database_and_the_network_path_to_it(r: Rendered) -> None:
    g = r.graph
    (inv,) = g.of_type(INVOCATION)
    bootstrap = function(g, "bootstrap")
    assert deps(inv, "functionName") == {bootstrap.urn}
    db = g.one(INSTANCE)
    # The instance must be available, and the function must be able to reach it and Secrets Manager: the security
    # group rules, NACLs and VPC endpoints all exist before the call.
    assert db.urn in inv.dependencies
    network = {res.urn for res in g if res.type.startswith("aws:") and res.urn.split("::")[-1].startswith("net-")}
    assert network and network <= set(inv.dependencies)
    endpoints = [e for e in g.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") if "secretsmanager" in e["serviceName"]]
    assert endpoints and all(e.urn in inv.dependencies for e in endpoints)
    assert inv["lifecycleScope"] == "CREATE_ONLY"
    assert json.loads(inv["input"])["operation"] == "bootstrap"


def test_bootstrap_reruns_when_the_instance_app_user_schema_or_code_change(r: Rendered) -> None:
    g = r.graph
    inv = g.one(INVOCATION)
    triggers = inv["triggers"]
    assert triggers["db_instance"] == r.resolve(r.backend.db.resource_id)
    assert deps(inv, "triggers") == {g.one(INSTANCE).urn}  # a replaced instance is a new trigger value
    assert triggers["app_user"] == r.settings.db_app_username
    assert triggers["schema_version"] == SCHEMA_VERSION
    assert triggers["bootstrap_code"] == code_version()
    assert all(isinstance(v, str) and v for v in triggers.values())  # the provider takes a map of strings


def test_bootstrap_role_reads_only_the_master_secret(r: Rendered) -> None:
    g = r.graph
    policy = role_policy_of(g, function(g, "bootstrap"))
    master = r.resolve(r.backend.db_master_secret_arn)
    secrets_key = r.resolve(r.keys.secrets_key.arn)
    assert master and master.startswith("arn:aws:secretsmanager:")
    extra = [st for st in policy["Statement"] if st.get("Sid") not in BASELINE_SIDS]
    assert sorted(st["Sid"] for st in extra) == ["DecryptMasterSecret", "ReadMasterSecret"]
    (read,) = statements_granting(policy, "secretsmanager:GetSecretValue")
    assert _as_list(read["Action"]) == ["secretsmanager:GetSecretValue"] and read["Resource"] == master
    (decrypt,) = [st for st in extra if st["Sid"] == "DecryptMasterSecret"]
    assert _as_list(decrypt["Action"]) == ["kms:Decrypt"] and decrypt["Resource"] == secrets_key
    # ...and only through Secrets Manager, for that secret.
    assert decrypt["Condition"]["StringEquals"] == {
        "kms:ViaService": f"secretsmanager.{r.settings.region}.amazonaws.com",
        "kms:EncryptionContext:SecretARN": master,
    }
    for action in ("rds-db:connect", "events:PutEvents", "sqs:ReceiveMessage"):
        assert not statements_granting(policy, action)


def test_bootstrap_environment_names_the_database_app_user_and_master_secret(r: Rendered) -> None:
    g = r.graph
    fn = function(g, "bootstrap")
    env = fn["environment"]["variables"]
    s = r.settings
    assert env == {
        "DB_HOST": r.resolve(r.backend.db.address),
        "DB_PORT": "5432",
        "DB_NAME": s.db_name,
        "DB_APP_USER": s.db_app_username,
        "DB_SSL_ROOT_CERT": DB_SSL_ROOT_CERT,
        "DB_MASTER_SECRET_ARN": r.resolve(r.backend.db_master_secret_arn),
    }
    assert fn["handler"] == "functions.api.bootstrap.handler"
    # Same archive as the api function: the CA bundle and the schema code ship together.
    assert fn["code"].path == function(g, "api")["code"].path


@pytest.mark.parametrize("name", ["rds_iam", "rds_superuser", "postgres"])
def test_an_app_user_the_bootstrap_would_refuse_fails_the_preview_naming_the_key(name: str) -> None:
    with pytest.raises(ValueError, match="dbAppUsername"):
        backend_with("dev", {"dbAppUsername": name})


def test_app_user_equal_to_the_master_user_is_refused() -> None:
    s = settings_from_mapping("dev", stack_config("dev"))
    with pytest.raises(ValueError, match="dbAppUsername"):
        backend_with("dev", {"dbAppUsername": s.db_master_username})


def backend_with(stack: str, overrides: dict[str, Any]) -> Graph:
    holder: dict[str, Any] = {}
    cfg = {**CLIENT_ID, **overrides}

    def program() -> None:
        s = settings_from_mapping(stack, stack_config(stack, cfg))
        keys = Encryption("keys", EncryptionArgs(s, ACCOUNT_ID))
        net = Network("net", NetworkArgs(s, keys.logs_key, ACCOUNT_ID))
        holder["b"] = Backend("backend", BackendArgs(s, net, keys, ACCOUNT_ID))

    return render(program, stack, config=cfg)


def test_oauth_scope_is_passed_when_configured() -> None:
    g = backend_with("dev", {"oauthScope": "orders:write"})
    assert function(g, "worker")["environment"]["variables"]["OAUTH_SCOPE"] == "orders:write"


def test_unreserved_worker_leaves_the_poller_unbounded() -> None:
    # SQS requires maximumConcurrency >= 2; with no reservation there is nothing to stay below.
    g = backend_with("dev", {"lambdaReservedConcurrency": -1})
    assert "scalingConfig" not in g.one(ESM).inputs


# ---- external API secret -------------------------------------------------------------------------------------------
def test_secret_is_on_the_secrets_key_with_the_environment_recovery_window(r: Rendered, stack: str) -> None:
    g = r.graph
    secret = g.one(SECRET)
    assert deps(secret, "kmsKeyId") == {key(g, "secrets").urn}
    production = bool(stack_config(stack)["production"])
    assert secret["recoveryWindowInDays"] == (30 if production else 7)
    assert secret.protect is production


def test_secret_value_exists_only_when_the_secret_config_is_set(stack: str) -> None:
    unset = backend_render(stack).graph
    assert unset.of_type(SECRET_VERSION) == []
    with_value = backend_render(stack, secret="s3cr3t-value").graph
    (version,) = with_value.of_type(SECRET_VERSION)
    assert deps(version, "secretId") == {with_value.one(SECRET).urn}
    wrapped = version["secretString"]
    # the engine receives the value marked secret: it is encrypted in state and masked in diffs
    assert wrapped[rpc._special_sig_key] == rpc._special_secret_sig
    assert json.loads(wrapped["value"]) == {"client_id": "orders-client", "client_secret": "s3cr3t-value"}


def test_missing_secret_is_announced_with_how_to_set_it(caplog: pytest.LogCaptureFixture) -> None:
    holder: dict[str, Any] = {}
    with caplog.at_level(logging.WARNING):
        render(_program("dev", None, holder), "dev")
    warnings = [rec.getMessage() for rec in caplog.records if rec.levelno == logging.WARNING]
    assert any("pulumi config set --secret oauthClientSecret" in w for w in warnings)


def test_no_warning_when_the_secret_is_set(caplog: pytest.LogCaptureFixture) -> None:
    holder: dict[str, Any] = {}
    with caplog.at_level(logging.WARNING):
        render(_program("dev", "value", holder), "dev", config=CLIENT_ID)
    assert not any("oauthClientSecret" in rec.getMessage() for rec in caplog.records)


def test_a_secret_without_client_id_is_rejected_naming_the_key() -> None:
    holder: dict[str, Any] = {}

    def program() -> None:
        s = settings_from_mapping("dev", stack_config("dev"))  # oauthClientId defaults to ""
        keys = Encryption("keys", EncryptionArgs(s, ACCOUNT_ID))
        net = Network("net", NetworkArgs(s, keys.logs_key, ACCOUNT_ID))
        holder["b"] = Backend("backend", BackendArgs(s, net, keys, ACCOUNT_ID, pulumi.Output.secret("x")))

    with pytest.raises(ValueError, match="oauthClientId"):
        render(program, "dev")


# ---- shape -----------------------------------------------------------------------------------------------------------
def test_preview_renders_the_same_resources_with_unknown_ids(stack: str) -> None:
    preview = backend_render(stack, preview=True).graph
    full = backend_render(stack).graph
    assert sorted((res.type, res.name) for res in preview) == sorted((res.type, res.name) for res in full)


def test_children_are_parented_under_platform_backend_components(r: Rendered) -> None:
    g = r.graph
    backend = g.named("backend")
    assert backend.type == "platform:backend:Backend"
    assert {c.type for c in g.children(backend)} >= {
        "platform:backend:Database", "platform:backend:OrderEvents", "platform:functions:VpcFunction", SECRET, ESM,
    }


def test_database_identifier_is_derived_and_checked() -> None:
    s = settings_from_mapping("dev", stack_config("dev"))
    assert db_identifier(s) == "sap-dev-db"
    bad = settings_from_mapping("x", stack_config("dev", {"environment": "a--b"}))
    with pytest.raises(ValueError, match="environment"):
        db_identifier(bad)


def test_performance_insights_follows_the_engine_and_class() -> None:
    # RDS for PostgreSQL supports it on every class; MySQL/MariaDB refuse it on the smallest burstable ones.
    assert performance_insights_supported("postgres", "db.t4g.micro")
    assert performance_insights_supported("postgres", "db.m7g.large")
    assert not performance_insights_supported("mysql", "db.t4g.micro")
    assert performance_insights_supported("mysql", "db.t4g.medium")


def test_parameter_family_is_the_major_version() -> None:
    assert parameter_family("16") == "postgres16"
    assert parameter_family("16.4") == "postgres16"


def test_concurrency_is_reserved_per_environment_and_the_bootstrap_runs_alone(r: Rendered, stack: str) -> None:
    reserved = stack_config(stack)["lambdaReservedConcurrency"]
    for role in HANDLERS:
        expected = 1 if role == "bootstrap" else reserved
        assert function(r.graph, role)["reservedConcurrentExecutions"] == expected, role
