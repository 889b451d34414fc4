"""Resource policies: compliant, non-compliant, absent (provider default), unknown, config override.

Each case runs through the real analyzer servicer (see harness.py) with unknowns as the engine
sends them, and asserts the number of diagnostics of one policy and a phrase of the message.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import pytest

from policies import _tokens as T
from policies.registry import BY_NAME

from .harness import DEFAULT_TAGS, UNKNOWN, Pack, Res, of


class Case(NamedTuple):
    id: str
    policy: str
    type: str
    props: dict[str, Any]
    expected: int
    phrase: str = ""
    config: dict[str, Any] | None = None
    protect: bool = False


def _pol(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ALLOW_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}
SQS_STAR = {"Effect": "Allow", "Action": "sqs:*", "Resource": "arn:aws:sqs:eu-west-1:1:q"}
SCOPED = {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": "arn:aws:sqs:eu-west-1:1:q"}
XRAY = {"Effect": "Allow", "Action": ["xray:PutTraceSegments"], "Resource": "*"}
DECRYPT_ANY = {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": "*"}
PUBLIC = {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*"}
PUBLIC_PINNED = {**PUBLIC, "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:eu-west-1:1:t"}}}
PUBLIC_WILDCARD_COND = {**PUBLIC, "Condition": {"StringLike": {"aws:SourceArn": "arn:aws:sns:*"}}}
ROOT_KMS = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}, "Action": "kms:*", "Resource": "*"}
SG = T.SECURITY_GROUP

CASES = [
    # apigateway-method-authorization
    Case("method-custom", "apigateway-method-authorization", T.API_METHOD,
         {"authorization": "CUSTOM", "authorizerId": UNKNOWN, "httpMethod": "GET"}, 0),
    Case("method-none", "apigateway-method-authorization", T.API_METHOD,
         {"authorization": "NONE", "httpMethod": "POST"}, 1, "authorization NONE"),
    Case("method-absent", "apigateway-method-authorization", T.API_METHOD, {"httpMethod": "GET"}, 1, "absent"),
    Case("method-unknown", "apigateway-method-authorization", T.API_METHOD,
         {"authorization": UNKNOWN, "httpMethod": "GET"}, 0),
    Case("method-options", "apigateway-method-authorization", T.API_METHOD,
         {"authorization": "NONE", "httpMethod": "OPTIONS"}, 0),
    Case("method-exempt-config", "apigateway-method-authorization", T.API_METHOD,
         {"authorization": "NONE", "httpMethod": "GET"}, 0, config={"exemptMethodNames": ["res"]}),
    Case("method-options-not-allowed", "apigateway-method-authorization", T.API_METHOD,
         {"authorization": "NONE", "httpMethod": "OPTIONS"}, 1, config={"unauthenticatedHttpMethods": []}),
    # apigateway-usage-plan-limits
    Case("plan-ok", "apigateway-usage-plan-limits", T.API_USAGE_PLAN,
         {"throttleSettings": {"rateLimit": 10, "burstLimit": 20}, "quotaSettings": {"limit": 1000, "period": "DAY"},
          "apiStages": [{"apiId": UNKNOWN, "stage": UNKNOWN}]}, 0),
    Case("plan-absent", "apigateway-usage-plan-limits", T.API_USAGE_PLAN, {}, 1, "throttleSettings.rateLimit"),
    Case("plan-zero", "apigateway-usage-plan-limits", T.API_USAGE_PLAN,
         {"throttleSettings": {"rateLimit": 0, "burstLimit": 20}, "quotaSettings": {"limit": 5, "period": "DAY"},
          "apiStages": [{"apiId": "a"}]}, 1, "throttleSettings.rateLimit"),
    Case("plan-unknown", "apigateway-usage-plan-limits", T.API_USAGE_PLAN,
         {"throttleSettings": UNKNOWN, "quotaSettings": {"limit": UNKNOWN, "period": UNKNOWN},
             "apiStages": UNKNOWN}, 0),
    # apigateway-stage-access-logging
    Case("stage-logs-ok", "apigateway-stage-access-logging", T.API_STAGE,
         {"accessLogSettings": {"destinationArn": UNKNOWN, "format": "{}"}}, 0),
    Case("stage-logs-absent", "apigateway-stage-access-logging", T.API_STAGE, {}, 1,
        "accessLogSettings.destinationArn"),
    Case("stage-logs-no-format", "apigateway-stage-access-logging", T.API_STAGE,
         {"accessLogSettings": {"destinationArn": "arn:x"}}, 1, "accessLogSettings.format"),
    # apigateway-xray-tracing / client cert / cache / domain
    Case("xray-on", "apigateway-xray-tracing", T.API_STAGE, {"xrayTracingEnabled": True}, 0),
    Case("xray-absent", "apigateway-xray-tracing", T.API_STAGE, {}, 1, "xrayTracingEnabled"),
    Case("client-cert-lambda-only", "apigateway-client-certificate", T.API_STAGE, {}, 0),
    Case("client-cert-required", "apigateway-client-certificate", T.API_STAGE, {}, 1, "clientCertificateId",
         config={"notRequiredForLambdaOnlyApis": False}),
    Case("client-cert-unknown", "apigateway-client-certificate", T.API_STAGE, {"clientCertificateId": UNKNOWN}, 0,
         config={"notRequiredForLambdaOnlyApis": False}),
    Case("cache-unencrypted", "apigateway-cache-encrypted", T.API_METHOD_SETTINGS,
         {"methodPath": "*/*", "settings": {"cachingEnabled": True}}, 1, "cacheDataEncrypted"),
    Case("cache-encrypted", "apigateway-cache-encrypted", T.API_METHOD_SETTINGS,
         {"methodPath": "*/*", "settings": {"cachingEnabled": True, "cacheDataEncrypted": True}}, 0),
    Case("cache-off", "apigateway-cache-encrypted", T.API_METHOD_SETTINGS, {"settings": {}}, 0),
    Case("domain-tls10", "apigateway-domain-tls-policy", T.API_DOMAIN, {"securityPolicy": "TLS_1_0"}, 1,
         "accepts TLS 1.0"),
    Case("domain-tls12", "apigateway-domain-tls-policy", T.API_DOMAIN, {"securityPolicy": "TLS_1_2"}, 0),
    Case("domain-absent", "apigateway-domain-tls-policy", T.API_DOMAIN, {}, 0),  # domains default to TLS_1_2
    Case("domain-unknown", "apigateway-domain-tls-policy", T.API_DOMAIN, {"securityPolicy": UNKNOWN}, 0),
    Case("domain-ok", "apigateway-domain-tls-policy", T.API_DOMAIN,
         {"securityPolicy": "SecurityPolicy_TLS13_1_3_2025_09"}, 0),
    Case("domain-tls13-2021", "apigateway-domain-tls-policy", T.API_DOMAIN,
         {"securityPolicy": "SecurityPolicy_TLS13_1_2_2021_06"}, 0),
    Case("domain-fips-pq", "apigateway-domain-tls-policy", T.API_DOMAIN,
         {"securityPolicy": "SecurityPolicy_TLS13_1_2_FIPS_PFS_PQ_2025_09"}, 0),
    Case("domain-edge-2018", "apigateway-domain-tls-policy", T.API_DOMAIN,
         {"securityPolicy": "SecurityPolicy_TLS12_2018_EDGE"}, 0),
    Case("domain-config", "apigateway-domain-tls-policy", T.API_DOMAIN, {"securityPolicy": "TLS_1_2"}, 1,
         "not an allowed security policy", config={"allowedSecurityPolicies": ["SecurityPolicy_TLS13_1_3_2025_09"]}),
    Case("rest-api-default-endpoint", "apigateway-domain-tls-policy", T.API_REST_API,
         {"endpointConfiguration": {"types": "REGIONAL"}}, 1, "TLS_1_0 (securityPolicy (absent))"),
    Case("rest-api-tls12", "apigateway-domain-tls-policy", T.API_REST_API,
         {"endpointConfiguration": {"types": "REGIONAL"}, "securityPolicy": "TLS_1_2"}, 0),
    Case("rest-api-private", "apigateway-domain-tls-policy", T.API_REST_API,
         {"endpointConfiguration": {"types": "PRIVATE"}}, 0),
    Case("rest-api-endpoint-disabled", "apigateway-domain-tls-policy", T.API_REST_API,
         {"disableExecuteApiEndpoint": True, "securityPolicy": "TLS_1_0"}, 0),
    Case("v2-domain-tls10", "apigateway-domain-tls-policy", T.APIGW2_DOMAIN,
         {"domainNameConfiguration": {"securityPolicy": "TLS_1_0", "endpointType": "REGIONAL"}}, 1, "TLS 1.0"),
    Case("v2-domain-tls12", "apigateway-domain-tls-policy", T.APIGW2_DOMAIN,
         {"domainNameConfiguration": {"securityPolicy": "TLS_1_2", "endpointType": "REGIONAL"}}, 0),
    # wafv2
    Case("waf-metrics-ok", "wafv2-cloudwatch-metrics", T.WAF_WEB_ACL,
         {"visibilityConfig": {"cloudwatchMetricsEnabled": True},
          "rules": [{"name": "a", "visibilityConfig": {"cloudwatchMetricsEnabled": True}}]}, 0),
    Case("waf-metrics-rule-off", "wafv2-cloudwatch-metrics", T.WAF_WEB_ACL,
         {"visibilityConfig": {"cloudwatchMetricsEnabled": True},
          "rules": [{"name": "a", "visibilityConfig": {"cloudwatchMetricsEnabled": False}}]}, 1, "Rule 'a'"),
    Case("waf-metrics-absent", "wafv2-cloudwatch-metrics", T.WAF_WEB_ACL, {}, 1, "visibilityConfig"),
    # security groups
    Case("sg-443-world", "security-group-no-public-ingress", SG,
         {"ingress": [{"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]}]}, 0),
    Case("sg-22-world", "security-group-no-public-ingress", SG,
         {"ingress": [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["10.0.0.0/8", "0.0.0.0/0"]}]},
         1, "0.0.0.0/0 (the whole internet) on tcp port 22"),
    Case("sg-all-v6", "security-group-no-public-ingress", SG,
         {"ingress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "ipv6CidrBlocks": ["::/0"]}]}, 1,
         "all protocols"),
    Case("sg-range", "security-group-no-public-ingress", SG,
         {"ingress": [{"protocol": "tcp", "fromPort": 0, "toPort": 65535, "cidrBlocks": ["0.0.0.0/0"]}]}, 1,
         "0-65535"),
    Case("sg-private", "security-group-no-public-ingress", SG,
         {"ingress": [{"protocol": "tcp", "fromPort": 5432, "toPort": 5432, "cidrBlocks": [UNKNOWN]}]}, 0),
    Case("sg-no-ingress", "security-group-no-public-ingress", SG, {"vpcId": UNKNOWN}, 0),
    Case("sg-rule-ingress", "security-group-no-public-ingress", T.SECURITY_GROUP_RULE,
         {"type": "ingress", "protocol": "tcp", "fromPort": 80, "toPort": 80, "cidrBlocks": ["0.0.0.0/0"]}, 1,
         "port 80"),
    Case("sg-rule-80-config", "security-group-no-public-ingress", T.SECURITY_GROUP_RULE,
         {"type": "ingress", "protocol": "tcp", "fromPort": 80, "toPort": 80, "cidrBlocks": ["0.0.0.0/0"]}, 0,
         config={"allowedPorts": [80, 443]}),
    Case("sg-rule-egress", "security-group-no-public-ingress", T.SECURITY_GROUP_RULE,
         {"type": "egress", "protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}, 0),
    Case("vpc-ingress-rule", "security-group-no-public-ingress", T.SG_INGRESS_RULE,
         {"ipProtocol": "-1", "cidrIpv4": "0.0.0.0/0", "securityGroupId": UNKNOWN}, 1, "all protocols"),
    Case("vpc-ingress-rule-443", "security-group-no-public-ingress", T.SG_INGRESS_RULE,
         {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIpv6": "::/0"}, 0),
    # NACLs
    Case("nacl-ssh", "nacl-no-public-ingress", T.NETWORK_ACL,
         {"ingress": [{"action": "allow", "protocol": "6", "fromPort": 22, "toPort": 22, "cidrBlock": "0.0.0.0/0",
                       "ruleNo": 100}]}, 1, "tcp port 22"),
    Case("nacl-deny", "nacl-no-public-ingress", T.NETWORK_ACL,
         {"ingress": [{"action": "deny", "protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlock": "0.0.0.0/0"}]}, 0),
    Case("nacl-ephemeral-default", "nacl-no-public-ingress", T.NETWORK_ACL_RULE,
         {"egress": False, "ruleAction": "allow", "protocol": "tcp", "fromPort": 1024, "toPort": 65535,
          "cidrBlock": "0.0.0.0/0"}, 0),  # the program's return-traffic rule passes with the pack defaults
    Case("nacl-all-ports", "nacl-no-public-ingress", T.NETWORK_ACL_RULE,
         {"egress": False, "ruleAction": "allow", "protocol": "tcp", "fromPort": 0, "toPort": 65535,
          "cidrBlock": "0.0.0.0/0"}, 1, "0-65535"),
    Case("nacl-ephemeral-config", "nacl-no-public-ingress", T.NETWORK_ACL_RULE,
         {"ruleAction": "allow", "protocol": "tcp", "fromPort": 1024, "toPort": 65535, "cidrBlock": "0.0.0.0/0"}, 1,
         "1024-65535", config={"allowedPortRanges": []}),
    Case("nacl-egress-rule", "nacl-no-public-ingress", T.NETWORK_ACL_RULE,
         {"egress": True, "ruleAction": "allow", "protocol": "-1", "cidrBlock": "0.0.0.0/0"}, 0),
    Case("nacl-default-all", "nacl-no-public-ingress", T.DEFAULT_NETWORK_ACL,
         {"ingress": [{"action": "allow", "protocol": "-1", "fromPort": 0, "toPort": 0, "ipv6CidrBlock": "::/0"}]},
         1, "::/0"),
    # subnets
    Case("subnet-public-ip", "subnet-no-auto-public-ip", T.SUBNET, {"mapPublicIpOnLaunch": True}, 1,
         "mapPublicIpOnLaunch"),
    Case("subnet-default", "subnet-no-auto-public-ip", T.SUBNET, {"cidrBlock": "10.0.0.0/24"}, 0),
    # encryption
    Case("sqs-cmk", "data-encrypted-with-cmk", T.SQS_QUEUE, {"kmsMasterKeyId": UNKNOWN}, 0),
    Case("sqs-absent", "data-encrypted-with-cmk", T.SQS_QUEUE, {}, 1, "no customer managed key"),
    Case("sqs-aws-key", "data-encrypted-with-cmk", T.SQS_QUEUE, {"kmsMasterKeyId": "alias/aws/sqs"}, 1,
         "AWS managed key alias/aws/sqs"),
    Case("sns-cmk", "data-encrypted-with-cmk", T.SNS_TOPIC, {"kmsMasterKeyId": "arn:aws:kms:eu-west-1:1:key/k"}, 0),
    Case("logs-absent", "data-encrypted-with-cmk", T.LOG_GROUP, {"retentionInDays": 30}, 1, "kmsKeyId"),
    Case("bus-cmk", "data-encrypted-with-cmk", T.EVENT_BUS, {"kmsKeyIdentifier": UNKNOWN}, 0),
    Case("bus-absent", "data-encrypted-with-cmk", T.EVENT_BUS, {}, 1, "kmsKeyIdentifier"),
    Case("secret-absent", "data-encrypted-with-cmk", T.SECRET, {}, 1, "kmsKeyId"),
    Case("trail-cmk", "data-encrypted-with-cmk", T.TRAIL, {"kmsKeyId": UNKNOWN}, 0),
    Case("rds-unencrypted", "data-encrypted-with-cmk", T.RDS_INSTANCE, {"kmsKeyId": UNKNOWN}, 1, "storageEncrypted"),
    Case("rds-default-key", "data-encrypted-with-cmk", T.RDS_INSTANCE, {"storageEncrypted": True}, 1,
         "no customer managed key"),
    Case("rds-cmk", "data-encrypted-with-cmk", T.RDS_CLUSTER, {"storageEncrypted": True, "kmsKeyId": UNKNOWN}, 0),
    Case("ddb-owned-key", "data-encrypted-with-cmk", T.DYNAMODB_TABLE, {}, 1, "AWS owned key"),
    Case("ddb-cmk", "data-encrypted-with-cmk", T.DYNAMODB_TABLE,
         {"serverSideEncryption": {"enabled": True, "kmsKeyArn": UNKNOWN}}, 0),
    # kms rotation
    Case("kms-rotation-on", "kms-key-rotation", T.KMS_KEY, {"enableKeyRotation": True}, 0),
    Case("kms-rotation-absent", "kms-key-rotation", T.KMS_KEY, {}, 1, "absent means rotation is off"),
    Case("kms-asymmetric", "kms-key-rotation", T.KMS_KEY, {"customerMasterKeySpec": "RSA_2048",
                                                           "keyUsage": "SIGN_VERIFY"}, 0),
    # lambda
    Case("lambda-vpc", "lambda-in-vpc", T.LAMBDA_FUNCTION,
         {"vpcConfig": {"subnetIds": [UNKNOWN, UNKNOWN], "securityGroupIds": [UNKNOWN]}}, 0),
    Case("lambda-no-vpc", "lambda-in-vpc", T.LAMBDA_FUNCTION, {"runtime": "python3.12"}, 1, "vpcConfig.subnetIds"),
    Case("lambda-no-sg", "lambda-in-vpc", T.LAMBDA_FUNCTION, {"vpcConfig": {"subnetIds": ["s"]}}, 1,
         "vpcConfig.securityGroupIds"),
    Case("lambda-vpc-exempt", "lambda-in-vpc", T.LAMBDA_FUNCTION, {}, 0, config={"exemptFunctionNames": ["res"]}),
    Case("lambda-runtime-old", "lambda-supported-runtime", T.LAMBDA_FUNCTION, {"runtime": "python3.8"}, 1,
         "python3.8"),
    Case("lambda-runtime-ok", "lambda-supported-runtime", T.LAMBDA_FUNCTION, {"runtime": "python3.12"}, 0),
    Case("lambda-runtime-image", "lambda-supported-runtime", T.LAMBDA_FUNCTION, {"packageType": "Image"}, 0),
    Case("lambda-runtime-config", "lambda-supported-runtime", T.LAMBDA_FUNCTION, {"runtime": "python3.12"}, 1,
         config={"supportedRuntimes": ["python3.13"]}),
    Case("lambda-xray", "lambda-xray-tracing", T.LAMBDA_FUNCTION, {}, 1, "Active"),
    Case("lambda-perm-public", "lambda-not-public", T.LAMBDA_PERMISSION, {"principal": "*", "action": "x"}, 1,
         "principal '*'"),
    Case("lambda-perm-apigw-no-source", "lambda-not-public", T.LAMBDA_PERMISSION,
         {"principal": "apigateway.amazonaws.com"}, 1, "without sourceAccount or a sourceArn"),
    Case("lambda-perm-apigw-source", "lambda-not-public", T.LAMBDA_PERMISSION,
         {"principal": "apigateway.amazonaws.com", "sourceArn": UNKNOWN}, 0),
    Case("lambda-url-none", "lambda-not-public", T.LAMBDA_FUNCTION_URL, {"authorizationType": "NONE"}, 1, "AWS_IAM"),
    # log groups
    Case("logs-retention-ok", "log-group-retention", T.LOG_GROUP, {"retentionInDays": 365}, 0),
    Case("logs-retention-short", "log-group-retention", T.LOG_GROUP, {"retentionInDays": 30}, 1, "30 days"),
    Case("logs-retention-absent", "log-group-retention", T.LOG_GROUP, {}, 1, "never expires"),
    Case("logs-retention-zero", "log-group-retention", T.LOG_GROUP, {"retentionInDays": 0}, 1, "never expires"),
    Case("logs-retention-dev", "log-group-retention", T.LOG_GROUP, {"retentionInDays": 30}, 0,
         config={"minRetentionDays": 30}),
    Case("alarm-no-action", "alarm-has-actions", T.METRIC_ALARM, {"metricName": "m"}, 1, "alarmActions"),
    Case("alarm-action", "alarm-has-actions", T.METRIC_ALARM, {"alarmActions": [UNKNOWN]}, 0),
    # IAM
    Case("iam-admin", "iam-no-wildcard-actions", T.IAM_POLICY, {"policy": _pol(ALLOW_ALL)}, 1, "action '*'"),
    Case("iam-service-star", "iam-no-wildcard-actions", T.IAM_ROLE_POLICY, {"policy": _pol(SQS_STAR)}, 1, "sqs:*"),
    Case("iam-scoped", "iam-no-wildcard-actions", T.IAM_ROLE_POLICY, {"policy": _pol(SCOPED)}, 0),
    Case("iam-unknown-doc", "iam-no-wildcard-actions", T.IAM_ROLE_POLICY, {"policy": UNKNOWN}, 0),
    Case("iam-bad-json", "iam-no-wildcard-actions", T.IAM_POLICY, {"policy": "{not json"}, 1, "not valid JSON"),
    Case("iam-notaction", "iam-no-wildcard-actions", T.IAM_POLICY,
         {"policy": _pol({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})}, 1, "NotAction"),
    Case("iam-deny-star", "iam-no-wildcard-actions", T.IAM_POLICY,
         {"policy": _pol({"Effect": "Deny", "Action": "*", "Resource": "*"})}, 0),
    Case("iam-role-inline", "iam-no-wildcard-actions", T.IAM_ROLE,
         {"assumeRolePolicy": _pol({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                    "Action": "sts:AssumeRole"}),
          "inlinePolicies": [{"name": "inline", "policy": _pol(SQS_STAR)}]}, 1, "inline policy 'inline'"),
    Case("kms-root-key-policy", "iam-no-wildcard-actions", T.KMS_KEY, {"policy": _pol(ROOT_KMS)}, 0),
    Case("iam-resource-star", "iam-no-wildcard-resources", T.IAM_POLICY, {"policy": _pol(DECRYPT_ANY)}, 1,
         "kms:Decrypt"),
    Case("iam-resource-star-xray", "iam-no-wildcard-resources", T.IAM_ROLE_POLICY, {"policy": _pol(XRAY)}, 0),
    Case("iam-resource-star-config", "iam-no-wildcard-resources", T.IAM_POLICY, {"policy": _pol(DECRYPT_ANY)}, 0,
         config={"actionsRequiringWildcardResource": ["kms:Decrypt"]}),
    Case("iam-resource-unknown", "iam-no-wildcard-resources", T.IAM_ROLE, {"inlinePolicies": UNKNOWN}, 0),
    Case("iam-admin-attach", "iam-no-admin-managed-policies", T.IAM_ROLE_POLICY_ATTACHMENT,
         {"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess", "role": UNKNOWN}, 1, "AdministratorAccess"),
    Case("iam-basic-attach", "iam-no-admin-managed-policies", T.IAM_ROLE_POLICY_ATTACHMENT,
         {"policyArn": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}, 0),
    Case("iam-aws-managed", "iam-no-aws-managed-policies", T.IAM_ROLE,
         {"managedPolicyArns": ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]}, 1),
    Case("iam-aws-managed-allowed", "iam-no-aws-managed-policies", T.IAM_ROLE_POLICY_ATTACHMENT,
         {"policyArn": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}, 0,
         config={"allowedPolicyArns": ["arn:aws:iam::aws:policy/service-role/*"]}),
    Case("iam-user-policy", "iam-no-user-policies", T.IAM_USER_POLICY, {"policy": _pol(SCOPED)}, 1, "IAM user"),
    # resource policies
    Case("queue-public", "resource-policy-not-public", T.SQS_QUEUE_POLICY, {"policy": _pol(PUBLIC)}, 1,
         "anonymous or any-account callers"),
    Case("queue-pinned", "resource-policy-not-public", T.SQS_QUEUE_POLICY, {"policy": _pol(PUBLIC_PINNED)}, 0),
    Case("queue-wildcard-condition", "resource-policy-not-public", T.SQS_QUEUE_POLICY,
         {"policy": _pol(PUBLIC_WILDCARD_COND)}, 1),
    Case("topic-aws-star", "resource-policy-not-public", T.SNS_TOPIC,
         {"policy": _pol({**PUBLIC, "Principal": {"AWS": ["*"]}})}, 1),
    Case("kms-root", "resource-policy-not-public", T.KMS_KEY, {"policy": _pol(ROOT_KMS)}, 0),
    Case("bucket-policy-unknown", "resource-policy-not-public", T.S3_BUCKET_POLICY, {"policy": UNKNOWN}, 0),
    Case("no-policy", "resource-policy-not-public", T.SQS_QUEUE, {}, 0),
    # RDS
    Case("rds-public", "rds-not-public", T.RDS_INSTANCE, {"publiclyAccessible": True}, 1, "publiclyAccessible"),
    Case("rds-private-default", "rds-not-public", T.RDS_INSTANCE, {}, 0),
    Case("rds-single-az", "rds-multi-az", T.RDS_INSTANCE, {}, 1, "single-AZ"),
    Case("rds-multi-az", "rds-multi-az", T.RDS_INSTANCE, {"multiAz": True}, 0),
    Case("rds-monitoring-default", "rds-enhanced-monitoring", T.RDS_INSTANCE, {}, 1, "monitoringInterval"),
    Case("rds-monitoring-ok", "rds-enhanced-monitoring", T.RDS_INSTANCE,
         {"monitoringInterval": 60, "monitoringRoleArn": UNKNOWN}, 0),
    Case("rds-logs-missing", "rds-log-exports", T.RDS_INSTANCE,
         {"engine": "postgres", "enabledCloudwatchLogsExports": []}, 1, "postgresql to CloudWatch Logs (RDS.36)"),
    Case("rds-logs-ok", "rds-log-exports", T.RDS_INSTANCE,
         {"engine": "postgres", "enabledCloudwatchLogsExports": ["postgresql", "upgrade"]}, 0),
    Case("rds-iam-auth-off", "rds-iam-authentication", T.RDS_INSTANCE, {"engine": "postgres"}, 1),
    Case("rds-backup-default", "rds-backup-retention", T.RDS_INSTANCE, {}, 1, "0 days"),
    Case("rds-backup-ok", "rds-backup-retention", T.RDS_INSTANCE, {"backupRetentionPeriod": 7}, 0),
    Case("rds-backup-config", "rds-backup-retention", T.RDS_INSTANCE, {"backupRetentionPeriod": 1}, 0,
         config={"minDays": 1}),
    Case("rds-minor-off", "rds-auto-minor-version-upgrade", T.RDS_INSTANCE, {"autoMinorVersionUpgrade": False}, 1),
    Case("rds-minor-default", "rds-auto-minor-version-upgrade", T.RDS_INSTANCE, {}, 0),
    Case("rds-copy-tags", "rds-copy-tags-to-snapshot", T.RDS_INSTANCE, {}, 1),
    Case("rds-port-default", "rds-non-default-port", T.RDS_INSTANCE, {"engine": "postgres"}, 1, "5432"),
    Case("rds-port-custom", "rds-non-default-port", T.RDS_INSTANCE, {"engine": "postgres", "port": 6543}, 0),
    Case("rds-user-postgres", "rds-custom-admin-username", T.RDS_INSTANCE, {"username": "postgres"}, 1),
    Case("rds-user-custom", "rds-custom-admin-username", T.RDS_INSTANCE, {"username": "platform_admin"}, 0),
    # DynamoDB, secrets
    Case("ddb-pitr-off", "dynamodb-point-in-time-recovery", T.DYNAMODB_TABLE, {}, 1),
    Case("ddb-pitr-on", "dynamodb-point-in-time-recovery", T.DYNAMODB_TABLE,
        {"pointInTimeRecovery": {"enabled": True}}, 0),
    Case("rotation-120", "secret-rotation-interval", T.SECRET_ROTATION,
         {"rotationRules": {"automaticallyAfterDays": 120}}, 1, "90 days"),
    Case("rotation-30", "secret-rotation-interval", T.SECRET_ROTATION,
        {"rotationRules": {"automaticallyAfterDays": 30}}, 0),
    Case("rotation-rate", "secret-rotation-interval", T.SECRET_ROTATION,
         {"rotationRules": {"scheduleExpression": "rate(100 days)"}}, 0, config={"maxDays": 100}),
    # prod protection
    Case("protect-dev", "stateful-resource-protection", T.RDS_INSTANCE, {}, 0),
    Case("protect-prod-missing", "stateful-resource-protection", T.RDS_INSTANCE, {}, 3, "protect=True",
         config={"requireProtection": True}),
    Case("protect-prod-ok", "stateful-resource-protection", T.RDS_INSTANCE,
         {"deletionProtection": True, "finalSnapshotIdentifier": "final"}, 0, config={"requireProtection": True},
         protect=True),
    Case("protect-prod-skip-snapshot", "stateful-resource-protection", T.RDS_INSTANCE,
         {"deletionProtection": True, "skipFinalSnapshot": True}, 1, "final snapshot",
         config={"requireProtection": True}, protect=True),
    Case("protect-kms-window", "stateful-resource-protection", T.KMS_KEY, {"deletionWindowInDays": 7}, 1,
         "deletionWindowInDays 7", config={"requireProtection": True}, protect=True),
    Case("protect-kms-default-window", "stateful-resource-protection", T.KMS_KEY, {}, 0,
         config={"requireProtection": True}, protect=True),
    Case("protect-secret-force", "stateful-resource-protection", T.SECRET, {"recoveryWindowInDays": 0}, 1,
         "deletes immediately", config={"requireProtection": True}, protect=True),
    Case("protect-queue-not-stateful", "stateful-resource-protection", T.SQS_QUEUE, {}, 0,
         config={"requireProtection": True}),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_resource_policy(case: Case) -> None:
    pack = Pack({case.policy: case.config} if case.config else None)
    if BY_NAME[case.policy].scope == "stack":  # a rule that also joins resources: the resource alone
        diags = of(pack.analyze_stack([Res(case.type, "res", case.props, protect=case.protect)],
                                      default_tags=DEFAULT_TAGS), case.policy)
    else:
        diags = of(pack.analyze(case.type, case.props, protect=case.protect, default_tags=DEFAULT_TAGS),
                   case.policy)
    assert len(diags) == case.expected, [d.message for d in diags]
    assert all("'res'" in d.message for d in diags)  # messages name the resource
    if diags:
        assert any(case.phrase in d.message for d in diags), [d.message for d in diags]
