"""Identifiers in the formats AWS gives them: physical ids and ARNs of the mocked account.

Used for what the gate has to invent — resource outputs outside preview and data-source results — so
a policy or a program that parses an id or an ARN sees the service's own shape (`vpc-0…`,
`arn:aws:iam::123456789012:role/name`, `arn:aws:logs:…:log-group:name`).  The formats are facts
about AWS, written down here because no SDK carries them (EC2 resource-id prefixes from the EC2 user
guide "Resource IDs"; ARN formats from the Service Authorization Reference "Resource types").  A
kind with no entry gets the generic `arn:aws:<service>:<region>:<account>:<kind>/<id>`, which is what
most services use.
"""

from __future__ import annotations

import hashlib
import re

ACCOUNT_ID = "123456789012"

# EC2 (and VPC) resource kinds -> id prefix.  Kinds are Pulumi type names (or the names a data source
# is called after); a longer kind matches by suffix ("MainRouteTable" -> RouteTable).
EC2_ID_PREFIXES = {
    "Vpc": "vpc-", "Subnet": "subnet-", "SecurityGroup": "sg-", "SecurityGroupRule": "sgr-",
    "VpcSecurityGroupIngressRule": "sgr-", "VpcSecurityGroupEgressRule": "sgr-",
    "InternetGateway": "igw-", "EgressOnlyInternetGateway": "eigw-", "NatGateway": "nat-",
    "RouteTable": "rtb-", "NetworkAcl": "acl-", "VpcEndpoint": "vpce-", "NetworkInterface": "eni-",
    "Eip": "eipalloc-", "Instance": "i-", "Ami": "ami-", "Image": "ami-", "Volume": "vol-",
    "EbsVolume": "vol-", "Snapshot": "snap-", "EbsSnapshot": "snap-", "LaunchTemplate": "lt-",
    "KeyPair": "key-", "ManagedPrefixList": "pl-", "PrefixList": "pl-", "TransitGateway": "tgw-",
    "VpcAttachment": "tgw-attach-", "VpcPeeringConnection": "pcx-", "VpcDhcpOptions": "dopt-",
    "DhcpOptions": "dopt-", "FlowLog": "fl-", "VpnGateway": "vgw-", "CustomerGateway": "cgw-",
    "VpnConnection": "vpn-", "VpcIpamPool": "ipam-pool-", "PlacementGroup": "pg-",
}

# Pulumi module -> ARN service namespace where they differ (None: decided by kind below).
_SERVICES = {"lb": "elasticloadbalancing", "alb": "elasticloadbalancing", "elb": "elasticloadbalancing",
             "efs": "elasticfilesystem", "sfn": "states", "cognito": "cognito-idp", "opensearch": "es",
             "ec2transitgateway": "ec2", "vpc": "ec2", "ebs": "ec2", "lambda_": "lambda",
             "cloudwatch": None, "index": None}
_CLOUDWATCH_KINDS = {"LogGroup": "logs", "LogStream": "logs", "LogMetricFilter": "logs",
                     "LogSubscriptionFilter": "logs", "LogDataProtectionPolicy": "logs",
                     "EventRule": "events", "EventBus": "events", "EventTarget": "events",
                     "EventArchive": "events", "EventConnection": "events", "EventApiDestination": "events"}
_GLOBAL_SERVICES = {"iam", "route53", "cloudfront", "organizations", "waf", "s3"}

# (service, kind) -> ARN resource part; {name} is the resource's name, {id} its physical id.
_ARN_RESOURCES = {
    ("logs", "LogGroup"): "log-group:{name}",
    ("events", "EventRule"): "rule/{name}", ("events", "EventBus"): "event-bus/{name}",
    ("sns", "Topic"): "{name}", ("sqs", "Queue"): "{name}",
    ("lambda", "Function"): "function:{name}", ("lambda", "LayerVersion"): "layer:{name}:1",
    ("lambda", "Alias"): "function:{name}",
    ("kms", "Key"): "key/{id}", ("kms", "Alias"): "alias/{name}",
    ("secretsmanager", "Secret"): "secret:{name}-AbCdEf",
    ("ssm", "Parameter"): "parameter/{name}",
    ("dynamodb", "Table"): "table/{name}", ("ecr", "Repository"): "repository/{name}",
    ("rds", "Instance"): "db:{id}", ("rds", "Cluster"): "cluster:{id}", ("rds", "SubnetGroup"): "subgrp:{name}",
    ("rds", "ParameterGroup"): "pg:{name}", ("rds", "ClusterParameterGroup"): "cluster-pg:{name}",
    ("rds", "Snapshot"): "snapshot:{id}",
    ("cloudtrail", "Trail"): "trail/{name}", ("acm", "Certificate"): "certificate/{id}",
    ("elasticloadbalancing", "LoadBalancer"): "loadbalancer/app/{name}/{id}",
    ("elasticloadbalancing", "TargetGroup"): "targetgroup/{name}/{id}",
    ("states", "StateMachine"): "stateMachine:{name}",
    ("ecs", "Cluster"): "cluster/{name}", ("ecs", "Service"): "service/{name}",
    ("eks", "Cluster"): "cluster/{name}", ("elasticfilesystem", "FileSystem"): "file-system/{id}",
    ("cognito-idp", "UserPool"): "userpool/{id}", ("es", "Domain"): "domain/{name}",
    ("wafv2", "WebAcl"): "regional/webacl/{name}/{id}", ("wafv2", "IpSet"): "regional/ipset/{name}/{id}",
}


def short_hash(text: str, length: int = 16) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def token_parts(token: str) -> tuple[str, str, str]:
    """`aws:ec2/securityGroup:SecurityGroup` -> ("aws", "ec2", "SecurityGroup"); a function token
    `aws:ec2/getSubnets:getSubnets` -> ("aws", "ec2", "Subnets")."""
    package, _, rest = token.partition(":")
    module_path, _, member = rest.rpartition(":")
    module = module_path.split("/", 1)[0] or "index"
    kind = member[3:] if member.startswith("get") and member[3:4].isupper() else member
    return package, module, kind[:1].upper() + kind[1:]


def singular(kind: str) -> str:
    if kind.endswith("ies"):
        return kind[:-3] + "y"
    if kind.endswith(("sses", "xes")):
        return kind[:-2]
    if kind.endswith("s") and not kind.endswith("ss"):
        return kind[:-1]
    return kind


def kebab(kind: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", kind).lower()


def service_of(module: str, kind: str) -> str:
    if module in _SERVICES:
        mapped = _SERVICES[module]
        if mapped is not None:
            return mapped
        if module == "cloudwatch":
            return _CLOUDWATCH_KINDS.get(kind, "cloudwatch")
        return "aws"
    return module


def ec2_prefix(kind: str) -> str | None:
    if kind in EC2_ID_PREFIXES:
        return EC2_ID_PREFIXES[kind]
    matches = [k for k in EC2_ID_PREFIXES if kind.endswith(k)]
    return EC2_ID_PREFIXES[max(matches, key=len)] if matches else None


def physical_id(kind: str, seed: str, name: str = "") -> str:
    """An id as the service would assign it: `vpc-0abc…` for EC2 kinds, else the (auto)name."""
    prefix = ec2_prefix(kind)
    if prefix is not None:
        return prefix + "0" + short_hash(seed, 16)
    return f"{name}-{short_hash(seed, 7)}" if name else f"{kebab(kind)}-{short_hash(seed, 7)}"


def arn(module: str, kind: str, region: str, *, resource_id: str, name: str = "") -> str:
    service = service_of(module, kind)
    name = name or resource_id
    part = _ARN_RESOURCES.get((service, kind))
    if service == "iam":
        return f"arn:aws:iam::{ACCOUNT_ID}:{kebab(kind)}/{name}"
    if service == "s3":
        return f"arn:aws:s3:::{name}"
    if service == "route53":
        return f"arn:aws:route53:::{'hostedzone' if kind == 'Zone' else kebab(kind)}/{resource_id}"
    if service == "apigateway":  # paths of the REST API itself: /restapis/<id>, /apikeys/<id> ...
        return f"arn:aws:apigateway:{region}::/{kind.lower()}s/{resource_id}"
    part = f"{kebab(kind)}/{resource_id}" if part is None else part.format(name=name, id=resource_id)
    account = "" if service in _GLOBAL_SERVICES else ACCOUNT_ID
    return f"arn:aws:{service}:{'' if service in _GLOBAL_SERVICES else region}:{account}:{part}"


def arn_for_type(type_token: str, region: str, *, resource_id: str, name: str = "") -> str:
    _, module, kind = token_parts(type_token)
    return arn(module, kind, region, resource_id=resource_id, name=name)
