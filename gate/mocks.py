"""What the mocked cloud answers: invoke results and, outside preview, realistic ids and ARNs.

In preview nothing here is consulted for resources: the monitor echoes the inputs and leaves every
computed output unknown, as the engine does for a resource that does not exist yet.
"""

from __future__ import annotations

from typing import Any

from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs, Mocks

from gate import aws_formats
from gate.aws_formats import ACCOUNT_ID
from gate.invokes import InvokeFixtures, InvokeResponder, created_outputs

DEFAULT_REGION = "us-east-1"
__all__ = ["ACCOUNT_ID", "DEFAULT_REGION", "GateMocks", "computed_outputs", "mock_arn", "mock_id"]


class GateMocks(Mocks):
    """Invokes go to `gate.invokes`; outside preview, new resources get realistic ids and outputs."""

    def __init__(self, region: str, invoke_fixtures: InvokeFixtures | None = None) -> None:
        self.region = region or DEFAULT_REGION
        self.invokes = InvokeResponder(self.region, invoke_fixtures)

    def call(self, args: MockCallArgs) -> tuple[dict, Any]:
        return self.invokes.answer(args.token, dict(args.args or {}))

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict]:
        resource_id = args.resource_id or mock_id(args.typ, args.name)
        state = dict(args.inputs)
        name = str(state["name"]) if isinstance(state.get("name"), str) else resource_id
        state.setdefault("arn", aws_formats.arn_for_type(args.typ, self.region, resource_id=resource_id, name=name))
        for key, value in computed_outputs(args.typ, resource_id, self.region, state).items():
            state.setdefault(key, value)
        for key, value in created_outputs(args.typ, resource_id, self.region, state).items():
            state.setdefault(key, value)
        return resource_id, state


def computed_outputs(type_: str, resource_id: str, region: str, inputs: dict) -> dict:
    """Outputs AWS computes that programs commonly feed into other resources (non-preview renders only).

    A missing output resolves to None downstream, which silently drops the input it feeds; these keep the
    graph of a non-preview render as complete as a real update's.
    """
    arn = inputs.get("arn") or mock_arn(type_, resource_id, region)
    if "name" not in inputs and "namePrefix" not in inputs:
        # The provider names it (autonaming, or a default such as the Config recorder's "default"); without a
        # value, `x.name` fed to another resource (a DB's subnet group, a recorder status) would vanish.
        return {"name": resource_id, **computed_outputs(type_, resource_id, region, {**inputs, "name": resource_id})}
    if type_ == "aws:rds/instance:Instance":
        address = f"{resource_id}.c0ffee.{region}.rds.amazonaws.com"
        return {
            "address": address,
            "endpoint": f"{address}:{inputs.get('port', 5432)}",
            "resourceId": "db-" + _short_hash(resource_id).upper(),
            "masterUserSecrets": [{"secretArn": f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:rds!"
                                                f"{resource_id}", "secretStatus": "active"}],
        }
    if type_ == "aws:sqs/queue:Queue":
        return {"url": f"https://sqs.{region}.amazonaws.com/{ACCOUNT_ID}/{resource_id}"}
    if type_ == "aws:apigateway/restApi:RestApi":
        return {"rootResourceId": _short_hash(resource_id)[:10],
                "executionArn": f"arn:aws:execute-api:{region}:{ACCOUNT_ID}:{resource_id}"}
    if type_ == "aws:apigatewayv2/api:Api":
        return {"executionArn": f"arn:aws:execute-api:{region}:{ACCOUNT_ID}:{resource_id}",
                "apiEndpoint": f"https://{resource_id}.execute-api.{region}.amazonaws.com"}
    if type_ == "aws:apigateway/stage:Stage":
        return {"invokeUrl": f"https://{resource_id}.execute-api.{region}.amazonaws.com/{inputs.get('stageName')}"}
    if type_ == "aws:lambda/function:Function":
        return {"invokeArn": f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations"}
    if type_ == "aws:lambda/layerVersion:LayerVersion":
        layer_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:layer:{inputs.get('layerName') or resource_id}"
        return {"version": "1", "layerArn": layer_arn}
    if type_ == "aws:kms/key:Key":
        return {"keyId": resource_id}
    if type_ == "aws:ec2/vpc:Vpc":
        return {"defaultNetworkAclId": "acl-" + _short_hash(resource_id)[:8],
                "defaultSecurityGroupId": "sg-" + _short_hash(resource_id)[:8]}
    return {}


def mock_id(type_: str, name: str) -> str:
    """A stable, realistic physical id: `vpc-0…` for EC2 kinds, else the logical name plus a short hash
    (like autonaming)."""
    return aws_formats.physical_id(aws_formats.token_parts(type_)[2], type_ + name, name)


def mock_arn(type_: str, resource_id: str, region: str) -> str:
    return aws_formats.arn_for_type(type_, region, resource_id=resource_id)


def _short_hash(text: str) -> str:
    return aws_formats.short_hash(text)
