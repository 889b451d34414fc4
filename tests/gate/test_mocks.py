"""Non-preview mocks give the outputs AWS computes in the service's own formats."""

from pulumi.runtime import MockResourceArgs

from gate.mocks import ACCOUNT_ID, GateMocks


def _new(typ: str, name: str, inputs: dict) -> dict:
    _, state = GateMocks("eu-west-1").new_resource(MockResourceArgs(typ, name, inputs, "", "", True))
    return state


def test_log_group_and_iam_arns_use_the_service_formats() -> None:
    group = _new("aws:cloudwatch/logGroup:LogGroup", "waf", {"name": "aws-waf-logs-x"})
    assert group["arn"] == f"arn:aws:logs:eu-west-1:{ACCOUNT_ID}:log-group:aws-waf-logs-x"
    role = _new("aws:iam/role:Role", "r", {"name": "my-role"})
    assert role["arn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/my-role"  # IAM is global: no region


def test_rds_and_sqs_get_the_outputs_programs_feed_onwards() -> None:
    db = _new("aws:rds/instance:Instance", "db", {"port": 5432})
    assert db["endpoint"] == f"{db['address']}:5432"
    assert db["masterUserSecrets"][0]["secretArn"].startswith("arn:aws:secretsmanager:eu-west-1:")
    assert db["resourceId"].startswith("db-")
    queue = _new("aws:sqs/queue:Queue", "q", {})
    assert queue["url"].startswith(f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT_ID}/")


def test_outputs_every_create_returns_come_from_the_sdk_class() -> None:
    # EventRule declares `name` as an output that is always set: autonamed, it is the physical id, and a
    # target built from `rule.name` gets it (it resolved to None before, dropping the target's `rule`).
    resource_id, state = GateMocks("eu-west-1").new_resource(
        MockResourceArgs("aws:cloudwatch/eventRule:EventRule", "orders", {"eventBusName": "bus"}, "", "", True))
    assert state["name"] == resource_id and resource_id.startswith("orders-")
    assert state["arn"] == f"arn:aws:events:eu-west-1:{ACCOUNT_ID}:rule/{resource_id}"
    assert state["eventBusName"] == "bus"  # inputs stay as given
    fn = _new("aws:lambda/function:Function", "api", {"name": "api-fn", "runtime": "python3.12"})
    assert fn["name"] == "api-fn" and fn["qualifiedArn"].startswith("arn:aws:lambda:eu-west-1:")
    assert "vpcConfig" not in fn  # optional outputs are not invented


def test_a_resource_named_by_the_provider_gets_its_name() -> None:
    # A DB placed with `db_subnet_group_name=group.name` must not lose the input when the name is autonamed,
    # nor a recorder status `name=recorder.name` when the recorder takes the provider's default name.
    group = _new("aws:rds/subnetGroup:SubnetGroup", "db-subnets", {"subnetIds": ["subnet-1"]})
    assert isinstance(group["name"], str) and group["name"]
    named = _new("aws:rds/subnetGroup:SubnetGroup", "db-subnets", {"name": "chosen"})
    assert named["name"] == "chosen"
    recorder = _new("aws:cfg/recorder:Recorder", "account", {"roleArn": "arn:aws:iam::1:role/r"})
    assert isinstance(recorder["name"], str) and recorder["name"]
    db = _new("aws:rds/instance:Instance", "db", {"port": 5432})  # the type's own outputs still come
    assert db["name"] and db["endpoint"].endswith(":5432")


def test_layer_versions_get_their_version_number() -> None:
    layer = _new("aws:lambda/layerVersion:LayerVersion", "sdk", {"layerName": "render-sdk"})
    assert int(layer["version"]) == 1 and layer["layerArn"].endswith(":layer:render-sdk")


def test_http_apis_get_their_execution_arn() -> None:
    # A Lambda permission's source_arn is built from it; a missing one would read "None/*/*".
    api = _new("aws:apigatewayv2/api:Api", "api", {"protocolType": "HTTP"})
    assert api["executionArn"].startswith(f"arn:aws:execute-api:eu-west-1:{ACCOUNT_ID}:api-")
