"""Monitoring of one stack: alert topic, service alarms and dashboard, and (when owned) the account baseline."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.alerts import AlertTopic, AlertTopicArgs
from components.baseline import AccountBaseline, AccountBaselineArgs
from components.encryption import Encryption
from components.settings import Settings

PERIOD = 300  # seconds; API Gateway, WAF, Lambda and SQS publish at least every minute, RDS every minute
THROTTLE_NAMESPACE = "SecureApiPlatform"
RDS_CPU_PERCENT = 80
RDS_FREE_STORAGE_FRACTION = 0.10
GIB = 1024**3
# Lambda's default account concurrency: the most connections functions with unreserved concurrency can open.
ACCOUNT_CONCURRENCY = 1000
_KEY_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")

# The access log format is the API component's; this matches its status whether logged as a number or a string.
THROTTLED_PATTERN = '{ ($.status = 429) || ($.status = "429") }'


@dataclass(frozen=True)
class EventRuleRef:
    """An EventBridge rule whose deliveries must not fail silently."""

    rule_name: pulumi.Input[str]
    """The rule's name (``RuleName`` dimension)."""
    bus_name: pulumi.Input[str] | None = None
    """Its custom bus (``EventBusName`` dimension); None for the default bus, whose metrics carry only RuleName."""


@dataclass
class MonitoringArgs:
    settings: Settings
    """Validated stack settings (alert subscribers, thresholds, baseline ownership, naming)."""
    encryption: Encryption
    """The stack's keys; the logs key encrypts the alert topic, the trail and its bucket."""
    account_id: pulumi.Input[str]
    """Account the stack deploys to (policies and ARNs name it)."""
    api_name: pulumi.Input[str]
    """Name (not id) of the REST API: API Gateway metrics use it as the ``ApiName`` dimension."""
    stage_name: pulumi.Input[str]
    """Stage of the API (``Stage`` dimension). Pass the Stage's output so the alarms wait for it."""
    web_acl_metric_name: pulumi.Input[str]
    """The web ACL's ``visibility_config.metric_name``: WAF metrics use it as the ``WebACL`` dimension."""
    function_names: Mapping[str, pulumi.Input[str]]
    """Functions to alarm on (Errors, Throttles): role (e.g. "api") -> function name."""
    dlq_name: pulumi.Input[str]
    """Name of the dead-letter queue; any visible message there is an alert."""
    db_instance_id: pulumi.Input[str]
    """RDS instance identifier (``DBInstanceIdentifier`` dimension)."""
    access_log_group_name: pulumi.Input[str] | None = None
    """API access log group (JSON with a ``status`` field). Needed for the throttled-requests (429) alarm: API
    Gateway REST APIs publish no 429 metric. None: no throttle alarm."""
    event_rules: Mapping[str, EventRuleRef] = field(default_factory=dict)
    """Rules that deliver to an encrypted topic or queue: key -> rule. A refused delivery (key or resource policy)
    shows only in the rule's FailedInvocations metric, so each gets an alarm. The alert topic's finding rules are
    added by ``Monitoring``."""
    baseline_claim: pulumi.Resource | None = None
    """This stack's account-baseline claim (components/ownership.py) when it owns the baseline."""
    extra_tags: Mapping[str, str] = field(default_factory=dict)
    """Tags added to the alarms (the provider's default tags already apply)."""


def _validate(args: MonitoringArgs) -> None:
    problems: list[str] = []
    if not args.function_names:
        problems.append("function_names: at least one function must be monitored")
    for label, keys in (("function_names", args.function_names), ("event_rules", args.event_rules)):
        bad = [k for k in keys if not _KEY_RE.match(k)]
        if bad:
            problems.append(f"{label}: keys must be short lowercase names used in resource names; bad: {bad}")
    if problems:
        raise ValueError("MonitoringArgs: " + "; ".join(problems))


def rate_queries(numerator: str, api_dims: Mapping[str, Any], label: str) -> list[dict[str, Any]]:
    """Metric math: ``numerator`` as a percentage of all requests (0 when there are none)."""
    def metric(qid: str, name: str) -> dict[str, Any]:
        return {"id": qid, "return_data": False, "metric": {
            "namespace": "AWS/ApiGateway", "metric_name": name, "dimensions": dict(api_dims),
            "period": PERIOD, "stat": "Sum"}}

    return [
        metric("errors", numerator),
        metric("requests", "Count"),
        # IF avoids a division by zero (no datapoint) in quiet periods.
        {"id": "rate", "expression": "IF(requests > 0, 100 * errors / requests, 0)", "label": label,
         "return_data": True},
    ]


class ServiceAlarms(pulumi.ComponentResource):
    """Creates the stack's CloudWatch alarms, each notifying the alert topic on ALARM and OK:

    API 5XX and 4XX rates (metric math over Count) and p99 latency with the environment's thresholds, throttled
    requests (a metric filter on the access log, as a rate), WAF blocked-request spikes (anomaly band), Lambda
    Errors and Throttles per function, any message in the DLQ, FailedInvocations of every rule that delivers to an
    encrypted topic or queue, RDS CPU, free storage and connections; and a dashboard for the API.
    ``treat_missing_data`` is chosen per alarm (see comments)."""

    alarms: dict[str, aws.cloudwatch.MetricAlarm]

    def __init__(self, name: str, args: MonitoringArgs, topic_arn: pulumi.Input[str],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:monitoring:ServiceAlarms", name, None, opts)
        s = args.settings
        self._name, self._topic = name, topic_arn
        self._tags = dict(args.extra_tags)
        self.alarms = {}
        api = {"ApiName": args.api_name, "Stage": args.stage_name}

        # Quiet periods carry no requests, hence no errors: missing data is fine (notBreaching) for API alarms.
        self._alarm("api-5xx-rate", f"API 5XX responses above {s.alarm_5xx_rate_percent}% of requests",
                    metric_queries=rate_queries("5XXError", api, "5XX %"), threshold=s.alarm_5xx_rate_percent,
                    evaluation_periods=3, datapoints_to_alarm=2, treat_missing_data="notBreaching")
        self._alarm("api-4xx-rate", f"API 4XX responses above {s.alarm_4xx_rate_percent}% of requests",
                    metric_queries=rate_queries("4XXError", api, "4XX %"), threshold=s.alarm_4xx_rate_percent,
                    evaluation_periods=3, datapoints_to_alarm=2, treat_missing_data="notBreaching")
        self._alarm("api-p99-latency", f"API p99 latency above {s.alarm_p99_latency_ms} ms",
                    namespace="AWS/ApiGateway", metric_name="Latency", dimensions=api, extended_statistic="p99",
                    period=PERIOD, threshold=s.alarm_p99_latency_ms, evaluation_periods=3, datapoints_to_alarm=2,
                    treat_missing_data="notBreaching")
        if args.access_log_group_name is not None:
            self._throttle_alarm(args, api, args.access_log_group_name)

        # WAF: "a spike" relative to the usual level, so an anomaly band (2 standard deviations) rather than a
        # fixed count that would be wrong for both dev and prod. No blocks published means none happened.
        waf = {"WebACL": args.web_acl_metric_name, "Rule": "ALL", "Region": s.region}
        self._alarm("waf-blocked-spike", "WAF blocked requests above their expected band",
                    metric_queries=[
                        {"id": "blocked", "return_data": True, "metric": {
                            "namespace": "AWS/WAFV2", "metric_name": "BlockedRequests", "dimensions": waf,
                            "period": PERIOD, "stat": "Sum"}},
                        {"id": "band", "expression": "ANOMALY_DETECTION_BAND(blocked, 2)", "label": "expected",
                         "return_data": True},
                    ],
                    threshold_metric_id="band", comparison_operator="GreaterThanUpperThreshold",
                    evaluation_periods=2, datapoints_to_alarm=2, treat_missing_data="notBreaching")

        # Lambda counts only unhandled errors and throttles: any is a defect or a capacity problem. A function
        # that is not invoked publishes nothing, which is fine.
        for role, function_name in args.function_names.items():
            for metric in ("Errors", "Throttles"):
                self._alarm(f"lambda-{role}-{metric.lower()}", f"Lambda {role}: {metric} >= 1",
                            namespace="AWS/Lambda", metric_name=metric, dimensions={"FunctionName": function_name},
                            statistic="Sum", period=PERIOD, threshold=1, evaluation_periods=1,
                            comparison_operator="GreaterThanOrEqualToThreshold", treat_missing_data="notBreaching")

        # SQS stops publishing for an empty queue after 6 idle hours; a queue holding messages keeps publishing.
        self._alarm("dlq-messages", "Messages in the dead-letter queue (failed deliveries need attention)",
                    namespace="AWS/SQS", metric_name="ApproximateNumberOfMessagesVisible",
                    dimensions={"QueueName": args.dlq_name}, statistic="Maximum", period=PERIOD, threshold=0,
                    evaluation_periods=1, comparison_operator="GreaterThanThreshold",
                    treat_missing_data="notBreaching")

        self._delivery_alarms(args.event_rules)
        self._database_alarms(args)
        self._dashboard(args, api, waf)
        self.register_outputs({"alarmNames": [a.name for a in self.alarms.values()]})

    def _alarm(self, key: str, description: str, **kwargs: Any) -> aws.cloudwatch.MetricAlarm:
        kwargs.setdefault("comparison_operator", "GreaterThanThreshold")
        alarm = aws.cloudwatch.MetricAlarm(
            f"{self._name}-{key}",
            alarm_description=description,
            alarm_actions=[self._topic],
            ok_actions=[self._topic],  # recovery is news too: it closes the page
            tags=self._tags or None,
            opts=pulumi.ResourceOptions(parent=self),
            **kwargs,
        )
        self.alarms[key] = alarm
        return alarm

    def _throttle_alarm(self, args: MonitoringArgs, api: Mapping[str, Any], log_group: pulumi.Input[str]) -> None:
        """429s: stage/method throttling and usage-plan limits answer 429, which REST APIs fold into 4XXError.

        A metric filter counts them from the access log; as a rate it uses the 4XX threshold (throttling alone
        reaching the whole client-error budget means limits too low for real traffic, or a flood).
        """
        s = args.settings
        metric_name = throttled_metric_name(s.name_prefix)
        metric_filter = aws.cloudwatch.LogMetricFilter(
            f"{self._name}-throttled-filter",
            log_group_name=log_group,
            pattern=THROTTLED_PATTERN,
            # default_value 0 publishes zeros for other requests, so the rate has a denominator-aligned series.
            metric_transformation={"name": metric_name, "namespace": THROTTLE_NAMESPACE, "value": "1",
                                   "default_value": "0"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        queries = rate_queries("5XXError", api, "429 %")
        queries[0] = {"id": "errors", "return_data": False, "metric": {
            "namespace": THROTTLE_NAMESPACE, "metric_name": metric_name, "period": PERIOD, "stat": "Sum"}}
        self._alarm("api-throttled-rate", f"Throttled (429) responses above {s.alarm_4xx_rate_percent}%",
                    metric_queries=queries, threshold=s.alarm_4xx_rate_percent, evaluation_periods=3,
                    datapoints_to_alarm=2, treat_missing_data="notBreaching")
        self.throttle_filter = metric_filter

    def _delivery_alarms(self, rules: Mapping[str, EventRuleRef]) -> None:
        """FailedInvocations per rule: the only trace of a delivery EventBridge gave up on (KMS or resource policy
        refusals included). EventBridge publishes it only when non-zero, so missing data is fine."""
        for key, ref in rules.items():
            dims: dict[str, pulumi.Input[str]] = {"RuleName": ref.rule_name}
            if ref.bus_name is not None:
                dims["EventBusName"] = ref.bus_name  # custom-bus rules publish with both dimensions
            self._alarm(f"rule-{key}-failed-invocations", f"EventBridge rule {key}: deliveries failed permanently",
                        namespace="AWS/Events", metric_name="FailedInvocations", dimensions=dims, statistic="Sum",
                        period=PERIOD, threshold=1, evaluation_periods=1,
                        comparison_operator="GreaterThanOrEqualToThreshold", treat_missing_data="notBreaching")

    def _database_alarms(self, args: MonitoringArgs) -> None:
        s = args.settings
        db = {"DBInstanceIdentifier": args.db_instance_id}
        # A running instance publishes every minute: silence means it is down or stopped, so missing is breaching.
        self._alarm("rds-cpu", f"RDS CPU above {RDS_CPU_PERCENT}% for 15 minutes", namespace="AWS/RDS",
                    metric_name="CPUUtilization", dimensions=db, statistic="Average", period=PERIOD,
                    threshold=RDS_CPU_PERCENT, evaluation_periods=3, treat_missing_data="breaching")
        # Storage autoscaling adds space at 10% free; falling below 10% of the initial size means it has reached
        # dbMaxAllocatedStorageGb (or failed).
        free_bytes = int(s.db_allocated_storage_gb * GIB * RDS_FREE_STORAGE_FRACTION)
        self._alarm("rds-free-storage", f"RDS free storage below {free_bytes // GIB} GiB", namespace="AWS/RDS",
                    metric_name="FreeStorageSpace", dimensions=db, statistic="Minimum", period=PERIOD,
                    threshold=free_bytes, evaluation_periods=1, comparison_operator="LessThanThreshold",
                    treat_missing_data="breaching")
        # Each function instance holds at most one connection: more than the functions can open means a leak or a
        # client that is not ours.
        per_function = s.lambda_reserved_concurrency if s.lambda_reserved_concurrency > 0 else ACCOUNT_CONCURRENCY
        max_connections = per_function * len(args.function_names)
        self._alarm("rds-connections", f"RDS connections above {max_connections}", namespace="AWS/RDS",
                    metric_name="DatabaseConnections", dimensions=db, statistic="Maximum", period=PERIOD,
                    threshold=max_connections, evaluation_periods=2, treat_missing_data="breaching")

    def _dashboard(self, args: MonitoringArgs, api: Mapping[str, Any], waf: Mapping[str, Any]) -> None:
        s = args.settings
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{self._name}-dashboard",
            dashboard_name=f"{s.name_prefix}-api",
            dashboard_body=pulumi.Output.all(api["ApiName"], api["Stage"], waf["WebACL"]).apply(
                lambda v: json.dumps(dashboard_body(s.region, s.name_prefix, v[0], v[1], v[2]))
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )


def throttled_metric_name(name_prefix: str) -> str:
    """Per stack: dev and prod may share an account and the namespace."""
    return f"{name_prefix}-ThrottledRequests"


def dashboard_body(region: str, name_prefix: str, api_name: str, stage: str, web_acl_metric: str
                   ) -> dict[str, Any]:
    """API requests, latency p50/p99, 4XX/5XX, throttles (usage) and WAF blocked/allowed."""
    api = ["ApiName", api_name, "Stage", stage]
    waf = ["WebACL", web_acl_metric, "Rule", "ALL", "Region", region]

    def widget(title: str, metrics: list[list[Any]], x: int, y: int, stat: str = "Sum") -> dict[str, Any]:
        return {"type": "metric", "x": x, "y": y, "width": 12, "height": 6,
                "properties": {"title": title, "region": region, "stat": stat, "period": PERIOD,
                               "view": "timeSeries", "metrics": metrics}}

    return {"widgets": [
        widget("Requests", [["AWS/ApiGateway", "Count", *api]], 0, 0),
        widget("Latency (ms)", [["AWS/ApiGateway", "Latency", *api, {"stat": "p50"}],
                                ["AWS/ApiGateway", "Latency", *api, {"stat": "p99"}]], 12, 0, "p99"),
        widget("Errors", [["AWS/ApiGateway", "4XXError", *api], ["AWS/ApiGateway", "5XXError", *api]], 0, 6),
        widget("Throttled (429)", [[THROTTLE_NAMESPACE, throttled_metric_name(name_prefix)]], 12, 6),
        widget("WAF", [["AWS/WAFV2", "BlockedRequests", *waf], ["AWS/WAFV2", "AllowedRequests", *waf]], 0, 12),
    ]}



class Monitoring(pulumi.ComponentResource):
    """Creates the stack's monitoring: the encrypted alert topic with its subscribers and finding rules, the
    service alarms and dashboard, and, only when ``ownsAccountBaseline`` is true, the account baseline (trail,
    Config, GuardDuty, Security Hub, Inspector, CIS alarms). A stack that shares an account with the owner creates
    none of the singletons: a second copy would fail or double-bill.

    Exposes what the stack outputs under ``monitoring`` (:meth:`outputs`)."""

    alert_topic: AlertTopic
    alarms: ServiceAlarms
    baseline: AccountBaseline | None

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:monitoring:Monitoring", name, None, opts)
        _validate(args)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)
        logs_key_arn = args.encryption.logs_key.arn

        self.alert_topic = AlertTopic(f"{name}-alerts", AlertTopicArgs(s, logs_key_arn, args.account_id), child)
        topic_arn = self.alert_topic.topic.arn
        findings = self.alert_topic.finding_rules
        finding_rules = {f"{key}-findings": EventRuleRef(rule.name) for key, rule in findings.items()}
        alarm_args = dataclasses.replace(args, event_rules={**args.event_rules, **finding_rules})
        self.alarms = ServiceAlarms(f"{name}-alarms", alarm_args, topic_arn, child)
        self.baseline = (
            AccountBaseline(f"{name}-baseline",
                            AccountBaselineArgs(s, logs_key_arn, args.account_id, topic_arn, args.baseline_claim),
                            child)
            if s.owns_account_baseline else None
        )
        self.register_outputs(self.outputs())

    def outputs(self) -> dict[str, pulumi.Input[Any]]:
        """The ``monitoring`` object of the stack outputs (nulls where another stack owns the baseline)."""
        b = self.baseline
        return {
            "owns_account_baseline": b is not None,
            "alert_topic_arn": self.alert_topic.topic.arn,
            "trail_name": b.trail.name if b else None,
            "trail_bucket": b.trail_bucket.bucket if b else None,
            "config_recorder_name": b.recorder.name if b else None,
            "guardduty_detector_id": b.detector.id if b else None,
        }
