"""Edge rules (API Gateway REST / HTTP / WebSocket, WAF): every input form, compliant and not, absent
(provider default), unknown at preview, config override.  Through the analyzer servicer (harness.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from policies import _openapi
from policies import _tokens as T
from policies._values import UNKNOWN as PLAIN_UNKNOWN

from .harness import UNKNOWN, Pack, Res, of

ROUTE_AUTH = "apigateway-route-authorization"
THROTTLING = "apigateway-stage-throttling"
ACCESS_LOGS = "apigateway-stage-access-logging"
EXEC_LOGS = "apigateway-execution-logging"
DATA_TRACE = "apigateway-no-data-trace"
VALIDATION = "apigateway-request-validation"
BAD_INPUTS = "wafv2-known-bad-inputs"
METRICS = "wafv2-cloudwatch-metrics"
HAS_RULES = "wafv2-web-acl-has-rules"


def _names(diags: list[Any]) -> list[str]:
    return sorted(d.urn.rsplit("::", 1)[1] for d in diags)


def _only(diags: list[Any], problem: str | None) -> None:
    """No diagnostic when ``problem`` is None, else exactly one whose message contains it."""
    if problem is None:
        assert diags == []
    else:
        assert len(diags) == 1 and problem in diags[0].message, [d.message for d in diags]


# --- OpenAPI documents (pure helper) -------------------------------------------------------------------
JWT = {"type": "oauth2", "x-amazon-apigateway-authorizer": {"type": "jwt", "jwtConfiguration": {}}}
SIGV4 = {"type": "apiKey", "name": "Authorization", "in": "header", "x-amazon-apigateway-authtype": "awsSigv4"}
API_KEY = {"type": "apiKey", "name": "x-api-key", "in": "header"}


def _doc(paths: dict[str, Any], *, security: Any = None, swagger2: bool = False,
         extra: dict[str, Any] | None = None) -> dict[str, Any]:
    schemes = {"jwt": JWT, "sigv4": SIGV4, "key": API_KEY}
    doc: dict[str, Any] = {"paths": paths, **(extra or {})}
    if swagger2:
        doc.update(swagger="2.0", securityDefinitions=schemes)
    else:
        doc.update(openapi="3.0.1", components={"securitySchemes": schemes})
    if security is not None:
        doc["security"] = security
    return doc


def _op(**spec: Any) -> dict[str, Any]:
    return {"responses": {"200": {"description": "ok"}}, **spec}


@pytest.mark.parametrize(("document", "open_ops"), [
    (_doc({"/a": {"get": _op(security=[{"jwt": []}])}}), []),
    (_doc({"/a": {"get": _op()}}, security=[{"sigv4": []}]), []),  # document default
    (_doc({"/a": {"get": _op()}}, security=[{"sigv4": []}], swagger2=True), []),
    (_doc({"/a": {"get": _op(), "post": _op(security=[{"jwt": []}])}}), ["GET /a"]),  # no security at all
    (_doc({"/a": {"get": _op(security=[])}}, security=[{"jwt": []}]), ["GET /a"]),  # operation opts out
    (_doc({"/a": {"get": _op(security=[{"jwt": []}, {}])}}), ["GET /a"]),  # optional: anonymous alternative
    (_doc({"/a": {"get": _op(security=[{"key": []}])}}), ["GET /a"]),  # an API key is not authentication
    (_doc({"/a": {"get": _op(security=[{"key": [], "jwt": []}])}}), []),  # key AND authorizer
    (_doc({"/a": {"get": _op(security=[{"jwt": []}, {"key": []}])}}), ["GET /a"]),  # key OR authorizer
    (_doc({"/a": {"get": _op(security=[{"missing": []}])}}), ["GET /a"]),  # undefined scheme
    (_doc({"/a": {"get": _op(**{"x-amazon-apigateway-auth": {"type": "AWS_IAM"}})}}), []),
    (_doc({"/a": {"options": _op(), "x-amazon-apigateway-any-method": _op()}}), ["ANY /a"]),  # OPTIONS exempt
])
def test_openapi_unauthenticated_operations(document: dict[str, Any], open_ops: list[str]) -> None:
    assert [op.label for op in _openapi.unauthenticated(document, {"OPTIONS"})] == open_ops


def test_openapi_load_accepts_json_and_yaml_and_names_bad_text() -> None:
    doc = _doc({"/a": {"get": _op()}})
    assert _openapi.load(json.dumps(doc)) == _openapi.load(yaml.safe_dump(doc)) == doc
    assert _openapi.load(PLAIN_UNKNOWN) is None and _openapi.load(None) is None
    with pytest.raises(_openapi.OpenApiError, match="neither JSON nor YAML"):
        _openapi.load("paths: [unclosed")
    with pytest.raises(_openapi.OpenApiError, match="no 'paths' object"):
        _openapi.load("[1, 2]")


def test_openapi_request_validators() -> None:
    validators = {"all": {"validateRequestBody": True, "validateRequestParameters": True},
                  "body": {"validateRequestBody": True, "validateRequestParameters": False}}
    doc = _doc({"/a": {"get": _op(), "post": _op(**{"x-amazon-apigateway-request-validator": "body"})}},
               extra={"x-amazon-apigateway-request-validators": validators,
                      "x-amazon-apigateway-request-validator": "all"})
    get, post = _openapi.operations(doc)
    assert _openapi.validates_fully(doc, get) and not _openapi.validates_fully(doc, post)


# --- apigateway-route-authorization ------------------------------------------------------------------
def _http_api(protocol: str = "HTTP", **props: Any) -> Res:
    return Res(T.APIGWV2_API, "api", {"protocolType": protocol, "name": "api", **props})


def _route(name: str, key: str, auth: Any = None, linked: bool = True) -> Res:
    props: dict[str, Any] = {"apiId": UNKNOWN if linked else "a1b2c3", "routeKey": key}
    if auth is not None:
        props["authorizationType"] = auth
    return Res(T.APIGWV2_ROUTE, name, props, prop_deps={"apiId": ["api"]} if linked else {})


def test_http_routes_need_an_authorizer() -> None:
    graph = [_http_api(), _route("jwt", "GET /orders", "JWT"), _route("iam", "POST /orders", "AWS_IAM"),
             _route("none", "DELETE /orders", "NONE"), _route("absent", "$default"),
             _route("unknown", "PUT /orders", UNKNOWN), _route("preflight", "OPTIONS /orders", "NONE")]
    diags = of(Pack().analyze_stack(graph), ROUTE_AUTH)
    assert _names(diags) == ["absent", "none"]
    assert all(d.level == "mandatory" for d in diags)
    assert "NONE (absent)" in next(d.message for d in diags if d.urn.endswith("::absent"))


def test_websocket_apis_authorize_on_connect_only() -> None:
    graph = [_http_api("WEBSOCKET"), _route("connect", "$connect"), _route("message", "sendMessage"),
             _route("disconnect", "$disconnect"), _route("default", "$default")]
    assert _names(of(Pack().analyze_stack(graph), ROUTE_AUTH)) == ["connect"]
    graph[1] = _route("connect", "$connect", "CUSTOM")
    assert of(Pack().analyze_stack(graph), ROUTE_AUTH) == []


def test_route_of_an_api_outside_the_stack_is_judged_by_its_key() -> None:
    graph = [_route("http", "GET /x", linked=False), _route("ws", "sendMessage", linked=False),
             _route("connect", "$connect", linked=False), _route("default", "$default", linked=False)]
    assert _names(of(Pack().analyze_stack(graph), ROUTE_AUTH)) == ["connect", "http"]


def test_exempt_routes_config() -> None:
    graph = [_http_api(), _route("health", "GET /health", "NONE")]
    assert len(of(Pack().analyze_stack(graph), ROUTE_AUTH)) == 1
    pack = Pack({ROUTE_AUTH: {"exemptRoutes": ["GET /health"]}})
    assert of(pack.analyze_stack(graph), ROUTE_AUTH) == []


def test_quick_created_http_api_has_an_open_catch_all_route_and_stage() -> None:
    api = _http_api(target="arn:aws:lambda:eu-west-1:123456789012:function:f")
    diags = Pack().analyze_stack([api])
    assert "catch-all route has no authorizer" in of(diags, ROUTE_AUTH)[0].message
    assert "no throttling" in of(diags, THROTTLING)[0].message
    assert "writes no access logs" in of(Pack().analyze(T.APIGWV2_API, api.props), ACCESS_LOGS)[0].message
    plain = _http_api()
    assert of(Pack().analyze(T.APIGWV2_API, plain.props), ACCESS_LOGS) == []


@pytest.mark.parametrize("api_type", [T.API_REST_API, T.APIGWV2_API])
def test_openapi_body_needs_security_on_every_operation(api_type: str) -> None:
    secure = _doc({"/orders": {"get": _op(), "options": _op(security=[])}}, security=[{"jwt": []}])
    insecure = _doc({"/orders": {"get": _op(security=[{"jwt": []}])}, "/admin": {"post": _op()}})
    assert of(Pack().analyze_stack([Res(api_type, "api", {"body": json.dumps(secure)})]), ROUTE_AUTH) == []
    diags = of(Pack().analyze_stack([Res(api_type, "api", {"body": yaml.safe_dump(insecure)})]), ROUTE_AUTH)
    assert len(diags) == 1 and "POST /admin" in diags[0].message and "GET /orders" not in diags[0].message
    assert of(Pack().analyze_stack([Res(api_type, "api", {"body": UNKNOWN})]), ROUTE_AUTH) == []
    bad = of(Pack().analyze_stack([Res(api_type, "api", {"body": "{{"})]), ROUTE_AUTH)
    assert "neither JSON nor YAML" in bad[0].message
    exempt = Pack({ROUTE_AUTH: {"exemptRoutes": ["POST /admin"]}})
    assert of(exempt.analyze_stack([Res(api_type, "api", {"body": json.dumps(insecure)})]), ROUTE_AUTH) == []


# --- throttling / logging of v2 stages -------------------------------------------------------------------
def _v2_stage(protocol: str = "HTTP", **props: Any) -> list[Res]:
    return [_http_api(protocol), Res(T.APIGWV2_STAGE, "stage", {"apiId": UNKNOWN, "name": "$default", **props},
                                     prop_deps={"apiId": ["api"]})]


@pytest.mark.parametrize(("settings", "routes", "problem"), [
    ({"throttlingRateLimit": 50, "throttlingBurstLimit": 100}, [], None),
    ({"throttlingRateLimit": UNKNOWN, "throttlingBurstLimit": UNKNOWN}, [], None),
    (None, [], "defaultRouteSettings.throttlingRateLimit is absent"),  # account default: ~10,000 rps
    ({"throttlingRateLimit": 50}, [], "throttlingBurstLimit is absent"),
    ({"throttlingRateLimit": 5000, "throttlingBurstLimit": 100}, [], "above the maximum 1000"),
    ({"throttlingRateLimit": 50, "throttlingBurstLimit": 100}, [{"routeKey": "GET /x"}], None),  # inherits
    ({"throttlingRateLimit": 50, "throttlingBurstLimit": 100},
     [{"routeKey": "GET /x", "throttlingBurstLimit": 9999}], "routeSettings[0] (GET /x)"),
])
def test_v2_stage_throttling(settings: Any, routes: list[Any], problem: str | None) -> None:
    props: dict[str, Any] = {"routeSettings": routes}
    if settings is not None:
        props["defaultRouteSettings"] = settings
    diags = of(Pack().analyze_stack(_v2_stage(**props)), THROTTLING)
    _only(diags, problem)


def test_v2_stage_throttling_config_raises_the_maximum() -> None:
    graph = _v2_stage(defaultRouteSettings={"throttlingRateLimit": 5000, "throttlingBurstLimit": 100})
    assert of(Pack({THROTTLING: {"maxRateLimit": 5000}}).analyze_stack(graph), THROTTLING) == []


@pytest.mark.parametrize(("props", "missing"), [
    ({"accessLogSettings": {"destinationArn": UNKNOWN, "format": "$context.requestId"}}, None),
    ({}, "accessLogSettings.destinationArn and accessLogSettings.format"),
    ({"accessLogSettings": {"destinationArn": "arn:aws:logs:eu-west-1:1:log-group:x"}}, "accessLogSettings.format"),
])
def test_v2_stage_access_logs(props: dict[str, Any], missing: str | None) -> None:
    diags = of(Pack().analyze(T.APIGWV2_STAGE, props), ACCESS_LOGS)
    _only(diags, missing)
    assert all(d.level == "mandatory" for d in diags)


def test_websocket_stage_execution_logging_and_overrides() -> None:
    on = {"defaultRouteSettings": {"loggingLevel": "INFO"}}
    assert of(Pack().analyze_stack(_v2_stage("WEBSOCKET", **on)), EXEC_LOGS) == []
    assert "default OFF" in of(Pack().analyze_stack(_v2_stage("WEBSOCKET")), EXEC_LOGS)[0].message
    off = {**on, "routeSettings": [{"routeKey": "sendMessage", "loggingLevel": "OFF"}]}
    assert "routeSettings[0] (sendMessage)" in of(Pack().analyze_stack(_v2_stage("WEBSOCKET", **off)),
                                                  EXEC_LOGS)[0].message
    # HTTP APIs have no execution logs: nothing to require.
    assert of(Pack().analyze_stack(_v2_stage("HTTP")), EXEC_LOGS) == []
    unknown = {"defaultRouteSettings": {"loggingLevel": UNKNOWN}}
    assert of(Pack().analyze_stack(_v2_stage("WEBSOCKET", **unknown)), EXEC_LOGS) == []


def _rest_stage_with(method_settings: list[dict[str, Any]]) -> list[Res]:
    graph = [Res(T.API_REST_API, "api", {}),
             Res(T.API_STAGE, "stage", {"stageName": "v1", "restApi": UNKNOWN}, prop_deps={"restApi": ["api"]})]
    for index, settings in enumerate(method_settings):
        graph.append(Res(T.API_METHOD_SETTINGS, f"ms{index}", {"restApi": UNKNOWN, "stageName": UNKNOWN, **settings},
                         prop_deps={"restApi": ["api"], "stageName": ["stage"]}))
    return graph


def test_rest_method_settings_switching_logging_off_for_one_method() -> None:
    stage_wide = {"methodPath": "*/*", "settings": {"loggingLevel": "ERROR"}}
    assert of(Pack().analyze_stack(_rest_stage_with([stage_wide])), EXEC_LOGS) == []
    off = {"methodPath": "orders/GET", "settings": {"loggingLevel": "OFF"}}
    diags = of(Pack().analyze_stack(_rest_stage_with([stage_wide, off])), EXEC_LOGS)
    assert _names(diags) == ["ms1"] and "orders/GET" in diags[0].message
    info = {"methodPath": "orders/GET", "settings": {"loggingLevel": "INFO"}}
    assert of(Pack().analyze_stack(_rest_stage_with([stage_wide, info])), EXEC_LOGS) == []


@pytest.mark.parametrize(("type_", "props", "count"), [
    (T.API_METHOD_SETTINGS, {"methodPath": "*/*", "settings": {"dataTraceEnabled": True}}, 1),
    (T.API_METHOD_SETTINGS, {"methodPath": "orders/POST", "settings": {"dataTraceEnabled": "true"}}, 1),
    (T.API_METHOD_SETTINGS, {"methodPath": "*/*", "settings": {"dataTraceEnabled": False}}, 0),
    (T.API_METHOD_SETTINGS, {"methodPath": "*/*", "settings": {}}, 0),  # absent: off
    (T.API_METHOD_SETTINGS, {"methodPath": "*/*", "settings": {"dataTraceEnabled": UNKNOWN}}, 0),
    (T.APIGWV2_STAGE, {"defaultRouteSettings": {"dataTraceEnabled": True}}, 1),
    (T.APIGWV2_STAGE, {"routeSettings": [{"routeKey": "$connect", "dataTraceEnabled": True}]}, 1),
    (T.APIGWV2_STAGE, {"defaultRouteSettings": {"loggingLevel": "INFO"}}, 0),
])
def test_data_trace_is_never_on(type_: str, props: dict[str, Any], count: int) -> None:
    diags = of(Pack().analyze(type_, props), DATA_TRACE)
    assert len(diags) == count and all(d.level == "mandatory" for d in diags)


# --- request validation ------------------------------------------------------------------------------------
def _validated_api(*, used: bool, body_only: bool = False, body: Any = None) -> list[Res]:
    api_props: dict[str, Any] = {} if body is None else {"body": body}
    graph = [Res(T.API_REST_API, "api", api_props),
             Res(T.API_REQUEST_VALIDATOR, "v", {"restApi": UNKNOWN, "validateRequestBody": True,
                                                "validateRequestParameters": not body_only},
                 prop_deps={"restApi": ["api"]})]
    method: dict[str, Any] = {"restApi": UNKNOWN, "httpMethod": "POST", "authorization": "AWS_IAM"}
    deps: dict[str, list[str]] = {"restApi": ["api"]}
    if used:
        method["requestValidatorId"] = UNKNOWN
        deps["requestValidatorId"] = ["v"]
    graph.append(Res(T.API_METHOD, "m", method, prop_deps=deps))
    return graph


def test_request_validator_must_be_used_by_a_method() -> None:
    assert of(Pack().analyze_stack(_validated_api(used=True)), VALIDATION) == []
    unused = of(Pack().analyze_stack(_validated_api(used=False)), VALIDATION)
    assert len(unused) == 1 and "that no method uses" in unused[0].message
    partial = of(Pack().analyze_stack(_validated_api(used=True, body_only=True)), VALIDATION)
    assert "no RequestValidator validating both" in partial[0].message
    assert len(of(Pack().analyze_stack([Res(T.API_REST_API, "api", {})]), VALIDATION)) == 1


def test_request_validation_in_an_openapi_body() -> None:
    validators = {"all": {"validateRequestBody": True, "validateRequestParameters": True}}
    doc = _doc({"/a": {"post": _op()}}, extra={"x-amazon-apigateway-request-validators": validators,
                                               "x-amazon-apigateway-request-validator": "all"})
    assert of(Pack().analyze_stack([Res(T.API_REST_API, "api", {"body": json.dumps(doc)})]), VALIDATION) == []
    bare = _doc({"/a": {"post": _op()}})
    assert len(of(Pack().analyze_stack([Res(T.API_REST_API, "api", {"body": json.dumps(bare)})]), VALIDATION)) == 1
    assert of(Pack().analyze_stack([Res(T.API_REST_API, "api", {"body": UNKNOWN})]), VALIDATION) == []


# --- WAF -------------------------------------------------------------------------------------------------
VIS = {"cloudwatchMetricsEnabled": True, "metricName": "m", "sampledRequestsEnabled": True}


def _managed(name: str = "AWSManagedRulesKnownBadInputsRuleSet", *, count: bool = False,
             overrides: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    statement: dict[str, Any] = {"name": name, "vendorName": "AWS"}
    if overrides:
        statement["ruleActionOverrides"] = [{"name": n, "actionToUse": {a: {}}} for n, a in overrides]
    return {"name": name, "priority": 1, "overrideAction": {"count" if count else "none": {}},
            "statement": {"managedRuleGroupStatement": statement}, "visibilityConfig": VIS}


def _acl(**props: Any) -> Res:
    return Res(T.WAF_WEB_ACL, "acl", {"scope": "REGIONAL", "arn": UNKNOWN, "visibilityConfig": VIS, **props})


@pytest.mark.parametrize(("rules", "problem"), [
    ([_managed("AWSManagedRulesCommonRuleSet"), _managed()], None),
    ([_managed(overrides=(("Host_localhost_HEADER", "count"),))], None),  # other rules may count
    ([_managed(overrides=(("Log4JRCE_BODY", "block"),))], None),
    ([_managed("AWSManagedRulesCommonRuleSet")], "does not use"),
    ([], "does not use"),
    ([_managed(count=True)], "overrides the group to count"),
    ([_managed(overrides=(("Log4JRCE_HEADER", "count"),))], "overrides Log4JRCE_HEADER to count"),
    (UNKNOWN, None),
])
def test_known_bad_inputs_inline_rules(rules: Any, problem: str | None) -> None:
    diags = of(Pack().analyze_stack([_acl(rules=rules)]), BAD_INPUTS)
    _only(diags, problem)
    assert all(d.level == "mandatory" for d in diags)


def test_known_bad_inputs_in_rule_json() -> None:
    good = [{"Name": "bad-inputs", "Priority": 0, "OverrideAction": {"None": {}},
             "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS",
                                                         "Name": "AWSManagedRulesKnownBadInputsRuleSet"}},
             "VisibilityConfig": {"CloudWatchMetricsEnabled": True, "MetricName": "m",
                                  "SampledRequestsEnabled": True}}]
    assert of(Pack().analyze_stack([_acl(ruleJson=json.dumps(good))]), BAD_INPUTS) == []
    counting = [{**good[0], "OverrideAction": {"Count": {}}}]
    assert "to count" in of(Pack().analyze_stack([_acl(ruleJson=json.dumps(counting))]), BAD_INPUTS)[0].message
    assert of(Pack().analyze_stack([_acl(ruleJson=UNKNOWN)]), BAD_INPUTS) == []


def _association(action: str | None = None, name: str = "AWSManagedRulesKnownBadInputsRuleSet") -> Res:
    props: dict[str, Any] = {"webAclArn": UNKNOWN, "ruleName": "r", "priority": 1, "visibilityConfig": VIS,
                             "managedRuleGroup": {"name": name, "vendorName": "AWS"}}
    if action:
        props["overrideAction"] = action
    return Res(T.WAF_RULE_GROUP_ASSOCIATION, "assoc", props, prop_deps={"webAclArn": ["acl"]})


def test_known_bad_inputs_through_companion_resources() -> None:
    assert of(Pack().analyze_stack([_acl(), _association()]), BAD_INPUTS) == []
    assert of(Pack().analyze_stack([_acl(), _association("none")]), BAD_INPUTS) == []
    assert len(of(Pack().analyze_stack([_acl(), _association("count")]), BAD_INPUTS)) == 1
    assert len(of(Pack().analyze_stack([_acl(), _association(name="AWSManagedRulesSQLiRuleSet")]), BAD_INPUTS)) == 1
    rule = Res(T.WAF_WEB_ACL_RULE, "rule", {"webAclArn": UNKNOWN, "name": "r", "priority": 1,
                                            "statement": _managed()["statement"],
                                            "overrideAction": {"none": {}}, "visibilityConfig": VIS},
               prop_deps={"webAclArn": ["acl"]})
    assert of(Pack().analyze_stack([_acl(), rule]), BAD_INPUTS) == []


def test_web_acl_has_rules_counts_every_form() -> None:
    assert len(of(Pack().analyze_stack([_acl()]), HAS_RULES)) == 1
    assert of(Pack().analyze_stack([_acl(rules=[_managed()])]), HAS_RULES) == []
    assert of(Pack().analyze_stack([_acl(ruleJson=UNKNOWN)]), HAS_RULES) == []
    assert of(Pack().analyze_stack([_acl(), _association()]), HAS_RULES) == []


@pytest.mark.parametrize(("type_", "props", "count"), [
    (T.WAF_WEB_ACL, {"visibilityConfig": VIS, "rules": [_managed()]}, 0),
    (T.WAF_WEB_ACL, {}, 1),
    (T.WAF_WEB_ACL, {"visibilityConfig": VIS,
                     "ruleJson": json.dumps([{"Name": "x", "VisibilityConfig": {"CloudWatchMetricsEnabled": False}}])},
     1),
    (T.WAF_RULE_GROUP, {"visibilityConfig": VIS, "rules": [{"name": "a", "visibilityConfig": VIS}]}, 0),
    (T.WAF_RULE_GROUP, {"visibilityConfig": {**VIS, "cloudwatchMetricsEnabled": False},
                        "rules": [{"name": "a", "visibilityConfig": {**VIS, "cloudwatchMetricsEnabled": False}}]}, 2),
    (T.WAF_RULE_GROUP, {"visibilityConfig": VIS, "rulesJson": json.dumps(
        [{"Name": "a", "VisibilityConfig": {"CloudWatchMetricsEnabled": False}}])}, 1),
    (T.WAF_RULE_GROUP, {"visibilityConfig": UNKNOWN, "rules": UNKNOWN}, 0),
    (T.WAF_RULE_GROUP_ASSOCIATION, {"visibilityConfig": {**VIS, "cloudwatchMetricsEnabled": False}}, 1),
    (T.WAF_WEB_ACL_RULE, {"visibilityConfig": VIS}, 0),
])
def test_waf_metrics_on_every_form(type_: str, props: dict[str, Any], count: int) -> None:
    assert len(of(Pack().analyze(type_, props), METRICS)) == count
