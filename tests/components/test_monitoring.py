"""What the rendered monitoring means, for every stack file: the account baseline (when owned), alerts, alarms."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from typing import Any

import pulumi
import pytest
from pulumi.runtime.sync_await import _sync_await

from components import cis_filters
from components._naming import trail_name
from components.alerts import guardduty_pattern, securityhub_pattern
from components.baseline import CONFIG_RULES, GUARDDUTY_FEATURES
from components.encryption import Encryption, EncryptionArgs
from components.monitoring import Monitoring, MonitoringArgs, dashboard_body
from components.settings import settings_from_mapping
from tests import harness
from tests.harness import ACCOUNT_ID, Graph, Res, render, stack_config, stacks

TRAIL = "aws:cloudtrail/trail:Trail"
BUCKET = "aws:s3/bucket:Bucket"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_LOGGING = "aws:s3/bucketLogging:BucketLogging"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
RECORDER = "aws:cfg/recorder:Recorder"
CHANNEL = "aws:cfg/deliveryChannel:DeliveryChannel"
STATUS = "aws:cfg/recorderStatus:RecorderStatus"
CONFIG_RULE = "aws:cfg/rule:Rule"
DETECTOR = "aws:guardduty/detector:Detector"
FEATURE = "aws:guardduty/detectorFeature:DetectorFeature"
HUB = "aws:securityhub/account:Account"
STANDARD = "aws:securityhub/standardsSubscription:StandardsSubscription"
ENABLER = "aws:inspector2/enabler:Enabler"
ANALYZER = "aws:accessanalyzer/analyzer:Analyzer"
ACCOUNT_PAB = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"
EBS_DEFAULT = "aws:ebs/encryptionByDefault:EncryptionByDefault"
METRIC_FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
KEY = "aws:kms/key:Key"

# Account/region singletons: none may exist in a stack that does not own the baseline.
SINGLETONS = (TRAIL, RECORDER, CHANNEL, STATUS, CONFIG_RULE, DETECTOR, FEATURE, HUB, STANDARD, ENABLER, ANALYZER,
              ACCOUNT_PAB, EBS_DEFAULT)
# Singletons whose loss destroys history or disables a service: protected and retained in production.
KEPT = (TRAIL, BUCKET, RECORDER, CHANNEL, STATUS, DETECTOR, FEATURE, HUB, STANDARD, ENABLER)

FUNCTIONS = {"api": "sap-api-fn", "reconcile": "sap-reconcile-fn", "worker": "sap-worker-fn"}
API_NAME, STAGE, ACL_METRIC, DLQ, DB_ID = "sap-rest-api", "live", "sapApiWebAcl", "orders-dlq", "sap-db"
ACCESS_LOG_GROUP = "/aws/apigateway/sap-access"


class Rendered:
    """A render of Encryption + Monitoring, with what the engine was told about retain-on-delete."""

    def __init__(self, graph: Graph, monitoring: Monitoring, retained: dict[str, bool]) -> None:
        self.graph, self.monitoring, self.retained = graph, monitoring, retained

    def outputs(self) -> dict[str, Any]:
        values = self.monitoring.outputs()
        return {k: _sync_await(pulumi.Output.from_input(v).future()) for k, v in values.items()}


def _args(stack: str, overrides: dict[str, Any], keys: Encryption, **changes: Any) -> MonitoringArgs:
    s = settings_from_mapping(stack, stack_config(stack, overrides))
    fields: dict[str, Any] = {
        "settings": s, "encryption": keys, "account_id": ACCOUNT_ID, "api_name": API_NAME, "stage_name": STAGE,
        "web_acl_metric_name": ACL_METRIC, "function_names": FUNCTIONS, "dlq_name": DLQ, "db_instance_id": DB_ID,
        "access_log_group_name": ACCESS_LOG_GROUP,
    }
    fields.update(changes)
    return MonitoringArgs(**fields)


def _render(stack: str, overrides: dict[str, Any] | None = None, preview: bool = False, **changes: Any) -> Rendered:
    overrides = dict(overrides or {})
    holder: dict[str, Any] = {}
    retained: dict[str, bool] = {}
    original = harness._Monitor.RegisterResource

    def recording(self: Any, request: Any) -> Any:
        response = original(self, request)
        retained[response.urn] = bool(request.retainOnDelete)
        return response

    def program() -> None:
        s = settings_from_mapping(stack, stack_config(stack, overrides))
        keys = Encryption("keys", EncryptionArgs(s, ACCOUNT_ID))
        holder["monitoring"] = Monitoring("mon", _args(stack, overrides, keys, **changes))

    harness._Monitor.RegisterResource = recording  # type: ignore[method-assign]
    try:
        graph = render(program, stack, preview=preview, config=overrides)
    finally:
        harness._Monitor.RegisterResource = original  # type: ignore[method-assign]
    return Rendered(graph, holder["monitoring"], retained)


@functools.cache
def rendered(stack: str, owns: bool = True) -> Rendered:
    return _render(stack, {"ownsAccountBaseline": owns})


@pytest.fixture(params=stacks())
def stack(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def graph(stack: str) -> Graph:
    return rendered(stack).graph


def logs_key(graph: Graph) -> Res:
    return next(k for k in graph.of_type(KEY) if k.name == "keys-logs")


def companions(graph: Graph, bucket: Res, type_: str) -> list[Res]:
    return [r for r in graph.of_type(type_) if bucket.urn in r.property_dependencies.get("bucket", [])]


def statements(document: str) -> dict[str, dict[str, Any]]:
    return {st["Sid"]: st for st in json.loads(document)["Statement"]}


def deps(res: Res) -> set[str]:
    found = set(res.dependencies)
    for urns in res.property_dependencies.values():
        found.update(urns)
    return found


def trail_arn(stack: str) -> str:
    s = settings_from_mapping(stack, stack_config(stack))
    return f"arn:aws:cloudtrail:{s.region}:{ACCOUNT_ID}:trail/{trail_name(s.name_prefix)}"


def _the_bucket(graph: Graph, label: str) -> Res:
    (bucket,) = [b for b in graph.of_type(BUCKET) if b.name.endswith(f"-{label}")]
    return bucket


# ---- CloudTrail ------------------------------------------------------------------------------------------

def test_trail_is_multi_region_validated_and_encrypted_with_the_logs_key(graph: Graph, stack: str) -> None:
    trail = graph.one(TRAIL)
    assert trail["name"] == trail_arn(stack).rsplit("/", 1)[1]  # the name the logs key policy already trusts
    assert trail["isMultiRegionTrail"] is True
    assert trail["includeGlobalServiceEvents"] is True
    assert trail["enableLogFileValidation"] is True
    assert trail["enableLogging"] is True
    assert logs_key(graph).urn in trail.property_dependencies["kmsKeyId"]
    assert "advancedEventSelectors" not in trail.inputs and "eventSelectors" not in trail.inputs  # all mgmt events


def test_trail_delivers_to_its_log_group_through_a_role_that_only_writes_there(graph: Graph) -> None:
    trail = graph.one(TRAIL)
    group = graph.by_urn(next(iter(trail.property_dependencies["cloudWatchLogsGroupArn"])))
    assert group.type == LOG_GROUP
    assert trail["cloudWatchLogsGroupArn"].endswith(":*")
    assert group["kmsKeyId"] and logs_key(graph).urn in group.property_dependencies["kmsKeyId"]
    assert group["retentionInDays"] > 0
    role = graph.by_urn(next(iter(trail.property_dependencies["cloudWatchLogsRoleArn"])))
    trust = json.loads(role["assumeRolePolicy"])["Statement"]
    assert [st["Principal"] for st in trust] == [{"Service": "cloudtrail.amazonaws.com"}]
    (policy,) = [p for p in graph.of_type(ROLE_POLICY) if role.urn in p.property_dependencies["role"]]
    (statement,) = json.loads(policy["policy"])["Statement"]
    assert set(statement["Action"]) == {"logs:CreateLogStream", "logs:PutLogEvents"}
    assert statement["Resource"] == trail["cloudWatchLogsGroupArn"][:-2] + ":log-stream:*"
    assert graph.depends_on(trail, policy)  # CreateTrail checks the role can write


def test_trail_waits_for_its_bucket_policy(graph: Graph) -> None:
    trail = graph.one(TRAIL)
    bucket = graph.by_urn(next(iter(trail.property_dependencies["s3BucketName"])))
    (policy,) = companions(graph, bucket, BUCKET_POLICY)
    assert graph.depends_on(trail, policy)


def test_every_bucket_is_hardened(graph: Graph) -> None:
    buckets = graph.of_type(BUCKET)
    assert len(buckets) == 2  # the trail (and Config) bucket and its access-log bucket
    for bucket in buckets:
        (pab,) = companions(graph, bucket, PAB)
        assert all(pab[f] is True for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                            "restrictPublicBuckets")), bucket.name
        (ownership,) = companions(graph, bucket, OWNERSHIP)
        assert ownership["rule"]["objectOwnership"] == "BucketOwnerEnforced"
        (versioning,) = companions(graph, bucket, VERSIONING)
        assert versioning["versioningConfiguration"]["status"] == "Enabled"
        (lifecycle,) = companions(graph, bucket, LIFECYCLE)
        assert lifecycle["rules"] and all(r["status"] == "Enabled" for r in lifecycle["rules"])
        (policy,) = companions(graph, bucket, BUCKET_POLICY)
        assert graph.depends_on(policy, pab), "a policy racing the public access block fails (OperationAborted)"
        deny = statements(policy["policy"])["DenyInsecureTransport"]
        assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and deny["Action"] == "s3:*"
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert len(deny["Resource"]) == 2 and deny["Resource"][1] == deny["Resource"][0] + "/*"
        assert not bucket.get("acl") and not bucket.get("grants")


def test_trail_bucket_is_sse_kms_with_the_logs_key_and_logs_its_access(graph: Graph) -> None:
    trail_bucket = _the_bucket(graph, "trail-bucket")
    access = _the_bucket(graph, "access-logs")
    (sse,) = companions(graph, trail_bucket, SSE)
    (rule,) = sse["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    assert logs_key(graph).urn in sse.property_dependencies["rules"]
    assert rule["bucketKeyEnabled"] is True
    (logging,) = companions(graph, trail_bucket, BUCKET_LOGGING)
    assert access.urn in logging.property_dependencies["targetBucket"]
    # S3 server access logs cannot be delivered to an SSE-KMS bucket: the log target uses SSE-S3.
    (access_sse,) = companions(graph, access, SSE)
    assert access_sse["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    (access_policy,) = companions(graph, access, BUCKET_POLICY)
    writer = statements(access_policy["policy"])["S3ServerAccessLogsPolicy"]
    assert writer["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert writer["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT_ID}
    assert writer["Condition"]["ArnLike"]["aws:SourceArn"].startswith("arn:aws:s3:")
    assert trail_bucket.urn in access_policy.property_dependencies["policy"]  # the source is the trail bucket


def test_trail_bucket_policy_admits_only_this_trail_and_this_accounts_config(graph: Graph, stack: str) -> None:
    bucket = graph.by_urn(next(iter(graph.one(TRAIL).property_dependencies["s3BucketName"])))
    (policy,) = companions(graph, bucket, BUCKET_POLICY)
    st = statements(policy["policy"])
    arn = trail_arn(stack)
    acl = st["AWSCloudTrailAclCheck"]
    assert acl["Action"] == "s3:GetBucketAcl" and acl["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert acl["Condition"]["StringEquals"]["aws:SourceArn"] == arn
    write = st["AWSCloudTrailWrite"]
    assert write["Action"] == "s3:PutObject"
    assert write["Resource"].endswith(f"/AWSLogs/{ACCOUNT_ID}/*")
    assert write["Condition"]["StringEquals"] == {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": arn}
    for sid in ("AWSConfigBucketPermissionsCheck", "AWSConfigBucketExistenceCheck", "AWSConfigBucketDelivery"):
        assert st[sid]["Principal"] == {"Service": "config.amazonaws.com"}
        assert st[sid]["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT_ID
    assert st["AWSConfigBucketDelivery"]["Resource"].endswith(f"/AWSLogs/{ACCOUNT_ID}/Config/*")
    allowed = [s for s in st.values() if s["Effect"] == "Allow"]
    assert all(s["Principal"] != "*" and "Service" in s["Principal"] for s in allowed)


def test_the_account_audit_trail_is_never_force_destroyed(graph: Graph) -> None:
    # The trail and access-log buckets outlive every stack (retained), dev included.
    assert {b.get("forceDestroy", False) for b in graph.of_type(BUCKET)} == {False}


# ---- AWS Config --------------------------------------------------------------------------------------------

def test_config_starts_in_order_recorder_channel_status_rules(graph: Graph) -> None:
    recorder, channel, status = graph.one(RECORDER), graph.one(CHANNEL), graph.one(STATUS)
    assert graph.depends_on(channel, recorder)
    assert graph.depends_on(status, channel)
    assert recorder.urn in status.property_dependencies["name"] and status["isEnabled"] is True
    rules = graph.of_type(CONFIG_RULE)
    assert rules and all(graph.depends_on(rule, status) for rule in rules)


def test_config_records_everything_and_delivers_encrypted_to_the_trail_bucket(graph: Graph) -> None:
    recorder, channel = graph.one(RECORDER), graph.one(CHANNEL)
    assert recorder["recordingGroup"] == {"allSupported": True, "includeGlobalResourceTypes": True}
    trail_bucket = graph.by_urn(next(iter(graph.one(TRAIL).property_dependencies["s3BucketName"])))
    assert trail_bucket.urn in channel.property_dependencies["s3BucketName"]
    assert logs_key(graph).urn in channel.property_dependencies["s3KmsKeyArn"]
    (bucket_policy,) = companions(graph, trail_bucket, BUCKET_POLICY)
    assert graph.depends_on(channel, bucket_policy)  # PutDeliveryChannel test-writes to the bucket


def test_config_role_is_trusted_by_config_of_this_account_and_writes_only_its_prefix(graph: Graph) -> None:
    recorder = graph.one(RECORDER)
    role = graph.by_urn(next(iter(recorder.property_dependencies["roleArn"])))
    (trust,) = json.loads(role["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "config.amazonaws.com"}
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT_ID
    (managed,) = [a for a in graph.of_type(ATTACHMENT) if role.urn in a.property_dependencies["role"]]
    assert managed["policyArn"] == "arn:aws:iam::aws:policy/service-role/AWS_ConfigRole"
    (policy,) = [p for p in graph.of_type(ROLE_POLICY) if role.urn in p.property_dependencies["role"]]
    st = statements(policy["policy"])
    assert st["DeliverSnapshots"]["Resource"].endswith(f"/AWSLogs/{ACCOUNT_ID}/Config/*")
    assert st["CheckBucketAcl"]["Action"] == "s3:GetBucketAcl"
    assert set(st["EncryptDeliveries"]["Action"]) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert logs_key(graph).urn in policy.property_dependencies["policy"]
    assert all("*" not in str(s["Action"]) for s in st.values())


def test_config_rules_are_aws_managed_and_mirror_the_pack(graph: Graph) -> None:
    rules = {r["source"]["sourceIdentifier"]: r for r in graph.of_type(CONFIG_RULE)}
    sources = set(rules)
    # Our alarms notify on ALARM and OK only; the rule's default would also demand INSUFFICIENT_DATA actions.
    alarm_check = json.loads(rules["CLOUDWATCH_ALARM_ACTION_CHECK"]["inputParameters"])
    assert alarm_check["insufficientDataActionRequired"] == "false" and alarm_check["okActionRequired"] == "true"
    assert all(r["source"]["owner"] == "AWS" for r in graph.of_type(CONFIG_RULE))
    assert sources == set(CONFIG_RULES)
    assert {"API_GW_EXECUTION_LOGGING_ENABLED", "API_GW_ASSOCIATED_WITH_WAF", "CLOUD_TRAIL_ENABLED",
            "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED", "CLOUD_TRAIL_ENCRYPTION_ENABLED", "RDS_STORAGE_ENCRYPTED",
            "RDS_INSTANCE_PUBLIC_ACCESS_CHECK", "ENCRYPTED_VOLUMES", "INCOMING_SSH_DISABLED", "VPC_FLOW_LOGS_ENABLED",
            "CMK_BACKING_KEY_ROTATION_ENABLED", "S3_BUCKET_PUBLIC_READ_PROHIBITED",
            "S3_ACCOUNT_LEVEL_PUBLIC_ACCESS_BLOCKS_PERIODIC", "VPC_DEFAULT_SECURITY_GROUP_CLOSED",
            "LAMBDA_INSIDE_VPC", "SNS_ENCRYPTED_KMS"} <= sources


# ---- GuardDuty, Security Hub, Inspector ---------------------------------------------------------------------

def test_guardduty_detector_with_every_feature_enabled(graph: Graph) -> None:
    detector = graph.one(DETECTOR)
    assert detector["enable"] is True
    assert detector["findingPublishingFrequency"] == "FIFTEEN_MINUTES"
    assert "datasources" not in detector.inputs  # deprecated; features are DetectorFeature resources
    features = graph.of_type(FEATURE)
    assert {f["name"] for f in features} == set(GUARDDUTY_FEATURES)
    assert {"S3_DATA_EVENTS", "RDS_LOGIN_EVENTS", "LAMBDA_NETWORK_LOGS", "EBS_MALWARE_PROTECTION"} <= set(
        GUARDDUTY_FEATURES)
    assert not {"RUNTIME_MONITORING", "EKS_RUNTIME_MONITORING"} <= set(GUARDDUTY_FEATURES)  # AWS refuses both
    for feature in features:
        assert feature["status"] == "ENABLED"
        assert detector.urn in feature.property_dependencies["detectorId"]
        for addon in feature.get("additionalConfigurations") or []:
            assert addon["status"] == "ENABLED"


def test_security_hub_has_no_default_standards_and_subscribes_fsbp_after_config(graph: Graph, stack: str) -> None:
    hub = graph.one(HUB)
    assert hub["enableDefaultStandards"] is False
    assert hub["controlFindingGenerator"] == "SECURITY_CONTROL"
    region = stack_config(stack)["aws:region"]
    subscriptions = {s["standardsArn"]: s for s in graph.of_type(STANDARD)}
    fsbp = subscriptions[f"arn:aws:securityhub:{region}::standards/aws-foundational-security-best-practices/v/1.0.0"]
    assert f"arn:aws:securityhub:{region}::standards/cis-aws-foundations-benchmark/v/3.0.0" in subscriptions
    for subscription in subscriptions.values():
        assert graph.depends_on(subscription, hub)
        assert graph.depends_on(subscription, graph.one(STATUS))  # FSBP evaluates through AWS Config
    assert fsbp


def test_inspector_scans_lambda_functions_and_code_of_this_account(graph: Graph) -> None:
    enabler = graph.one(ENABLER)
    assert enabler["accountIds"] == [ACCOUNT_ID]
    assert {"LAMBDA", "LAMBDA_CODE"} <= set(enabler["resourceTypes"])


def test_account_wide_switches(graph: Graph) -> None:
    pab = graph.one(ACCOUNT_PAB)
    assert all(pab[f] is True for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                        "restrictPublicBuckets"))
    assert graph.one(EBS_DEFAULT)["enabled"] is True
    assert graph.one(ANALYZER)["type"] == "ACCOUNT"


# ---- alerts ---------------------------------------------------------------------------------------------------

def alert_topic(graph: Graph) -> Res:
    return graph.one(TOPIC)


def test_topic_is_encrypted_with_the_logs_cmk(graph: Graph) -> None:
    topic = alert_topic(graph)
    key = logs_key(graph)
    assert key.urn in topic.property_dependencies["kmsMasterKeyId"]
    assert topic["kmsMasterKeyId"].startswith("arn:aws:kms:")
    assert "alias/aws/" not in topic["kmsMasterKeyId"]


def test_topic_policy_admits_this_accounts_alarms_and_eventbridge_over_tls(graph: Graph) -> None:
    topic = alert_topic(graph)
    policy = graph.one(TOPIC_POLICY)
    assert topic.urn in policy.property_dependencies["arn"]
    st = statements(policy["policy"])
    for sid, service in (("CloudWatchAlarmsPublish", "cloudwatch"), ("EventBridgeRulesPublish", "events")):
        assert st[sid]["Principal"] == {"Service": f"{service}.amazonaws.com"}
        assert st[sid]["Action"] == "sns:Publish"
    alarms = st["CloudWatchAlarmsPublish"]["Condition"]
    assert alarms["StringEquals"] == {"aws:SourceAccount": ACCOUNT_ID}
    assert f":{ACCOUNT_ID}:alarm:" in alarms["ArnLike"]["aws:SourceArn"]
    # The EventBridge guide: no Condition block in a topic policy statement for EventBridge.
    assert "Condition" not in st["EventBridgeRulesPublish"]
    deny = st["DenyInsecureTransport"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert [s for s in st.values() if s["Effect"] == "Allow" and s["Principal"] == "*"] == []


def test_every_alarm_notifies_the_alert_topic_on_alarm_and_ok(stack: str) -> None:
    for owns in (True, False):
        graph = rendered(stack, owns).graph
        topic = alert_topic(graph)
        alarms = graph.of_type(ALARM)
        assert alarms
        (topic_arn,) = {arn for a in alarms for arn in a["alarmActions"] + a["okActions"]}  # one target for all
        assert topic_arn.startswith("arn:aws:sns:")
        for alarm in alarms:
            assert alarm["alarmActions"] == alarm["okActions"] == [topic_arn]
            assert topic.urn in alarm.property_dependencies["alarmActions"], alarm.name
            assert topic.urn in alarm.property_dependencies["okActions"], alarm.name
            assert alarm.get("actionsEnabled") is not False
            assert alarm["treatMissingData"] in ("notBreaching", "breaching", "missing", "ignore"), alarm.name


def test_every_cis_filter_is_on_the_trail_log_group_and_has_an_alarm(graph: Graph) -> None:
    trail = graph.one(TRAIL)
    (group_urn,) = trail.property_dependencies["cloudWatchLogsGroupArn"]
    filters = [f for f in graph.of_type(METRIC_FILTER) if f["metricTransformation"]["namespace"] == "CISBenchmark"]
    assert {f["pattern"] for f in filters} == {c.pattern for c in cis_filters.CIS_FILTERS}
    alarms = graph.of_type(ALARM)
    for metric_filter in filters:
        assert group_urn in metric_filter.property_dependencies["logGroupName"]
        metric = metric_filter["metricTransformation"]["name"]
        matching = [a for a in alarms if a.get("metricName") == metric and a.get("namespace") == "CISBenchmark"]
        assert len(matching) == 1, metric
        (alarm,) = matching
        assert alarm["threshold"] == 1 and alarm["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["period"] == 300 and alarm["statistic"] == "Sum" and alarm["evaluationPeriods"] == 1


# One render of a shared-account stack with every alert setting changed and no access log.
OVERRIDES = {"ownsAccountBaseline": False, "findingSeverityThreshold": "CRITICAL",
             "alertEmails": ["oncall@example.com", "sec@example.com"],
             "alertHttpsEndpoint": "https://hooks.example.com/alerts"}


@functools.cache
def customised() -> Graph:
    return _render("dev", OVERRIDES, access_log_group_name=None).graph


def test_subscriptions_follow_the_settings(stack: str) -> None:
    graph = customised()
    topic = alert_topic(graph)
    subs = graph.of_type(SUBSCRIPTION)
    assert sorted((s["protocol"], s["endpoint"]) for s in subs) == [
        ("email", "oncall@example.com"), ("email", "sec@example.com"), ("https", "https://hooks.example.com/alerts")]
    assert all(topic.urn in s.property_dependencies["topic"] for s in subs)
    expected = len(stack_config(stack)["alertEmails"]) + bool(stack_config(stack)["alertHttpsEndpoint"])
    assert len(rendered(stack).graph.of_type(SUBSCRIPTION)) == expected


@pytest.mark.parametrize(("threshold", "floor", "labels"), [
    ("LOW", 1, ["LOW", "MEDIUM", "HIGH", "CRITICAL"]),
    ("MEDIUM", 4, ["MEDIUM", "HIGH", "CRITICAL"]),
    ("HIGH", 7, ["HIGH", "CRITICAL"]),
    ("CRITICAL", 9, ["CRITICAL"]),
])
def test_finding_patterns_match_at_or_above_the_threshold(threshold: str, floor: int, labels: list[str]) -> None:
    guardduty = guardduty_pattern(threshold)
    assert guardduty["source"] == ["aws.guardduty"] and guardduty["detail-type"] == ["GuardDuty Finding"]
    assert guardduty["detail"]["severity"] == [{"numeric": [">=", floor]}]
    hub = securityhub_pattern(threshold)
    assert hub["detail-type"] == ["Security Hub Findings - Imported"]
    assert hub["detail"]["findings"]["Severity"]["Label"] == labels
    assert hub["detail"]["findings"]["RecordState"] == ["ACTIVE"]


def test_finding_rules_on_the_default_bus_use_the_configured_threshold_and_target_the_topic(stack: str) -> None:
    for graph, threshold in ((customised(), "CRITICAL"),
                             (rendered(stack).graph, stack_config(stack)["findingSeverityThreshold"])):
        topic = alert_topic(graph)
        rules = {json.loads(r["eventPattern"])["source"][0]: r for r in graph.of_type(EVENT_RULE)}
        assert json.loads(rules["aws.guardduty"]["eventPattern"]) == guardduty_pattern(threshold)
        assert json.loads(rules["aws.securityhub"]["eventPattern"]) == securityhub_pattern(threshold)
        for rule in rules.values():
            assert rule.get("eventBusName") in (None, "default") and rule["state"] == "ENABLED"
            (target,) = [t for t in graph.of_type(EVENT_TARGET) if rule.urn in t.property_dependencies["rule"]]
            assert topic.urn in target.property_dependencies["arn"]
            assert graph.depends_on(target, graph.one(TOPIC_POLICY))


# ---- service alarms ------------------------------------------------------------------------------------------

def alarm(graph: Graph, key: str) -> Res:
    return graph.named(f"mon-alarms-{key}")


def metric_of(query_alarm: Res, qid: str) -> dict[str, Any]:
    return next(q for q in query_alarm["metricQueries"] if q["id"] == qid)


def test_api_rate_alarms_use_metric_math_and_the_environments_thresholds(graph: Graph, stack: str) -> None:
    cfg = stack_config(stack)
    for key, metric, setting in (("api-5xx-rate", "5XXError", "alarm5xxRatePercent"),
                                 ("api-4xx-rate", "4XXError", "alarm4xxRatePercent")):
        a = alarm(graph, key)
        assert a["threshold"] == cfg[setting]
        errors, requests = metric_of(a, "errors")["metric"], metric_of(a, "requests")["metric"]
        assert errors["metricName"] == metric and requests["metricName"] == "Count"
        for m in (errors, requests):
            assert m["namespace"] == "AWS/ApiGateway" and m["stat"] == "Sum"
            assert m["dimensions"] == {"ApiName": API_NAME, "Stage": STAGE}  # the NAME, not the id
        rate = metric_of(a, "rate")
        assert rate["returnData"] is True and "100 * errors / requests" in rate["expression"]
    latency = alarm(graph, "api-p99-latency")
    assert latency["extendedStatistic"] == "p99" and latency["metricName"] == "Latency"
    assert latency["threshold"] == cfg["alarmP99LatencyMs"]
    assert latency["dimensions"] == {"ApiName": API_NAME, "Stage": STAGE}


def test_throttled_requests_are_counted_from_the_access_log(graph: Graph) -> None:
    (metric_filter,) = [f for f in graph.of_type(METRIC_FILTER) if f["logGroupName"] == ACCESS_LOG_GROUP]
    assert "429" in metric_filter["pattern"]
    transformation = metric_filter["metricTransformation"]
    a = alarm(graph, "api-throttled-rate")
    throttled = metric_of(a, "errors")["metric"]
    assert (throttled["namespace"], throttled["metricName"]) == (transformation["namespace"], transformation["name"])
    assert metric_of(a, "requests")["metric"]["metricName"] == "Count"


def test_without_an_access_log_there_is_no_throttle_alarm() -> None:
    graph = customised()
    assert not any(r.name.endswith("api-throttled-rate") for r in graph.of_type(ALARM))
    assert graph.of_type(METRIC_FILTER) == []


def test_waf_lambda_dlq_and_database_alarms(graph: Graph, stack: str) -> None:
    cfg = stack_config(stack)
    waf = metric_of(alarm(graph, "waf-blocked-spike"), "blocked")["metric"]
    assert waf["namespace"] == "AWS/WAFV2" and waf["metricName"] == "BlockedRequests"
    assert waf["dimensions"] == {"WebACL": ACL_METRIC, "Rule": "ALL", "Region": cfg["aws:region"]}
    for role, fn in FUNCTIONS.items():
        for metric in ("Errors", "Throttles"):
            a = alarm(graph, f"lambda-{role}-{metric.lower()}")
            assert (a["namespace"], a["metricName"], a["dimensions"]) == ("AWS/Lambda", metric, {"FunctionName": fn})
            assert a["threshold"] == 1 and a["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
    dlq = alarm(graph, "dlq-messages")
    assert (dlq["metricName"], dlq["dimensions"]) == ("ApproximateNumberOfMessagesVisible", {"QueueName": DLQ})
    assert dlq["threshold"] == 0 and dlq["comparisonOperator"] == "GreaterThanThreshold"
    for key, metric in (("rds-cpu", "CPUUtilization"), ("rds-free-storage", "FreeStorageSpace"),
                        ("rds-connections", "DatabaseConnections")):
        a = alarm(graph, key)
        assert (a["namespace"], a["metricName"]) == ("AWS/RDS", metric)
        assert a["dimensions"] == {"DBInstanceIdentifier": DB_ID}
    storage = alarm(graph, "rds-free-storage")
    assert storage["comparisonOperator"] == "LessThanThreshold"
    assert 0 < storage["threshold"] < cfg["dbAllocatedStorageGb"] * 1024**3


def test_dashboard_shows_the_api(graph: Graph, stack: str) -> None:
    dashboard = graph.one(DASHBOARD)
    assert dashboard["dashboardName"].startswith(f"sap-{stack}")
    metrics = [m for w in json.loads(dashboard["dashboardBody"])["widgets"] for m in w["properties"]["metrics"]]
    names = {(m[0], m[1]) for m in metrics}
    assert {("AWS/ApiGateway", "Count"), ("AWS/ApiGateway", "Latency"), ("AWS/ApiGateway", "4XXError"),
            ("AWS/ApiGateway", "5XXError"), ("AWS/WAFV2", "BlockedRequests"), ("AWS/WAFV2", "AllowedRequests")} <= names
    stats = {m[-1]["stat"] for m in metrics if m[1] == "Latency"}
    assert stats == {"p50", "p99"}


def test_dashboard_body_names_the_api_and_acl() -> None:
    body = json.dumps(dashboard_body("eu-west-1", "sap-x", "my-api", "v1", "aclMetric"))
    assert '"ApiName", "my-api", "Stage", "v1"' in body and '"WebACL", "aclMetric"' in body


# ---- ownership, protection, outputs, preview ------------------------------------------------------------------

def test_a_stack_that_does_not_own_the_baseline_creates_no_singleton(stack: str) -> None:
    graph = rendered(stack, owns=False).graph
    present = {t for t in SINGLETONS if graph.of_type(t)}
    assert present == set()
    assert graph.of_type(BUCKET) == []
    assert not [f for f in graph.of_type(METRIC_FILTER) if f["metricTransformation"]["namespace"] == "CISBenchmark"]
    assert graph.one(TOPIC) and len(graph.of_type(ALARM)) >= 10 and graph.one(DASHBOARD)
    owner = rendered(stack, owns=True).graph
    assert all(owner.of_type(t) for t in SINGLETONS)  # the same types exist when owned: the check can fail


def _kept(r: Rendered) -> Iterator[Res]:
    return (res for t in KEPT for res in r.graph.of_type(t))


def test_owned_singletons_are_protected_and_retained_in_every_stack(stack: str) -> None:
    r = rendered(stack)
    kept = list(_kept(r))
    assert kept
    for res in kept:
        assert res.protect, res.name
        assert r.retained[res.urn], res.name


def test_outputs_feed_the_stack_output_contract(stack: str) -> None:
    owned = rendered(stack).outputs()
    s = settings_from_mapping(stack, stack_config(stack))
    assert set(owned) == {"owns_account_baseline", "alert_topic_arn", "trail_name", "trail_bucket",
                          "config_recorder_name", "guardduty_detector_id"}
    assert owned["owns_account_baseline"] is True
    assert owned["alert_topic_arn"].startswith("arn:aws:sns:")
    assert owned["trail_name"] == trail_name(s.name_prefix)
    assert owned["trail_bucket"] == _the_bucket(rendered(stack).graph, "trail-bucket")["bucket"]
    assert ACCOUNT_ID in owned["trail_bucket"] and len(owned["trail_bucket"]) <= 63
    assert owned["config_recorder_name"] and owned["guardduty_detector_id"]
    shared = rendered(stack, owns=False).outputs()
    assert shared["owns_account_baseline"] is False and shared["alert_topic_arn"]
    assert [shared[k] for k in ("trail_name", "trail_bucket", "config_recorder_name", "guardduty_detector_id")] == [
        None] * 4


def test_preview_renders_with_unknown_ids(stack: str) -> None:
    preview = _render(stack, {"ownsAccountBaseline": True}, preview=True).graph
    full = rendered(stack).graph
    assert sorted(r.type for r in preview) == sorted(r.type for r in full)


def test_bad_arguments_name_the_field() -> None:
    with pytest.raises(ValueError, match="function_names"):
        _render("dev", {"ownsAccountBaseline": False}, function_names={})
    with pytest.raises(ValueError, match="function_names"):
        _render("dev", {"ownsAccountBaseline": False}, function_names={"Bad Name!": "x"})


# ---- the CIS table -------------------------------------------------------------------------------------------

def test_cis_table_covers_section_4_1_to_4_15_once() -> None:
    cis_filters.validate()
    assert [c.control for c in cis_filters.CIS_FILTERS] == [f"4.{i}" for i in range(1, 16)]
    unauthorized = cis_filters.CIS_FILTERS[0].pattern
    assert '"*UnauthorizedOperation"' in unauthorized and '"delivery.logs.amazonaws.com"' in unauthorized
    root = cis_filters.CIS_FILTERS[2].pattern
    assert '$.userIdentity.type = "Root"' in root and "invokedBy NOT EXISTS" in root


@pytest.mark.parametrize(("broken", "message"), [
    (lambda f: f[:1] + f[:1] + f[2:], "duplicate control"),
    (lambda f: (cis_filters.CisFilter("4.99", "Bad", "t", "{ ($.eventName = X }"),), "unbalanced brackets"),
    (lambda f: (cis_filters.CisFilter("4.98", "Bad", "t", '{ $.a = "x }'),), "unbalanced quotes"),
    (lambda f: (cis_filters.CisFilter("4.97", "bad name", "t", "{ $.a = 1 }"),), "not alphanumeric"),
])
def test_cis_table_validation_catches_mistakes(broken: Callable[[Any], Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cis_filters.validate(broken(cis_filters.CIS_FILTERS))
