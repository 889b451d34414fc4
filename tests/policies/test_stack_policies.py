"""Stack policies over small resource graphs, linked by property dependencies as the engine does."""

from __future__ import annotations

import json

from policies import _tokens as T

from .harness import UNKNOWN, Pack, Res, of


def _api_graph(*, throttled: bool = True, rate: float = 50, waf: bool = True, waf_by_deps: bool = True) -> list[Res]:
    graph = [
        Res(T.API_REST_API, "api", {"name": "api"}),
        Res(T.API_STAGE, "stage", {"stageName": "dev", "restApi": UNKNOWN, "arn": UNKNOWN}, deps=["api"],
            prop_deps={"restApi": ["api"]}),
        Res(T.WAF_WEB_ACL, "acl", {"scope": "REGIONAL", "arn": UNKNOWN}),
    ]
    if throttled:
        graph.append(Res(T.API_METHOD_SETTINGS, "settings",
                         {"restApi": UNKNOWN, "stageName": UNKNOWN, "methodPath": "*/*",
                          "settings": {"throttlingRateLimit": rate, "throttlingBurstLimit": 100,
                                       "loggingLevel": "INFO"}},
                         deps=["api", "stage"], prop_deps={"restApi": ["api"], "stageName": ["stage"]}))
    if waf:
        graph.append(Res(T.WAF_ASSOCIATION, "assoc", {"resourceArn": UNKNOWN, "webAclArn": UNKNOWN},
                         deps=["stage", "acl"],
                         prop_deps={"resourceArn": ["stage"], "webAclArn": ["acl"]} if waf_by_deps else {}))
    return graph


def test_stage_with_throttling_and_waf_passes() -> None:
    diags = Pack().analyze_stack(_api_graph())
    assert of(diags, "apigateway-stage-throttling") == []
    assert of(diags, "apigateway-stage-waf") == []
    assert of(diags, "apigateway-execution-logging") == []


def test_stage_without_method_settings_is_not_throttled() -> None:
    diags = of(Pack().analyze_stack(_api_graph(throttled=False)), "apigateway-stage-throttling")
    assert len(diags) == 1 and diags[0].level == "mandatory"
    assert "'stage'" in diags[0].message and "no MethodSettings" in diags[0].message
    assert diags[0].urn.endswith("::stage")


def test_throttling_above_configured_maximum_fails_and_config_raises_it() -> None:
    graph = _api_graph(rate=5000)
    assert "above the maximum 1000" in of(Pack().analyze_stack(graph), "apigateway-stage-throttling")[0].message
    pack = Pack({"apigateway-stage-throttling": {"maxRateLimit": 5000}})
    assert of(pack.analyze_stack(graph), "apigateway-stage-throttling") == []


def test_throttling_disabled_by_minus_one_default_fails() -> None:
    graph = _api_graph(rate=-1)
    assert "throttling disabled" in of(Pack().analyze_stack(graph), "apigateway-stage-throttling")[0].message


def test_method_settings_of_another_stage_do_not_count() -> None:
    graph = _api_graph()
    graph.insert(2, Res(T.API_STAGE, "other", {"stageName": "other"}))
    graph[-2].prop_deps["stageName"] = ["other"]
    diags = of(Pack().analyze_stack(graph), "apigateway-stage-throttling")
    assert [d.urn.rsplit("::", 1)[1] for d in diags] == ["stage"]


def test_stage_without_waf_association_fails() -> None:
    diags = of(Pack().analyze_stack(_api_graph(waf=False)), "apigateway-stage-waf")
    assert len(diags) == 1 and "no WAFv2 web ACL association" in diags[0].message


def test_waf_association_linked_only_through_dependencies_is_accepted() -> None:
    # engines/mocks without per-property records: an unknown resourceArn of a dependent resource
    assert of(Pack().analyze_stack(_api_graph(waf_by_deps=False)), "apigateway-stage-waf") == []


def test_cloudfront_scoped_web_acl_is_rejected() -> None:
    graph = _api_graph()
    graph[2].props["scope"] = "CLOUDFRONT"
    assert "REGIONAL" in of(Pack().analyze_stack(graph), "apigateway-stage-waf")[0].message


def test_api_key_needs_usage_plan_key() -> None:
    key = Res(T.API_KEY, "key", {"id": UNKNOWN})
    plan = Res(T.API_USAGE_PLAN, "plan", {})
    assert len(of(Pack().analyze_stack([key, plan]), "apigateway-api-key-usage-plan")) == 1
    link = Res(T.API_USAGE_PLAN_KEY, "link", {"keyId": UNKNOWN, "usagePlanId": UNKNOWN, "keyType": "API_KEY"},
               deps=["key", "plan"], prop_deps={"keyId": ["key"], "usagePlanId": ["plan"]})
    assert of(Pack().analyze_stack([key, plan, link]), "apigateway-api-key-usage-plan") == []


def _vpc(dsg_ingress: list | None = None, flow: str | None = "ALL") -> list[Res]:
    graph = [Res(T.VPC, "vpc", {"cidrBlock": "10.0.0.0/16", "id": UNKNOWN})]
    if dsg_ingress is not None:
        graph.append(Res(T.DEFAULT_SECURITY_GROUP, "dsg", {"vpcId": UNKNOWN, "ingress": dsg_ingress, "egress": []},
                         prop_deps={"vpcId": ["vpc"]}))
    if flow:
        graph.append(Res(T.FLOW_LOG, "flow", {"vpcId": UNKNOWN, "trafficType": flow}, prop_deps={"vpcId": ["vpc"]}))
    return graph


def test_default_security_group() -> None:
    assert of(Pack().analyze_stack(_vpc([])), "vpc-default-security-group-closed") == []
    missing = of(Pack().analyze_stack(_vpc(None)), "vpc-default-security-group-closed")
    assert len(missing) == 1 and "no DefaultSecurityGroup" in missing[0].message
    rules = _vpc([{"protocol": "-1", "fromPort": 0, "toPort": 0, "self": True}])
    assert "must declare no ingress rules" in \
        of(Pack().analyze_stack(rules), "vpc-default-security-group-closed")[0].message


def test_adopted_default_security_group_without_rule_lists_is_closed() -> None:
    # Adoption removes every existing rule; absent ingress/egress means none are created (false positive before).
    graph = [Res(T.VPC, "vpc", {"id": UNKNOWN}),
             Res(T.DEFAULT_SECURITY_GROUP, "dsg", {"vpcId": UNKNOWN}, prop_deps={"vpcId": ["vpc"]})]
    assert of(Pack().analyze_stack(graph), "vpc-default-security-group-closed") == []


def test_rule_added_to_the_default_security_group_fails() -> None:
    graph = [*_vpc([]), Res(T.SG_INGRESS_RULE, "rule", {"securityGroupId": UNKNOWN, "ipProtocol": "-1"},
                            prop_deps={"securityGroupId": ["dsg"]})]
    diags = of(Pack().analyze_stack(graph), "vpc-default-security-group-closed")
    assert len(diags) == 1 and "'rule'" in diags[0].message


def test_flow_logs() -> None:
    assert of(Pack().analyze_stack(_vpc([])), "vpc-flow-logs") == []
    assert len(of(Pack().analyze_stack(_vpc([], flow="ACCEPT")), "vpc-flow-logs")) == 1
    assert len(of(Pack().analyze_stack(_vpc([], flow=None)), "vpc-flow-logs")) == 1


def test_lambda_subnets_in_one_zone_fail() -> None:
    subnets = [Res(T.SUBNET, f"s{i}", {"availabilityZone": az, "id": UNKNOWN}) for i, az in
               enumerate(["eu-west-1a", "eu-west-1a"])]
    fn = Res(T.LAMBDA_FUNCTION, "fn", {"vpcConfig": {"subnetIds": [UNKNOWN, UNKNOWN], "securityGroupIds": ["sg"]}},
             prop_deps={"vpcConfig": ["s0", "s1"]})
    assert "1 Availability Zone" in of(Pack().analyze_stack([*subnets, fn]), "lambda-vpc-multi-az")[0].message
    subnets[1].props["availabilityZone"] = "eu-west-1b"
    assert of(Pack().analyze_stack([*subnets, fn]), "lambda-vpc-multi-az") == []


def _bucket_graph(with_companions: bool = True) -> list[Res]:
    graph = [Res(T.S3_BUCKET, "bucket", {"bucket": UNKNOWN, "arn": UNKNOWN})]
    if not with_companions:
        return graph
    dep = {"bucket": ["bucket"]}
    policy = json.dumps({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                                        "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
                                        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})
    flags = {"blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True,
             "restrictPublicBuckets": True}
    sse = {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": UNKNOWN}}]}
    return [
        *graph,
        Res(T.S3_PUBLIC_ACCESS_BLOCK, "bpa", {"bucket": UNKNOWN, **flags}, prop_deps=dep),
        Res(T.S3_SSE[0], "sse", {"bucket": UNKNOWN, **sse}, prop_deps=dep),
        Res(T.S3_BUCKET_POLICY, "policy", {"bucket": UNKNOWN, "policy": policy}, prop_deps=dep),
        Res(T.S3_OWNERSHIP, "own", {"bucket": UNKNOWN, "rule": {"objectOwnership": "BucketOwnerEnforced"}},
            prop_deps=dep),
        Res(T.S3_VERSIONING[0], "ver", {"bucket": UNKNOWN, "versioningConfiguration": {"status": "Enabled"}},
            prop_deps=dep),
        Res(T.S3_LIFECYCLE[0], "life", {"bucket": UNKNOWN, "rules": [{"id": "r", "status": "Enabled"}]},
            prop_deps=dep),
    ]


S3_POLICIES = ["s3-bucket-public-access-block", "s3-bucket-encrypted-with-cmk", "s3-bucket-ssl-only",
               "s3-bucket-owner-enforced", "s3-bucket-versioning", "s3-bucket-lifecycle"]


def test_bucket_with_all_companions_passes_and_bare_bucket_fails_each() -> None:
    good = Pack().analyze_stack(_bucket_graph())
    bad = Pack().analyze_stack(_bucket_graph(with_companions=False))
    for name in S3_POLICIES:
        assert of(good, name) == [], name
        assert len(of(bad, name)) == 1, name


def test_bucket_public_access_block_with_a_false_flag_fails() -> None:
    graph = _bucket_graph()
    graph[1].props["restrictPublicBuckets"] = False
    assert len(of(Pack().analyze_stack(graph), "s3-bucket-public-access-block")) == 1


def test_access_logging_exempts_the_log_target_bucket() -> None:
    source, target = Res(T.S3_BUCKET, "data", {}), Res(T.S3_BUCKET, "logs", {})
    logging = Res(T.S3_LOGGING[0], "log", {"bucket": UNKNOWN, "targetBucket": UNKNOWN},
                  prop_deps={"bucket": ["data"], "targetBucket": ["logs"]})
    assert of(Pack().analyze_stack([source, target, logging]), "s3-bucket-access-logging") == []
    assert len(of(Pack().analyze_stack([source, target]), "s3-bucket-access-logging")) == 2


def _sse(graph: list[Res], default: dict[str, str]) -> list[Res]:
    sse = next(r for r in graph if r.type == T.S3_SSE[0])
    sse.props["rules"] = [{"applyServerSideEncryptionByDefault": default}]
    return graph


def test_bucket_encryption_must_use_a_customer_managed_key() -> None:
    for default, phrase in (({"sseAlgorithm": "AES256"}, "SSE-S3"), ({"sseAlgorithm": "aws:kms"}, "no customer")):
        diags = of(Pack().analyze_stack(_sse(_bucket_graph(), default)), "s3-bucket-encrypted-with-cmk")
        assert len(diags) == 1 and phrase in diags[0].message and diags[0].level == "mandatory"
    aws_key = {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": "alias/aws/s3"}
    assert len(of(Pack().analyze_stack(_sse(_bucket_graph(), aws_key)), "s3-bucket-encrypted-with-cmk")) == 1


def test_server_access_log_target_may_use_sse_s3_but_only_it() -> None:
    # AWS delivers server access logs only to SSE-S3 buckets: the log target is exempt, nothing else is.
    graph = _sse(_bucket_graph(), {"sseAlgorithm": "AES256"})
    source = Res(T.S3_BUCKET, "data", {})
    logging = Res(T.S3_LOGGING[0], "log", {"bucket": UNKNOWN, "targetBucket": UNKNOWN},
                  prop_deps={"bucket": ["data"], "targetBucket": ["bucket"]})
    diags = of(Pack().analyze_stack([*graph, source, logging]), "s3-bucket-encrypted-with-cmk")
    assert [d.urn.rsplit("::", 1)[1] for d in diags] == ["data"]  # data has no SSE config; target is exempt
    graph = _sse(_bucket_graph(), {"sseAlgorithm": "aws:kms"})  # a target without a CMK is still wrong
    diags = of(Pack().analyze_stack([*graph, source, logging]), "s3-bucket-encrypted-with-cmk")
    assert sorted(d.urn.rsplit("::", 1)[1] for d in diags) == ["data", "sse"]


def test_sqs_dead_letter_queue_and_tls_policy() -> None:
    dlq = Res(T.SQS_QUEUE, "dlq", {"arn": UNKNOWN})
    queue = Res(T.SQS_QUEUE, "orders", {"redrivePolicy": UNKNOWN}, prop_deps={"redrivePolicy": ["dlq"]})
    assert of(Pack().analyze_stack([dlq, queue]), "sqs-dead-letter-queue") == []
    lonely = of(Pack().analyze_stack([Res(T.SQS_QUEUE, "lonely", {})]), "sqs-dead-letter-queue")
    assert len(lonely) == 1 and "'lonely'" in lonely[0].message
    deny = json.dumps({"Statement": [{"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sqs:*",
                                      "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})
    policy = Res(T.SQS_QUEUE_POLICY, "qp", {"queueUrl": UNKNOWN, "policy": deny}, prop_deps={"queueUrl": ["dlq"]})
    diags = of(Pack().analyze_stack([dlq, queue, policy]), "sqs-ssl-only")
    assert [d.urn.rsplit("::", 1)[1] for d in diags] == ["orders"]


def test_secret_rotation() -> None:
    secret = Res(T.SECRET, "db", {})
    assert len(of(Pack().analyze_stack([secret]), "secret-rotation-enabled")) == 1
    rotation = Res(T.SECRET_ROTATION, "rot", {"secretId": UNKNOWN}, prop_deps={"secretId": ["db"]})
    assert of(Pack().analyze_stack([secret, rotation]), "secret-rotation-enabled") == []
    pack = Pack({"secret-rotation-enabled": {"exemptSecretNames": ["db"]}})
    assert of(pack.analyze_stack([secret]), "secret-rotation-enabled") == []


def test_dynamodb_scaling() -> None:
    table = Res(T.DYNAMODB_TABLE, "t", {"name": "orders"})
    assert len(of(Pack().analyze_stack([table]), "dynamodb-scales-with-demand")) == 1
    table.props["billingMode"] = "PAY_PER_REQUEST"
    assert of(Pack().analyze_stack([table]), "dynamodb-scales-with-demand") == []


def _db_chain(route_to_igw: bool) -> list[Res]:
    return [
        Res(T.INTERNET_GATEWAY, "igw", {"id": UNKNOWN}),
        Res(T.SUBNET, "data-a", {"id": UNKNOWN}),
        Res(T.ROUTE_TABLE, "rt", {"id": UNKNOWN}),
        Res(T.ROUTE, "default", {"routeTableId": UNKNOWN, "destinationCidrBlock": "0.0.0.0/0",
                                 "gatewayId": UNKNOWN if route_to_igw else None},
            prop_deps={"routeTableId": ["rt"], "gatewayId": ["igw"] if route_to_igw else []}),
        Res(T.ROUTE_TABLE_ASSOCIATION, "assoc", {"subnetId": UNKNOWN, "routeTableId": UNKNOWN},
            prop_deps={"subnetId": ["data-a"], "routeTableId": ["rt"]}),
        Res(T.RDS_SUBNET_GROUP, "group", {"subnetIds": [UNKNOWN], "name": UNKNOWN},
            prop_deps={"subnetIds": ["data-a"]}),
        Res(T.RDS_INSTANCE, "db", {"engine": "postgres", "engineVersion": "15.4", "dbSubnetGroupName": UNKNOWN},
            prop_deps={"dbSubnetGroupName": ["group"]}),
    ]


def test_db_in_subnet_routed_to_internet_gateway_fails() -> None:
    diags = of(Pack().analyze_stack(_db_chain(True)), "rds-not-in-public-subnet")
    assert len(diags) == 1 and "'data-a'" in diags[0].message and diags[0].level == "mandatory"
    assert of(Pack().analyze_stack(_db_chain(False)), "rds-not-in-public-subnet") == []


def test_rds_force_ssl_default_parameter_group() -> None:
    graph = _db_chain(False)
    assert of(Pack().analyze_stack(graph), "rds-force-ssl") == []  # PostgreSQL 15 defaults rds.force_ssl=1
    graph[-1].props["engineVersion"] = "14.9"
    assert len(of(Pack().analyze_stack(graph), "rds-force-ssl")) == 1
    group = Res(T.RDS_PARAMETER_GROUP, "pg", {"name": UNKNOWN, "parameters": [{"name": "rds.force_ssl", "value": "0"}]})
    graph[-1].props["parameterGroupName"] = UNKNOWN
    graph[-1].prop_deps["parameterGroupName"] = ["pg"]
    diags = of(Pack().analyze_stack([group, *graph]), "rds-force-ssl")
    assert len(diags) == 1 and "rds.force_ssl=1" in diags[0].message


def test_eip_and_nacl_usage() -> None:
    eip, acl = Res(T.EIP, "eip", {"id": UNKNOWN}), Res(T.NETWORK_ACL, "acl", {"vpcId": UNKNOWN})
    diags = Pack().analyze_stack([eip, acl])
    assert len(of(diags, "eip-in-use")) == 1 and len(of(diags, "nacl-in-use")) == 1
    nat = Res(T.NAT_GATEWAY, "nat", {"allocationId": UNKNOWN}, prop_deps={"allocationId": ["eip"]})
    acl.props["subnetIds"] = [UNKNOWN]
    diags = Pack().analyze_stack([eip, acl, nat])
    assert of(diags, "eip-in-use") == [] and of(diags, "nacl-in-use") == []


def test_waf_logging_destination_name() -> None:
    acl = Res(T.WAF_WEB_ACL, "acl", {"arn": UNKNOWN})
    destinations = ["arn:aws:logs:x:1:log-group:waf"]
    log = Res(T.WAF_LOGGING, "log", {"resourceArn": UNKNOWN, "logDestinationConfigs": destinations},
              prop_deps={"resourceArn": ["acl"]})
    assert "aws-waf-logs-" in of(Pack().analyze_stack([acl, log]), "wafv2-logging")[0].message
    log.props["logDestinationConfigs"] = [UNKNOWN]
    assert of(Pack().analyze_stack([acl, log]), "wafv2-logging") == []
