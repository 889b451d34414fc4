"""What the rendered API edge means, for every stack file (and for config variants)."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from components.api import Api, ApiArgs, security_policy_args
from components.encryption import Encryption, EncryptionArgs
from components.gateway_responses import SECURITY_HEADERS
from components.lambda_function import FunctionArgs, VpcFunction
from components.network import Network, NetworkArgs
from components.routes import REFERENCE_ROUTES, Auth, Backend, Route, route_scopes
from components.settings import Settings, settings_from_mapping
from tests import harness
from tests.harness import ACCOUNT_ID, Graph, Res, render, stack_config, stacks

T_API = "aws:apigateway/restApi:RestApi"
T_METHOD = "aws:apigateway/method:Method"
T_INTEGRATION = "aws:apigateway/integration:Integration"
T_STAGE = "aws:apigateway/stage:Stage"
T_DEPLOYMENT = "aws:apigateway/deployment:Deployment"
T_SETTINGS = "aws:apigateway/methodSettings:MethodSettings"
T_PERMISSION = "aws:lambda/permission:Permission"
T_FUNCTION = "aws:lambda/function:Function"
T_LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
T_PLAN = "aws:apigateway/usagePlan:UsagePlan"
T_PLAN_KEY = "aws:apigateway/usagePlanKey:UsagePlanKey"
T_KEY = "aws:apigateway/apiKey:ApiKey"
T_ACCOUNT = "aws:apigateway/account:Account"
T_AUTHORIZER = "aws:apigateway/authorizer:Authorizer"
T_VALIDATOR = "aws:apigateway/requestValidator:RequestValidator"
T_MODEL = "aws:apigateway/model:Model"
T_RESOURCE = "aws:apigateway/resource:Resource"
T_RESPONSE = "aws:apigateway/response:Response"
T_POLICY = "aws:apigateway/restApiPolicy:RestApiPolicy"
T_WAF_ASSOC = "aws:wafv2/webAclAssociation:WebAclAssociation"
T_KMS = "aws:kms/key:Key"

DOMAIN = {"customDomainName": "api.example.com", "customDomainZoneId": "Z0123456789ABCDEFGHIJ"}


class Edge:
    """One render of the edge: the graph, the component's outputs and which URNs are retained on delete."""

    def __init__(self, graph: Graph, outputs: dict[str, Any], retained: set[str], settings: Settings) -> None:
        self.graph, self.outputs, self.retained, self.settings = graph, outputs, retained, settings


def _acm_and_domain_outputs(original: Any) -> Any:
    """Mock outputs AWS computes that the harness does not model: ACM's DNS validation record, the
    regional target of a custom domain."""

    def new_resource(self: Any, args: Any) -> Any:
        rid, state = original(self, args)
        if self.preview:
            return rid, state
        if args.typ == "aws:acm/certificate:Certificate":
            state["domainValidationOptions"] = [{
                "domainName": args.inputs["domainName"],
                "resourceRecordName": f"_x1.{args.inputs['domainName']}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": "_x2.acm-validations.aws.",
            }]
        if args.typ == "aws:apigateway/domainName:DomainName":
            state["regionalDomainName"] = f"d-{rid}.execute-api.eu-west-1.amazonaws.com"
            state["regionalZoneId"] = "ZLY8HYME6SFDD"
        return rid, state

    return new_resource


@contextmanager
def _patched_harness(retained: set[str]) -> Iterator[None]:
    # The harness records neither retainOnDelete nor these computed outputs; add both for this render only.
    register_original = harness._Monitor.RegisterResource
    new_resource_original = harness._Mocks.new_resource

    def register(self: Any, request: Any) -> Any:
        response = register_original(self, request)
        if request.retainOnDelete:
            retained.add(response.urn)
        return response

    harness._Monitor.RegisterResource = register  # type: ignore[method-assign]
    harness._Mocks.new_resource = _acm_and_domain_outputs(new_resource_original)  # type: ignore[method-assign]
    try:
        yield
    finally:
        harness._Monitor.RegisterResource = register_original  # type: ignore[method-assign]
        harness._Mocks.new_resource = new_resource_original  # type: ignore[method-assign]


def edge_program(stack: str, config: dict[str, Any], routes: Sequence[Route], sink: dict[str, Any]) -> None:
    """Settings, keys, network and the two backend functions, as the platform builds them, then the edge."""
    s = settings_from_mapping(stack, stack_config(stack, config))
    sink["settings"] = s
    account_id = aws.get_caller_identity_output().account_id
    keys = Encryption("t-keys", EncryptionArgs(s, account_id))
    network = Network("t-network", NetworkArgs(s, keys.logs_key, account_id))
    subnets = [subnet.id for subnet in network.app_subnets]
    groups = [network.app_security_group.id]

    def backend(name: str, handler: str) -> VpcFunction:
        return VpcFunction(name, FunctionArgs(
            settings=s, package="api", handler=handler, subnet_ids=subnets, security_group_ids=groups,
            logs_key_arn=keys.logs_key.arn, env_key_arn=keys.secrets_key.arn, description=name,
        ))

    api_fn = backend("t-api", "functions.api.app.handler")
    reconcile_fn = backend("t-reconcile", "functions.api.reconcile.handler")
    edge = Api("t-edge", ApiArgs(
        settings=s, api_function=api_fn.function, reconcile_function=reconcile_fn.function,
        logs_key_arn=keys.logs_key.arn, lambda_env_key_arn=keys.secrets_key.arn,
        subnet_ids=subnets, security_group_ids=groups, routes=routes,
    ))
    pulumi.Output.from_input(edge.outputs).apply(sink.update)


@functools.cache
def _edge(stack: str, preview: bool, config_json: str, routes: tuple[Route, ...]) -> Edge:
    config = json.loads(config_json)
    sink: dict[str, Any] = {}
    retained: set[str] = set()
    with _patched_harness(retained):
        graph = render(lambda: edge_program(stack, config, routes, sink), stack, preview=preview, config=config)
    settings = sink.pop("settings")
    return Edge(graph, sink, retained, settings)


def edge(stack: str, *, preview: bool = False, config: dict[str, Any] | None = None,
         routes: Sequence[Route] = REFERENCE_ROUTES) -> Edge:
    return _edge(stack, preview, json.dumps(config or {}, sort_keys=True), tuple(routes))


@pytest.fixture
def rendered(stack: str) -> Edge:
    return edge(stack)


def methods_by_route(graph: Graph) -> dict[str, Res]:
    """Method resources keyed by "METHOD /path" (resource names encode the route)."""
    found = {}
    for route in REFERENCE_ROUTES:
        slug = route.method.lower() + "".join(f"-{s.strip('{}')}" for s in route.segments)
        found[route.key] = graph.named(f"t-edge-{slug}")
    return found


def the_function(graph: Graph, short: str) -> Res:
    return next(f for f in graph.of_type(T_FUNCTION) if f["name"].endswith(f"-{short}"))


# ---- authentication ----------------------------------------------------------------------------------------


def test_every_method_authenticates_with_its_intended_mode(rendered: Edge) -> None:
    g = rendered.graph
    authorizer = g.one(T_AUTHORIZER)
    methods = methods_by_route(g)
    assert len(g.of_type(T_METHOD)) == len(REFERENCE_ROUTES)
    for route in REFERENCE_ROUTES:
        method = methods[route.key]
        assert method["authorization"] != "NONE", route.key
        assert method["httpMethod"] == route.method
        if route.auth is Auth.JWT:
            assert method["authorization"] == "CUSTOM", route.key
            assert g.depends_on(method, authorizer), f"{route.key} is not wired to the JWT authorizer"
        else:
            assert method["authorization"] == "AWS_IAM", route.key
            assert not method.get("authorizerId")
        assert bool(method.get("apiKeyRequired")) is route.api_key_required, route.key
    # The reference set exercises every mode: JWT, IAM, and an API key on top of a JWT.
    assert methods["POST /internal/reconcile"]["authorization"] == "AWS_IAM"
    assert methods["POST /partner/orders"]["apiKeyRequired"] is True
    assert methods["GET /health"]["apiKeyRequired"] is True
    assert methods["GET /orders"].get("apiKeyRequired") is False


def test_authorizer_is_a_token_authorizer_fed_by_the_route_table(rendered: Edge) -> None:
    g = rendered.graph
    authorizer = g.one(T_AUTHORIZER)
    fn = the_function(g, "authorizer")
    assert authorizer["type"] == "TOKEN"
    assert authorizer["identitySource"] == "method.request.header.Authorization"
    assert authorizer["authorizerResultTtlInSeconds"] == 300
    assert g.depends_on(authorizer, fn)
    assert re.fullmatch(authorizer["identityValidationExpression"], "Bearer aaa.bbb.ccc")
    assert not re.fullmatch(authorizer["identityValidationExpression"], "Basic dXNlcjpwYXNz")
    env = fn["environment"]["variables"]
    s = rendered.settings
    assert json.loads(env["ROUTE_SCOPES"]) == route_scopes(REFERENCE_ROUTES)
    assert "POST /internal/reconcile" not in json.loads(env["ROUTE_SCOPES"])  # IAM decides that one
    assert (env["JWT_ISSUER"], env["JWT_AUDIENCE"], env["JWKS_URL"]) == (s.jwt_issuer, s.jwt_audience, s.jwks_url)
    assert set(env["JWT_ALGORITHMS"].split(",")) <= {"RS256", "ES256"}
    assert fn["handler"] == "functions.authorizer.app.handler"
    assert fn["vpcConfig"]["subnetIds"] and fn["vpcConfig"]["securityGroupIds"]


# ---- validation --------------------------------------------------------------------------------------------


def test_every_body_method_is_validated_against_a_strict_model(rendered: Edge) -> None:
    g = rendered.graph
    (validator,) = g.of_type(T_VALIDATOR)
    assert validator["validateRequestBody"] is True and validator["validateRequestParameters"] is True
    models = {m["name"]: m for m in g.of_type(T_MODEL)}
    for route in REFERENCE_ROUTES:
        method = methods_by_route(g)[route.key]
        assert g.depends_on(method, validator), f"{route.key} has no request validator"
        if route.method in ("POST", "PUT", "PATCH"):
            (model_name,) = method["requestModels"].values()
            assert list(method["requestModels"]) == ["application/json"]
            schema = json.loads(models[model_name]["schema"])
            assert schema["additionalProperties"] is False, route.key
            assert g.depends_on(method, models[model_name])


def test_required_parameters_are_checked_at_the_gateway(rendered: Edge) -> None:
    methods = methods_by_route(rendered.graph)
    assert methods["POST /orders"]["requestParameters"]["method.request.header.Idempotency-Key"] is True
    assert methods["POST /partner/orders"]["requestParameters"]["method.request.header.Idempotency-Key"] is True
    assert methods["GET /orders/{id}"]["requestParameters"] == {"method.request.path.id": True}
    assert methods["GET /orders"]["requestParameters"]["method.request.querystring.limit"] is False


def test_gateway_responses_leak_nothing_and_carry_security_headers(rendered: Edge) -> None:
    responses = {r["responseType"]: r for r in rendered.graph.of_type(T_RESPONSE)}
    for needed in ("DEFAULT_4XX", "DEFAULT_5XX", "UNAUTHORIZED", "ACCESS_DENIED", "THROTTLED", "WAF_FILTERED",
                   "BAD_REQUEST_BODY", "MISSING_AUTHENTICATION_TOKEN", "INTEGRATION_FAILURE"):
        assert needed in responses
    for response in responses.values():
        body = response["responseTemplates"]["application/json"]
        # Only the request id is interpolated: no $context.error.* (internal or schema messages).
        assert re.findall(r"\$[a-zA-Z.]+", body) == ["$context.requestId"], body
        json.loads(body.replace("$context.requestId", "id"))
        headers = response["responseParameters"]
        for name in SECURITY_HEADERS:
            assert headers[f"gatewayresponse.header.{name}"].startswith("'")


# ---- integrations and permissions --------------------------------------------------------------------------


def test_routes_integrate_with_their_backend_function(rendered: Edge) -> None:
    g = rendered.graph
    functions = {Backend.API: the_function(g, "api"), Backend.RECONCILE: the_function(g, "reconcile")}
    integrations = g.of_type(T_INTEGRATION)
    for route in REFERENCE_ROUTES:
        method = methods_by_route(g)[route.key]
        (integration,) = [i for i in integrations if g.depends_on(i, method)]
        assert integration["type"] == "AWS_PROXY" and integration["integrationHttpMethod"] == "POST"
        assert functions[route.backend].urn in integration.property_dependencies["uri"], route.key


def test_lambda_permissions_are_scoped_to_this_api_stage_and_route(rendered: Edge) -> None:
    g = rendered.graph
    api = g.one(T_API)
    stage_name = rendered.settings.environment
    permissions = g.of_type(T_PERMISSION)
    assert len(permissions) == len(REFERENCE_ROUTES) + 1  # one per route + the authorizer's
    expected = {f"{stage_name}/{r.arn_path}" for r in REFERENCE_ROUTES}
    authorizer_id = g.one(T_AUTHORIZER).name
    seen = set()
    for permission in permissions:
        assert permission["principal"] == "apigateway.amazonaws.com"
        assert permission["action"] == "lambda:InvokeFunction"
        source = permission["sourceArn"]
        match = re.fullmatch(rf"arn:aws:execute-api:[a-z0-9-]+:{ACCOUNT_ID}:([^/*]+)/(.+)", source)
        assert match, f"{permission.name}: source ARN {source} does not name one API"
        assert match.group(1) == rendered.outputs["rest_api_id"]
        assert g.depends_on(permission, api)
        seen.add(match.group(2))
    assert expected <= seen
    assert any(p.startswith(f"authorizers/{authorizer_id}") for p in seen)
    assert not any(p.startswith("*") for p in seen)  # never "any stage"


# ---- deployment and stage ----------------------------------------------------------------------------------


def test_deployment_waits_for_every_method_and_integration(rendered: Edge) -> None:
    g = rendered.graph
    deployment = g.one(T_DEPLOYMENT)
    for res in g.of_type(T_METHOD) + g.of_type(T_INTEGRATION) + [g.one(T_POLICY)]:
        assert g.depends_on(deployment, res), res.name
    assert set(deployment["triggers"]) == {"spec", "resources"}
    assert g.depends_on(g.one(T_STAGE), deployment)


def _triggers(e: Edge) -> dict[str, str]:
    return dict(e.graph.one(T_DEPLOYMENT)["triggers"])


def test_deployment_triggers_change_when_a_route_changes() -> None:
    base = _triggers(edge("dev"))
    assert _triggers(edge("dev")) == base  # deterministic
    rescoped = [replace(r, scopes=("orders:admin",)) if r.key == "GET /orders" else r for r in REFERENCE_ROUTES]
    changed = _triggers(edge("dev", routes=rescoped))
    assert changed["spec"] != base["spec"]
    added = [*REFERENCE_ROUTES, Route("GET", "/partner/orders", Auth.JWT, Backend.API, api_key_required=True)]
    grown = _triggers(edge("dev", routes=added))
    assert grown["spec"] != base["spec"] and grown["resources"] != base["resources"]


def test_stage_logs_traces_and_is_protected_by_waf(rendered: Edge) -> None:
    g = rendered.graph
    (stage,) = g.of_type(T_STAGE)
    assert stage["stageName"] == rendered.settings.environment
    assert stage["xrayTracingEnabled"] is True
    assert not stage.get("cacheClusterEnabled")
    access = stage["accessLogSettings"]
    assert "$context.requestId" in json.loads(access["format"]).values()
    (access_group,) = [lg for lg in g.of_type(T_LOG_GROUP) if lg.get("name") == rendered.outputs["access_log_group"]]
    assert stage.property_dependencies["accessLogSettings"] == [access_group.urn]
    (execution_group,) = [
        lg for lg in g.of_type(T_LOG_GROUP) if str(lg.get("name")).startswith("API-Gateway-Execution-Logs_")
    ]
    assert execution_group["name"] == (
        f"API-Gateway-Execution-Logs_{rendered.outputs['rest_api_id']}/{stage['stageName']}"
    )
    assert g.depends_on(stage, execution_group)
    logs_key = g.named("t-keys-logs")
    for group in (access_group, execution_group):
        assert group["retentionInDays"] == rendered.settings.log_retention_days
        assert g.depends_on(group, logs_key)
    associations = [a for a in g.of_type(T_WAF_ASSOC) if stage.urn in a.property_dependencies["resourceArn"]]
    assert len(associations) == 1
    assert g.one("aws:wafv2/webAcl:WebAcl")["scope"] == "REGIONAL"


def test_stage_wide_method_settings_match_the_stack(rendered: Edge) -> None:
    g = rendered.graph
    s = rendered.settings
    (settings,) = g.of_type(T_SETTINGS)
    assert settings["methodPath"] == "*/*"
    assert g.depends_on(settings, g.one(T_STAGE))
    values = settings["settings"]
    assert values["throttlingRateLimit"] == s.throttle_rate_limit
    assert values["throttlingBurstLimit"] == s.throttle_burst_limit
    assert values["dataTraceEnabled"] is False
    assert values["metricsEnabled"] is True
    assert values["loggingLevel"] == s.api_logging_level
    assert not values.get("cachingEnabled")


def test_dev_and_prod_throttle_as_configured() -> None:
    if not {"dev", "prod"} <= set(stacks()):
        pytest.skip("needs both dev and prod stack files")
    limits = {}
    for name in ("dev", "prod"):
        values = edge(name).graph.one(T_SETTINGS)["settings"]
        config = stack_config(name)
        assert values["throttlingRateLimit"] == config["throttleRateLimit"]
        assert values["throttlingBurstLimit"] == config["throttleBurstLimit"]
        limits[name] = (values["throttlingRateLimit"], values["throttlingBurstLimit"])
    assert limits["dev"] != limits["prod"]


# ---- usage plans and keys ----------------------------------------------------------------------------------


def test_every_api_key_is_in_its_tiers_usage_plan_with_throttle_and_quota(rendered: Edge) -> None:
    g = rendered.graph
    s = rendered.settings
    stage = g.one(T_STAGE)
    plans = {p["name"].rsplit("-", 1)[-1]: p for p in g.of_type(T_PLAN)}
    assert set(plans) == set(s.usage_plan_tiers)
    for tier, plan in plans.items():
        limits = s.usage_plan_tiers[tier]
        assert plan["throttleSettings"] == {"rateLimit": limits.rate_limit, "burstLimit": limits.burst_limit}
        assert plan["quotaSettings"] == {"limit": limits.quota_per_day, "period": "DAY"}
        (api_stage,) = plan["apiStages"]
        assert api_stage["stage"] == stage["stageName"]
        assert stage.urn in plan.property_dependencies["apiStages"]  # waits for the stage
    keys = g.of_type(T_KEY)
    assert len(keys) == len(s.clients)
    for key in keys:
        assert "value" not in key.inputs  # generated by AWS, never in code or state inputs
        (plan_key,) = [pk for pk in g.of_type(T_PLAN_KEY) if g.depends_on(pk, key)]
        client = next(c for c in s.clients if key["name"].endswith(c))
        assert g.depends_on(plan_key, plans[s.clients[client]])
        assert plan_key["keyType"] == "API_KEY"
    assert all(not re.search(r"value|secret", k, re.I) for k in rendered.outputs)


def test_clients_get_one_key_each() -> None:
    config = {"apiClients": ["acme:basic", "globex:premium", "initech:basic"]}
    e = edge("dev", config=config)
    assert sorted(k["name"].rsplit("-", 1)[-1] for k in e.graph.of_type(T_KEY)) == ["acme", "globex", "initech"]
    assert len(e.graph.of_type(T_PLAN_KEY)) == 3


# ---- resource policy ---------------------------------------------------------------------------------------


def _policy(e: Edge) -> dict[str, Any]:
    return json.loads(e.graph.one(T_POLICY)["policy"])


def test_resource_policy_admits_authenticated_routes_and_never_iam_routes_cross_account(rendered: Edge) -> None:
    policy = _policy(rendered)
    allow = next(st for st in policy["Statement"] if st["Effect"] == "Allow")
    resources = allow["Resource"]
    assert not any(r.endswith("/POST/internal/reconcile") for r in resources)
    assert any(r.endswith("/*/GET/orders/*") for r in resources)
    if not rendered.settings.allowed_source_cidrs:
        assert [st["Effect"] for st in policy["Statement"]] == ["Allow"]


def test_allowed_source_cidrs_deny_everyone_else() -> None:
    e = edge("dev", config={"allowedSourceCidrs": ["203.0.113.0/24"]})
    deny = next(st for st in _policy(e)["Statement"] if st["Effect"] == "Deny")
    assert deny["Condition"] == {"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24"]}}
    assert deny["Resource"].endswith("/*")


# ---- account logging role ----------------------------------------------------------------------------------


def test_account_logging_role_is_owned_retained_and_waited_for(rendered: Edge) -> None:
    g = rendered.graph
    accounts = g.of_type(T_ACCOUNT)
    if not rendered.settings.owns_account_baseline:
        assert accounts == []
        return
    (account,) = accounts
    role = g.by_urn(account.property_dependencies["cloudwatchRoleArn"][0])
    # The API Gateway guide's trust names the service only; a condition API Gateway does not supply would make
    # setting the role on the account fail.
    (trust,) = json.loads(role["assumeRolePolicy"])["Statement"]
    assert trust == {"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
                     "Action": "sts:AssumeRole"}
    assert account.urn in rendered.retained and role.urn in rendered.retained
    assert account.protect and role.protect  # an account switch: protected in every stack
    assert g.depends_on(g.one(T_STAGE), account)
    assert g.depends_on(g.one(T_SETTINGS), account)


def test_not_owning_the_account_baseline_creates_no_account_settings() -> None:
    e = edge("prod" if "prod" in stacks() else "dev", config={"ownsAccountBaseline": False})
    assert e.graph.of_type(T_ACCOUNT) == []
    assert not [r for r in e.graph.of_type("aws:iam/role:Role") if "apigateway" in str(r.get("assumeRolePolicy"))]


# ---- custom domain -----------------------------------------------------------------------------------------


def test_without_a_custom_domain_the_execute_api_endpoint_is_the_url(rendered: Edge) -> None:
    if rendered.settings.custom_domain_name:
        pytest.skip("stack configures a custom domain")
    g = rendered.graph
    assert g.one(T_API).get("disableExecuteApiEndpoint") is False
    assert g.of_type("aws:apigateway/domainName:DomainName") == []
    assert rendered.outputs["url"].startswith("https://") and ".execute-api." in rendered.outputs["url"]
    assert rendered.outputs["custom_domain"] is None


@pytest.mark.parametrize("policy", ["TLS_1_2", "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09"])
def test_custom_domain_is_the_only_door_with_tls12_or_later(policy: str) -> None:
    e = edge("dev", config={**DOMAIN, "tlsSecurityPolicy": policy})
    g = e.graph
    certificate = g.one("aws:acm/certificate:Certificate")
    assert certificate["domainName"] == DOMAIN["customDomainName"]
    assert certificate["validationMethod"] == "DNS"
    validation = g.one("aws:acm/certificateValidation:CertificateValidation")
    assert g.depends_on(validation, certificate)
    domain = g.one("aws:apigateway/domainName:DomainName")
    assert domain["endpointConfiguration"]["types"] == "REGIONAL"
    assert domain["securityPolicy"] == policy
    assert domain.get("endpointAccessMode") == ("STRICT" if policy.startswith("SecurityPolicy_") else None)
    assert g.depends_on(domain, validation)  # only an issued certificate is used
    mapping = g.one("aws:apigateway/basePathMapping:BasePathMapping")
    assert g.depends_on(mapping, domain) and g.depends_on(mapping, g.one(T_STAGE))
    records = g.of_type("aws:route53/record:Record")
    alias = next(r for r in records if r.get("aliases"))
    assert alias["type"] == "A" and alias["name"] == DOMAIN["customDomainName"]
    assert alias["zoneId"] == DOMAIN["customDomainZoneId"] and g.depends_on(alias, domain)
    assert g.one(T_API)["disableExecuteApiEndpoint"] is True
    assert e.outputs["url"] == "https://api.example.com/"
    assert e.outputs["custom_domain"] == "api.example.com"


def test_edge_only_tls_policies_are_refused_naming_the_key() -> None:
    with pytest.raises(ValueError, match="tlsSecurityPolicy"):
        security_policy_args("SecurityPolicy_TLS13_2025_EDGE")


# ---- preview and outputs -----------------------------------------------------------------------------------


def test_preview_renders_with_unknown_ids() -> None:
    e = edge("dev", preview=True, config=DOMAIN)
    g = e.graph
    assert len(g.of_type(T_METHOD)) == len(REFERENCE_ROUTES)
    assert len(g.of_type(T_PERMISSION)) == len(REFERENCE_ROUTES) + 1
    assert g.one(T_WAF_ASSOC) and g.one("aws:apigateway/domainName:DomainName") and g.one(T_DEPLOYMENT)
    # The stage ARN is unknown in a first preview; the association still names the stage through dependencies.
    assert g.depends_on(g.one(T_WAF_ASSOC), g.one(T_STAGE))


def test_outputs_match_the_stack_output_contract(rendered: Edge) -> None:
    out = rendered.outputs
    assert set(out) == {"url", "rest_api_id", "stage_name", "stage_arn", "web_acl_arn", "custom_domain",
                        "access_log_group", "execution_log_group", "usage_plan_ids", "documentation_version"}
    assert out["stage_name"] == rendered.settings.environment
    assert out["stage_arn"] and out["web_acl_arn"] and out["rest_api_id"]
    assert out["execution_log_group"] == f"API-Gateway-Execution-Logs_{out['rest_api_id']}/{out['stage_name']}"
    assert len(out["usage_plan_ids"]) == len(rendered.settings.usage_plan_tiers)


def test_component_children_are_parented(rendered: Edge) -> None:
    g = rendered.graph
    component = next(r for r in g if r.type == "platform:api:Api")
    for res in g.of_type(T_METHOD) + g.of_type(T_STAGE) + g.of_type(T_PERMISSION):
        assert res.parent == component.urn
