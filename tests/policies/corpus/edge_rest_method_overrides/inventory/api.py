"""A REST API component: resources and methods from a route table, one token authorizer, one stage."""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # one level, e.g. "items"


@dataclass
class InventoryApiArgs:
    routes: list[Route]
    function_arn: str
    authorizer_arn: str
    web_acl_arn: str
    log_group_arn: str
    region: str


def _settings(logging_level: str = "ERROR", data_trace: bool = False) -> aws.apigateway.MethodSettingsSettingsArgsDict:
    return {"throttling_rate_limit": 200, "throttling_burst_limit": 400, "logging_level": logging_level,
            "metrics_enabled": True, "data_trace_enabled": data_trace}


class InventoryApi(pulumi.ComponentResource):
    def __init__(self, name: str, args: InventoryApiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("inventory:api:InventoryApi", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        invoke = "arn:aws:apigateway:{}:lambda:path/2015-03-31/functions/{}/invocations"
        self.api = aws.apigateway.RestApi(name, endpoint_configuration={"types": "REGIONAL"}, opts=child)
        authorizer = aws.apigateway.Authorizer(
            f"{name}-token", rest_api=self.api.id, type="TOKEN",
            authorizer_uri=invoke.format(args.region, args.authorizer_arn), opts=child)
        # Declared for "later"; no method names it yet.
        aws.apigateway.RequestValidator(f"{name}-validator", rest_api=self.api.id, validate_request_body=True,
                                        validate_request_parameters=True, opts=child)
        resources: dict[str, aws.apigateway.Resource] = {}
        integrations = []
        for route in args.routes:
            if route.path not in resources:
                resources[route.path] = aws.apigateway.Resource(
                    f"{name}-{route.path}", rest_api=self.api.id, parent_id=self.api.root_resource_id,
                    path_part=route.path, opts=child)
            method = aws.apigateway.Method(
                f"{name}-{route.method.lower()}-{route.path}", rest_api=self.api.id,
                resource_id=resources[route.path].id, http_method=route.method,
                authorization="CUSTOM", authorizer_id=authorizer.id, opts=child)
            integrations.append(aws.apigateway.Integration(
                f"{name}-{route.method.lower()}-{route.path}", rest_api=self.api.id,
                resource_id=method.resource_id, http_method=method.http_method, type="AWS_PROXY",
                integration_http_method="POST", uri=invoke.format(args.region, args.function_arn), opts=child))
        deployment = aws.apigateway.Deployment(
            name, rest_api=self.api.id, opts=pulumi.ResourceOptions(parent=self, depends_on=integrations))
        self.stage = aws.apigateway.Stage(
            f"{name}-v1", rest_api=self.api.id, deployment=deployment.id, stage_name="v1",
            xray_tracing_enabled=True,
            access_log_settings={"destination_arn": args.log_group_arn, "format": '{"id":"$context.requestId"}'},
            opts=child)
        aws.apigateway.MethodSettings(f"{name}-v1-all", rest_api=self.api.id, stage_name=self.stage.stage_name,
                                      method_path="*/*", settings=_settings(), opts=child)
        # The health check is noisy: no logs for it. And trace the writes while the bug hunt goes on.
        aws.apigateway.MethodSettings(f"{name}-v1-health", rest_api=self.api.id, stage_name=self.stage.stage_name,
                                      method_path="health/GET", settings=_settings(logging_level="OFF"),
                                      opts=child)
        aws.apigateway.MethodSettings(f"{name}-v1-items-post", rest_api=self.api.id,
                                      stage_name=self.stage.stage_name, method_path="items/POST",
                                      settings=_settings(data_trace=True), opts=child)
        aws.wafv2.WebAclAssociation(f"{name}-v1-waf", resource_arn=self.stage.arn, web_acl_arn=args.web_acl_arn,
                                    opts=child)
        self.register_outputs({"stage_arn": self.stage.arn})
