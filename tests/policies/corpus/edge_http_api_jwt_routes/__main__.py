"""PR: partner HTTP API whose routes come from a table (JWT with scopes, CORS preflight open), plus a WebSocket
API for notifications that authorizes on $connect.  Access logs go to a KMS-encrypted log group; every stage is
throttled."""

import json

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
caller = aws.get_caller_identity()
region = aws.get_region()

ROUTES = [
    # (route key, scopes); scopes None = CORS preflight, answered by API Gateway without credentials
    ("GET /partners/{id}/orders", ["orders:read"]),
    ("POST /partners/{id}/orders", ["orders:write"]),
    ("OPTIONS /partners/{proxy+}", None),
]

key_policy = aws.iam.get_policy_document(statements=[
    {"sid": "Account", "actions": ["kms:*"], "resources": ["*"],
     "principals": [{"type": "AWS", "identifiers": [f"arn:aws:iam::{caller.account_id}:root"]}]},
    {"sid": "Logs", "actions": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                                "kms:Describe*"], "resources": ["*"],
     "principals": [{"type": "Service", "identifiers": [f"logs.{region.region}.amazonaws.com"]}],
     "conditions": [{"test": "ArnLike", "variable": "kms:EncryptionContext:aws:logs:arn",
                     "values": [f"arn:aws:logs:{region.region}:{caller.account_id}:log-group:*"]}]},
])
logs_key = aws.kms.Key("access-logs", enable_key_rotation=True, deletion_window_in_days=30, policy=key_policy.json,
                       opts=pulumi.ResourceOptions(protect=True))


def access_log_group(name: str) -> aws.cloudwatch.LogGroup:
    return aws.cloudwatch.LogGroup(f"{name}-access", retention_in_days=365, kms_key_id=logs_key.arn)


ACCESS_LOG_FORMAT = json.dumps({"requestId": "$context.requestId", "ip": "$context.identity.sourceIp",
                                "route": "$context.routeKey", "status": "$context.status"})

# --- HTTP API --------------------------------------------------------------------------------------------
http = aws.apigatewayv2.Api("partners", protocol_type="HTTP")
jwt = aws.apigatewayv2.Authorizer(
    "partners-jwt", api_id=http.id, authorizer_type="JWT", identity_sources=["$request.header.Authorization"],
    jwt_configuration={"issuer": config.require("issuer"), "audiences": [config.require("audience")]},
)
backend = aws.apigatewayv2.Integration(
    "partners-backend", api_id=http.id, integration_type="AWS_PROXY",
    integration_uri=config.require("functionArn"), payload_format_version="2.0",
)
for route_key, scopes in ROUTES:
    slug = route_key.lower().replace(" ", "-").replace("/", "-").strip("-").replace("{", "").replace("}", "")
    aws.apigatewayv2.Route(
        f"partners-{slug}",
        api_id=http.id,
        route_key=route_key,
        target=backend.id.apply(lambda i: f"integrations/{i}"),
        authorization_type="JWT" if scopes else "NONE",
        authorizer_id=jwt.id if scopes else None,
        authorization_scopes=scopes,
    )
aws.apigatewayv2.Stage(
    "partners-live", api_id=http.id, name="live", auto_deploy=True,
    access_log_settings={"destination_arn": access_log_group("partners").arn, "format": ACCESS_LOG_FORMAT},
    default_route_settings={"throttling_rate_limit": 100, "throttling_burst_limit": 200},
)

# --- WebSocket API -----------------------------------------------------------------------------------------
ws = aws.apigatewayv2.Api("notifications", protocol_type="WEBSOCKET",
                          route_selection_expression="$request.body.action")
connect_auth = aws.apigatewayv2.Authorizer(
    "notifications-connect", api_id=ws.id, authorizer_type="REQUEST",
    authorizer_uri=f"arn:aws:apigateway:{region.region}:lambda:path/2015-03-31/functions/"
                   f"{config.require('authorizerFunctionArn')}/invocations",
    identity_sources=["route.request.header.Authorization"],
)
aws.apigatewayv2.Route("notifications-connect", api_id=ws.id, route_key="$connect",
                       authorization_type="CUSTOM", authorizer_id=connect_auth.id)
for key in ("$disconnect", "$default", "subscribe"):
    # WebSocket routes other than $connect cannot carry an authorizer: the connection was authorized.
    aws.apigatewayv2.Route(f"notifications-{key.strip('$')}", api_id=ws.id, route_key=key)
aws.apigatewayv2.Stage(
    "notifications-live", api_id=ws.id, name="live", auto_deploy=True,
    access_log_settings={"destination_arn": access_log_group("notifications").arn, "format": ACCESS_LOG_FORMAT},
    default_route_settings={"throttling_rate_limit": 50, "throttling_burst_limit": 100, "logging_level": "ERROR"},
)
