"""What the mocked cloud answers: invoke results and, outside preview, realistic ids and ARNs.

In preview nothing here is consulted for resources: the monitor echoes the inputs and leaves every
computed output unknown, as the engine does for a resource that does not exist yet.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs, Mocks

ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"


class GateMocks(Mocks):
    """Deterministic answers for the AWS functions programs commonly call, keyed by invoke token."""

    def __init__(self, region: str) -> None:
        self.region = region or DEFAULT_REGION
        self.unmocked_invokes: list[str] = []

    def call(self, args: MockCallArgs) -> tuple[dict, Any]:
        handler = _INVOKES.get(args.token)
        if handler is None:
            # An empty result rather than a crash: the program may not need it, and the gate reports
            # the token so a missing mock is visible rather than silent.
            self.unmocked_invokes.append(args.token)
            return {}, []
        return handler(self, dict(args.args or {})), []

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict]:
        resource_id = args.resource_id or mock_id(args.typ, args.name)
        state = dict(args.inputs)
        state.setdefault("arn", _service_arn(args.typ, resource_id, self.region, state)
                         or mock_arn(args.typ, resource_id, self.region))
        for key, value in computed_outputs(args.typ, resource_id, self.region, state).items():
            state.setdefault(key, value)
        return resource_id, state

    # --- invoke handlers -------------------------------------------------------------------------
    def _caller_identity(self, _args: dict) -> dict:
        return {
            "accountId": ACCOUNT_ID,
            "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/gate",
            "id": ACCOUNT_ID,
            "userId": "AIDAGATEMOCKUSER",
        }

    def _region(self, args: dict) -> dict:
        region = args.get("region") or args.get("name") or self.region
        return {
            "name": region,
            "region": region,
            "id": region,
            "endpoint": f"ec2.{region}.amazonaws.com",
            "description": region,
        }

    def _availability_zones(self, args: dict) -> dict:
        region = args.get("region") or self.region
        letters = "abcdef"
        return {
            "id": region,
            "region": region,
            "names": [f"{region}{c}" for c in letters],
            "zoneIds": [f"{region[:3]}{region.split('-')[-1]}-az{i + 1}" for i in range(len(letters))],
            "groupNames": [region],
            "state": args.get("state"),
        }

    def _partition(self, _args: dict) -> dict:
        return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws", "reverseDnsPrefix": "com.amazonaws"}

    def _policy_document(self, args: dict) -> dict:
        document = render_policy_document(args)
        text = json.dumps(document, indent=2)
        return {"id": _short_hash(text), "json": text, "minifiedJson": json.dumps(document, separators=(",", ":"))}


_INVOKES = {
    "aws:index/getCallerIdentity:getCallerIdentity": GateMocks._caller_identity,
    "aws:index/getRegion:getRegion": GateMocks._region,
    "aws:index/getAvailabilityZones:getAvailabilityZones": GateMocks._availability_zones,
    "aws:index/getPartition:getPartition": GateMocks._partition,
    "aws:iam/getPolicyDocument:getPolicyDocument": GateMocks._policy_document,
}


def render_policy_document(args: dict) -> dict:
    """The IAM JSON that aws.iam.get_policy_document builds locally from its statements."""
    statements = []
    for raw in args.get("statements") or []:
        stmt: dict[str, Any] = {}
        if raw.get("sid"):
            stmt["Sid"] = raw["sid"]
        stmt["Effect"] = raw.get("effect") or "Allow"
        for src, dst in (("actions", "Action"), ("notActions", "NotAction"),
                         ("resources", "Resource"), ("notResources", "NotResource")):
            if raw.get(src):
                values = sorted(raw[src])
                stmt[dst] = values[0] if len(values) == 1 else values
        for src, dst in (("principals", "Principal"), ("notPrincipals", "NotPrincipal")):
            if raw.get(src):
                principal: dict[str, Any] = {}
                for p in raw[src]:
                    ids = sorted(p.get("identifiers") or [])
                    principal[p["type"]] = ids[0] if len(ids) == 1 else ids
                stmt[dst] = "*" if principal == {"*": "*"} else principal
        if raw.get("conditions"):
            condition: dict[str, dict[str, Any]] = {}
            for c in raw["conditions"]:
                values = c.get("values") or []
                condition.setdefault(c["test"], {})[c["variable"]] = values[0] if len(values) == 1 else values
            stmt["Condition"] = condition
        statements.append(stmt)
    document: dict[str, Any] = {"Version": args.get("version") or "2012-10-17"}
    if args.get("policyId"):
        document["Id"] = args["policyId"]
    document["Statement"] = statements
    return document


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


def _service_arn(type_: str, resource_id: str, region: str, inputs: dict) -> str | None:
    """ARNs in the service's own format where policies read them (log group names, global IAM)."""
    name = inputs.get("name") if isinstance(inputs.get("name"), str) else resource_id
    if type_ == "aws:cloudwatch/logGroup:LogGroup":
        return f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:{name}"
    if type_ == "aws:iam/role:Role":
        return f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"
    if type_ == "aws:iam/policy:Policy":
        return f"arn:aws:iam::{ACCOUNT_ID}:policy/{name}"
    return None


def mock_id(type_: str, name: str) -> str:
    """A stable, realistic-looking physical id: the logical name plus a short hash, like autonaming."""
    return f"{name}-{_short_hash(type_ + name)[:7]}"


def mock_arn(type_: str, resource_id: str, region: str) -> str:
    service = type_.split(":")[1].split("/", maxsplit=1)[0] if type_.count(":") >= 2 else "mock"
    kind = type_.rsplit(":", 1)[-1].lower()
    return f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{kind}/{resource_id}"


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
