"""The API edge: API Gateway REST API (REGIONAL) built from the route table, its authorizer, WAF and limits."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components._iam import policy_document, service_trust_statement
from components._naming import physical_name
from components.api_docs import publish_documentation
from components.gateway_responses import GATEWAY_ERRORS, access_log_format, response_parameters, response_template
from components.lambda_function import FunctionArgs, VpcFunction
from components.ownership import baseline_options
from components.routes import (
    MODELS,
    REFERENCE_ROUTES,
    Auth,
    Backend,
    Route,
    describe,
    resource_paths,
    route_scopes_json,
    validate_routes,
)
from components.settings import Settings
from components.waf import ApiFirewall, FirewallArgs

JSON = "application/json"
AUTHORIZER_TTL_SECONDS = 300  # contract with the authorizer: its policy covers every route for this long
# Rejects a malformed Authorization header at the gateway (401) without invoking the authorizer.
BEARER_JWT = r"^Bearer [A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"
JWT_ALGORITHMS = "RS256,ES256"
VALIDATOR = {"validate_request_body": True, "validate_request_parameters": True}
REGIONAL = "REGIONAL"
AUTHORIZER_NAME = "jwt"


@dataclass(frozen=True)
class TlsPolicy:
    security_policy: str
    endpoint_access_mode: str | None


def security_policy_args(policy: str) -> TlsPolicy:
    """``security_policy`` (+ ``endpoint_access_mode``) for a REGIONAL endpoint or domain.

    Enhanced ``SecurityPolicy_*`` policies require an endpoint access mode; STRICT also makes API Gateway
    refuse requests whose TLS SNI and Host header differ (domain fronting).
    """
    if policy.endswith("_EDGE"):
        raise ValueError(
            f"tlsSecurityPolicy: {policy} applies to edge-optimized endpoints only; this API is REGIONAL "
            "(choose TLS_1_2 or a regional SecurityPolicy_TLS13_* policy)"
        )
    return TlsPolicy(policy, "STRICT" if policy.startswith("SecurityPolicy_") else None)


def deployment_fingerprint(spec: Mapping[str, Any]) -> str:
    """Stable hash of everything that shapes the deployed API (order-independent JSON)."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _hash_ids(ids: Sequence[Any]) -> str:
    return hashlib.sha256("|".join(str(i) for i in ids).encode()).hexdigest()


@dataclass
class ApiArgs:
    settings: Settings
    """Validated stack settings (throttling, WAF, usage plans, clients, domain, JWT issuer, logging)."""
    api_function: aws.lambda_.Function
    """Serves every route whose backend is ``api`` (handler ``functions.api.app.handler``)."""
    reconcile_function: aws.lambda_.Function
    """Serves ``POST /internal/reconcile`` (handler ``functions.api.reconcile.handler``)."""
    logs_key_arn: pulumi.Input[str]
    """Customer managed key for the access, execution, WAF and authorizer log groups."""
    lambda_env_key_arn: pulumi.Input[str]
    """Key that encrypts the authorizer function's environment variables."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """App-tier subnets of the authorizer function (it reaches the JWKS URL through NAT)."""
    security_group_ids: Sequence[pulumi.Input[str]]
    """Security groups of the authorizer function (the app SG: egress 443)."""
    routes: Sequence[Route] = REFERENCE_ROUTES
    """The route table the API is built from (see components/routes.py)."""
    models: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: dict(MODELS))
    """Request models (JSON schema draft-04) by name, referenced by routes."""
    baseline_claim: pulumi.Resource | None = None
    """The account-baseline claim (components/ownership.py) when this stack owns the baseline: the account's
    CloudWatch role setting is created after it."""


class Api(pulumi.ComponentResource):
    """Creates the public edge of the platform:

    - a REGIONAL REST API whose resources, methods, AWS_PROXY integrations and Lambda permissions (each
      scoped to ``{execution_arn}/{stage}/{METHOD}/{path}``) come from the route table; every method is
      authenticated (Lambda TOKEN authorizer or AWS_IAM; API key on top where required);
    - the JWT authorizer function (VpcFunction) with ROUTE_SCOPES computed from the same table, and its
      permission scoped to ``{execution_arn}/authorizers/{id}``;
    - a request validator (body + parameters) and JSON-schema models for every body; gateway responses that
      reveal nothing and carry security headers;
    - a resource policy (Invoke for the JWT routes from anywhere, or only from allowedSourceCidrs; IAM routes
      are left to the callers' IAM policies so that no other account can call them);
    - a deployment redeployed whenever anything that shapes the API changes, and a stage with JSON access
      logs and execution logs (both KMS-encrypted log groups with retention), X-Ray, stage-wide throttling
      and metrics. No cache: responses are per caller and mostly writes, so a cache would only risk serving
      one caller's data to another;
    - usage plans per tier (throttle + daily quota) and one AWS-generated API key per client (never exported);
    - the WAF web ACL on the stage; optionally a custom domain (ACM, TLS policy, Route 53 alias) that becomes
      the only door (the execute-api endpoint is disabled);
    - when the stack owns the account baseline, the account-level CloudWatch role for API Gateway logging,
      retained on delete (destroying it would reset logging for every API in the account and region).
    """

    rest_api: aws.apigateway.RestApi
    stage: aws.apigateway.Stage
    authorizer_function: VpcFunction
    firewall: ApiFirewall
    access_log_group: aws.cloudwatch.LogGroup
    execution_log_group: aws.cloudwatch.LogGroup
    usage_plans: dict[str, aws.apigateway.UsagePlan]
    web_acl_metric_name: str
    url: pulumi.Output[str]
    outputs: dict[str, Any]
    """The stack-output contract's ``api`` object."""

    def __init__(self, name: str, args: ApiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:api:Api", name, None, opts)
        s = args.settings
        routes = tuple(args.routes)
        validate_routes(routes, args.models)
        child = pulumi.ResourceOptions(parent=self)
        self._name = name
        stage_name = s.environment
        custom_domain = s.custom_domain_name or None
        tls = security_policy_args(s.tls_security_policy)

        # ---- API, validator, models, authorizer ---------------------------------------------------------
        self.rest_api = aws.apigateway.RestApi(
            f"{name}-rest-api",
            name=physical_name(s.name_prefix, "api"),
            description=f"{s.name_prefix} public API",
            endpoint_configuration={"types": REGIONAL},
            api_key_source="HEADER",
            # With a custom domain, the WAF-protected domain is the only way in.
            disable_execute_api_endpoint=custom_domain is not None,
            security_policy=tls.security_policy,
            endpoint_access_mode=tls.endpoint_access_mode,
            opts=child,
        )
        api_id = self.rest_api.id
        validator = aws.apigateway.RequestValidator(
            f"{name}-validator",
            rest_api=api_id,
            name="body-and-parameters",
            validate_request_body=VALIDATOR["validate_request_body"],
            validate_request_parameters=VALIDATOR["validate_request_parameters"],
            opts=child,
        )
        models = {
            model_name: aws.apigateway.Model(
                f"{name}-model-{model_name.lower()}",
                rest_api=api_id,
                name=model_name,  # explicit: autonames add '-', and model names must be alphanumeric
                content_type=JSON,
                schema=json.dumps(args.models[model_name], sort_keys=True),
                opts=child,
            )
            for model_name in sorted({r.model for r in routes if r.model})
        }

        self.authorizer_function = VpcFunction(
            f"{name}-authorizer",
            FunctionArgs(
                settings=s,
                package="authorizer",
                handler="functions.authorizer.app.handler",
                subnet_ids=args.subnet_ids,
                security_group_ids=args.security_group_ids,
                logs_key_arn=args.logs_key_arn,
                env_key_arn=args.lambda_env_key_arn,
                description="Verifies bearer JWTs and returns the routes their scopes allow",
                environment={
                    "JWT_ISSUER": s.jwt_issuer,
                    "JWT_AUDIENCE": s.jwt_audience,
                    "JWKS_URL": s.jwks_url,
                    "JWT_ALGORITHMS": JWT_ALGORITHMS,
                    "ROUTE_SCOPES": route_scopes_json(routes),
                    "JWKS_CACHE_SECONDS": "3600",
                    "JWKS_MIN_REFRESH_SECONDS": "60",
                },
                statements=[],  # it calls no AWS API: only the issuer's JWKS URL over https
                timeout=5,  # a JWKS fetch gets <= 3 s and half the time left; API Gateway waits <= 10 s
            ),
            opts=child,
        )
        authorizer_fn = self.authorizer_function.function
        authorizer = aws.apigateway.Authorizer(
            f"{name}-jwt",
            rest_api=api_id,
            name=AUTHORIZER_NAME,
            type="TOKEN",
            authorizer_uri=authorizer_fn.invoke_arn,
            identity_source="method.request.header.Authorization",
            identity_validation_expression=BEARER_JWT,
            authorizer_result_ttl_in_seconds=AUTHORIZER_TTL_SECONDS,
            opts=child,
        )
        aws.lambda_.Permission(
            f"{name}-authorizer-invoke",
            action="lambda:InvokeFunction",
            function=authorizer_fn.name,
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(self.rest_api.execution_arn, "/authorizers/", authorizer.id),
            opts=child,
        )

        # ---- resources, methods, integrations, permissions ----------------------------------------------
        resources: dict[str, pulumi.Input[str]] = {"": self.rest_api.root_resource_id}
        for path in resource_paths(routes):
            parent, _, part = path.rpartition("/")
            resources[path] = aws.apigateway.Resource(
                f"{name}-res{self._slug(path)}",
                rest_api=api_id,
                parent_id=resources[parent],
                path_part=part,
                opts=child,
            ).id
        backends = {Backend.API: args.api_function, Backend.RECONCILE: args.reconcile_function}
        methods: list[aws.apigateway.Method] = []
        integrations: list[aws.apigateway.Integration] = []
        for route in routes:
            slug = f"{route.method.lower()}{self._slug(route.path)}"
            method = aws.apigateway.Method(
                f"{name}-{slug}",
                rest_api=api_id,
                resource_id=resources[route.path],
                http_method=route.method,
                authorization=route.authorization_type,
                authorizer_id=authorizer.id if route.auth is Auth.JWT else None,
                api_key_required=route.api_key_required,
                request_validator_id=validator.id,
                request_models={JSON: models[route.model].name} if route.model else None,
                request_parameters=route.request_parameters or None,
                operation_name=route.description or None,
                opts=child,
            )
            backend = backends[route.backend]
            integrations.append(
                aws.apigateway.Integration(
                    f"{name}-{slug}-integration",
                    rest_api=api_id,
                    resource_id=method.resource_id,
                    http_method=method.http_method,
                    type="AWS_PROXY",
                    integration_http_method="POST",  # Lambda is always invoked with POST
                    uri=backend.invoke_arn,
                    opts=child,
                )
            )
            methods.append(method)
            aws.lambda_.Permission(
                f"{name}-{slug}-invoke",
                action="lambda:InvokeFunction",
                function=backend.name,
                principal="apigateway.amazonaws.com",
                source_arn=pulumi.Output.concat(
                    self.rest_api.execution_arn, "/", stage_name, "/", route.arn_path
                ),
                opts=child,
            )

        responses = [
            aws.apigateway.Response(
                f"{name}-response-{error.response_type.lower().replace('_', '-')}",
                rest_api_id=api_id,
                response_type=error.response_type,
                status_code=str(error.status) if error.status else None,
                response_templates={JSON: response_template(error)},
                response_parameters=response_parameters(),
                opts=child,
            )
            for error in GATEWAY_ERRORS
        ]
        resource_policy = self._policy(routes, s.allowed_source_cidrs)
        policy = aws.apigateway.RestApiPolicy(
            f"{name}-policy",
            rest_api_id=api_id,
            policy=pulumi.Output.from_input(self.rest_api.execution_arn).apply(
                lambda arn: json.dumps(resource_policy(arn))
            ),
            opts=child,
        )

        # ---- deployment and stage -----------------------------------------------------------------------
        spec = {
            "api": {
                "endpoint": REGIONAL, "execute_api_disabled": custom_domain is not None,
                "security_policy": tls.security_policy, "endpoint_access_mode": tls.endpoint_access_mode,
            },
            "routes": describe(routes, args.models),
            "validator": VALIDATOR,
            "authorizer": {"type": "TOKEN", "ttl": AUTHORIZER_TTL_SECONDS, "identity": BEARER_JWT},
            "gateway_responses": [
                [e.response_type, e.status, response_template(e), response_parameters()] for e in GATEWAY_ERRORS
            ],
            "policy": resource_policy("arn:aws:execute-api:REGION:ACCOUNT:API"),
        }
        self.spec_fingerprint = deployment_fingerprint(spec)
        # Resource ids catch replacements the spec cannot see (e.g. a function recreated under a new ARN).
        wired = pulumi.Output.all(
            *[m.id for m in methods], *[i.id for i in integrations], *[i.uri for i in integrations],
            authorizer.id, authorizer_fn.invoke_arn, validator.id, policy.id, *[m.id for m in models.values()],
        ).apply(_hash_ids)
        deployment = aws.apigateway.Deployment(
            f"{name}-deployment",
            rest_api=api_id,
            description=f"{s.name_prefix} API",
            triggers={"spec": self.spec_fingerprint, "resources": wired},
            # Without every method and integration in place: "No integration defined for method". Keep the
            # default create-before-delete: deleting first fails while the stage points at the deployment.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*methods, *integrations, *responses, policy]),
        )

        # Published with the stage (API Gateway documentation parts); the full contract is openapi.json.
        documentation = publish_documentation(
            name, api_id, routes, AUTHORIZER_NAME,
            pulumi.ResourceOptions(parent=self, depends_on=[*methods, authorizer, *models.values()]),
        )

        account_deps = self._account_logging_role(name, s, args.baseline_claim)
        self.access_log_group = aws.cloudwatch.LogGroup(
            f"{name}-access-logs",
            name=f"/aws/apigateway/{physical_name(s.name_prefix, 'api-access', 400)}",
            retention_in_days=s.log_retention_days,
            kms_key_id=args.logs_key_arn,
            opts=child,
        )
        # Created before the stage: otherwise API Gateway creates it unencrypted and never expiring.
        self.execution_log_group = aws.cloudwatch.LogGroup(
            f"{name}-execution-logs",
            name=pulumi.Output.concat("API-Gateway-Execution-Logs_", api_id, "/", stage_name),
            retention_in_days=s.log_retention_days,
            kms_key_id=args.logs_key_arn,
            opts=child,
        )
        self.stage = aws.apigateway.Stage(
            f"{name}-stage",
            rest_api=api_id,
            deployment=deployment.id,
            stage_name=stage_name,
            description=f"{s.name_prefix} stage",
            xray_tracing_enabled=True,
            documentation_version=documentation.version,
            access_log_settings={"destination_arn": self.access_log_group.arn, "format": access_log_format()},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.execution_log_group, *account_deps]),
        )
        aws.apigateway.MethodSettings(
            f"{name}-method-settings",
            rest_api=api_id,
            stage_name=self.stage.stage_name,
            method_path="*/*",
            settings={
                "metrics_enabled": True,
                "logging_level": s.api_logging_level,
                # Would write request/response bodies and Authorization headers to the execution log.
                "data_trace_enabled": False,
                "throttling_rate_limit": s.throttle_rate_limit,
                "throttling_burst_limit": s.throttle_burst_limit,
                "caching_enabled": False,
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=account_deps),
        )

        # ---- usage plans and API keys -------------------------------------------------------------------
        plans: dict[str, aws.apigateway.UsagePlan] = {}
        for tier, limits in s.usage_plan_tiers.items():
            plans[tier] = aws.apigateway.UsagePlan(
                f"{name}-plan-{tier}",
                name=physical_name(s.name_prefix, f"api-{tier}"),
                description=f"{tier} tier of the {s.name_prefix} API",
                # The stage_name Output (not the literal) makes the plan wait for the stage to exist.
                api_stages=[{"api_id": api_id, "stage": self.stage.stage_name}],
                throttle_settings={"rate_limit": limits.rate_limit, "burst_limit": limits.burst_limit},
                quota_settings={"limit": limits.quota_per_day, "period": "DAY"},
                opts=child,
            )
        for client, tier in sorted(s.clients.items()):
            # No value: AWS generates it. It is never exported; operators read it with
            # `aws apigateway get-api-key --include-value` and hand it over out of band.
            key = aws.apigateway.ApiKey(
                f"{name}-key-{client}",
                name=physical_name(s.name_prefix, f"api-{client}", 128),
                description=f"API key of client {client} ({tier} tier)",
                enabled=True,
                opts=child,
            )
            aws.apigateway.UsagePlanKey(
                f"{name}-key-{client}-plan",
                key_id=key.id,
                key_type="API_KEY",
                usage_plan_id=plans[tier].id,
                opts=child,
            )
        self.usage_plans = plans

        # ---- WAF and custom domain ----------------------------------------------------------------------
        self.firewall = ApiFirewall(
            f"{name}-waf", FirewallArgs(settings=s, logs_key_arn=args.logs_key_arn, stage_arn=self.stage.arn), child
        )
        self.web_acl_metric_name = self.firewall.metric_name  # for alarms on AWS/WAFV2 BlockedRequests
        self.domain_name: aws.apigateway.DomainName | None = None
        self.url = (
            self._custom_domain(name, s, custom_domain, tls) if custom_domain is not None else self.stage.invoke_url
        )

        self.outputs: dict[str, Any] = {
            "url": self.url,
            "rest_api_id": api_id,
            "stage_name": self.stage.stage_name,
            "stage_arn": self.stage.arn,
            "web_acl_arn": self.firewall.web_acl.arn,
            "custom_domain": custom_domain,
            "access_log_group": self.access_log_group.name,
            "execution_log_group": self.execution_log_group.name,
            "usage_plan_ids": [plans[t].id for t in sorted(plans)],
            "documentation_version": documentation.version,
        }
        self.register_outputs(self.outputs)

    @staticmethod
    def _slug(path: str) -> str:
        """Resource-name fragment of a path: ``/orders/{id}`` -> ``-orders-id``."""
        return "".join(f"-{seg.strip('{}')}" for seg in path.split("/") if seg)

    @staticmethod
    def _policy(routes: Sequence[Route], cidrs: Sequence[str]) -> Callable[[str], dict[str, Any]]:
        def document(execution_arn: str) -> dict[str, Any]:
            public = sorted({f"{execution_arn}/*/{r.arn_path}" for r in routes if r.auth is not Auth.IAM})
            statements: list[dict[str, Any]] = [
                {
                    # JWT (and API-key) routes authenticate at the authorizer; the policy only admits traffic.
                    # IAM routes get no Allow here: a same-account caller's IAM policy suffices, while a
                    # cross-account caller needs both, so no other account can ever reach them.
                    "Sid": "InvokeAuthenticatedRoutes",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "execute-api:Invoke",
                    "Resource": public,
                }
            ]
            if cidrs:
                statements.append(
                    {
                        "Sid": "DenyOutsideAllowedSources",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "execute-api:Invoke",
                        "Resource": f"{execution_arn}/*",
                        "Condition": {"NotIpAddress": {"aws:SourceIp": sorted(cidrs)}},
                    }
                )
            return {"Version": "2012-10-17", "Statement": statements}

        return document

    def _account_logging_role(self, name: str, s: Settings, claim: pulumi.Resource | None) -> list[pulumi.Resource]:
        """The account's CloudWatch role for API Gateway, when this stack owns the account baseline.

        An account switch (protected and retained in every stack): destroying ``apigateway.Account`` resets the
        setting for the whole account and region, breaking execution logging of every other stack.
        """
        if not s.owns_account_baseline:
            return []  # the owner's claim guarantees the setting exists (components/ownership.py)
        keep = baseline_options(self, claim)
        role = aws.iam.Role(
            f"{name}-cloudwatch-role",
            description="Lets API Gateway write execution and access logs (account-wide setting)",
            # No aws:SourceAccount: the API Gateway guide's trust names only the service, and nothing documents that
            # API Gateway sends the key when it assumes this role; with it, setting the role on the account fails
            # ("The role ARN does not have required permissions set to API Gateway").
            assume_role_policy=policy_document(service_trust_statement("apigateway.amazonaws.com", None)),
            opts=keep,
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-cloudwatch-role-logs",
            role=role.name,
            policy_arn=aws.iam.ManagedPolicy.AMAZON_API_GATEWAY_PUSH_TO_CLOUD_WATCH_LOGS,
            opts=keep,
        )
        account = aws.apigateway.Account(
            f"{name}-account",
            cloudwatch_role_arn=role.arn,
            opts=baseline_options(self, claim, [attachment]),
        )
        return [account]

    def _custom_domain(self, name: str, s: Settings, domain: str, tls: TlsPolicy) -> pulumi.Output[str]:
        child = pulumi.ResourceOptions(parent=self)
        zone_id = s.custom_domain_zone_id
        certificate = aws.acm.Certificate(
            f"{name}-certificate", domain_name=domain, validation_method="DNS", opts=child
        )
        option = certificate.domain_validation_options.apply(lambda options: options[0])
        validation_record = aws.route53.Record(
            f"{name}-certificate-validation-record",
            zone_id=zone_id,
            name=option.apply(lambda o: o.resource_record_name or ""),
            type=option.apply(lambda o: o.resource_record_type or "CNAME"),
            records=[option.apply(lambda o: o.resource_record_value or "")],
            ttl=300,
            allow_overwrite=True,  # ACM reuses the same record name when the certificate is re-requested
            opts=child,
        )
        validation = aws.acm.CertificateValidation(
            f"{name}-certificate-validation",
            certificate_arn=certificate.arn,
            validation_record_fqdns=[validation_record.fqdn],
            opts=child,
        )
        self.domain_name = aws.apigateway.DomainName(
            f"{name}-domain",
            domain_name=domain,
            regional_certificate_arn=validation.certificate_arn,  # waits until the certificate is issued
            endpoint_configuration={"types": REGIONAL},
            security_policy=tls.security_policy,
            endpoint_access_mode=tls.endpoint_access_mode,
            opts=child,
        )
        aws.apigateway.BasePathMapping(
            f"{name}-base-path",
            domain_name=self.domain_name.domain_name,
            rest_api=self.rest_api.id,
            stage_name=self.stage.stage_name,
            opts=child,
        )
        aws.route53.Record(
            f"{name}-alias",
            zone_id=zone_id,
            name=domain,
            type="A",
            aliases=[
                {
                    "name": self.domain_name.regional_domain_name,
                    "zone_id": self.domain_name.regional_zone_id,
                    "evaluate_target_health": False,
                }
            ],
            opts=child,
        )
        return pulumi.Output.concat("https://", domain, "/")
