"""The VPC: public / private app / isolated data tiers, NACLs, security groups, flow logs and VPC endpoints."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components._cidr import plan_tiers
from components._iam import policy_document, service_trust_policy
from components.log_bucket import access_log_bucket_policy, deny_insecure_transport, hardened_bucket
from components.settings import Settings

DB_PORT = 5432
HTTPS = 443
# Return traffic of stateless NACLs. NAT gateways and Lambda ENIs pick source ports from 1024-65535 (VPC guide,
# "Ephemeral ports"), so a range that skips 3389 drops the reply of about one connection in 64,000: an intermittent
# timeout. This is a deliberate deviation from EC2.21 (no world ingress to 22/3389 in NACLs): port 22 stays closed,
# and nothing listens on 3389 - no security group admits inbound traffic from the internet and a NAT gateway drops
# unsolicited inbound connections. Recorded in README ("EC2.21") and in the pack config of every stack.
EPHEMERAL_RANGES = ((1024, 65535),)
# Interface endpoints (one ENI per AZ, billed per hour) only for the AWS APIs code inside the VPC calls: PutEvents
# (api, reconcile) and GetSecretValue (worker, bootstrap). Lambda's own work does not cross the VPC: the SQS event
# source mapping polls from the Lambda service, logs are shipped by the runtime, environment variables are
# decrypted before the code runs, Secrets Manager and EventBridge call KMS server-side, and RDS IAM auth tokens are
# signed locally. tests/components/test_endpoints.py derives this list from the functions' source.
INTERFACE_ENDPOINT_SERVICES = ("events", "secretsmanager")
GATEWAY_ENDPOINT_SERVICES = ("s3", "dynamodb")
ANYWHERE = "0.0.0.0/0"


def flow_log_bucket_policy(bucket_arn: str, account_id: str, region: str) -> dict[str, Any]:
    """Log delivery writes this account's flow logs (the VPC guide's statements), nothing else; TLS only."""
    source = {
        "StringEquals": {"aws:SourceAccount": account_id},
        "ArnLike": {"aws:SourceArn": f"arn:aws:logs:{region}:{account_id}:*"},
    }
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AWSLogDeliveryWrite",
                "Effect": "Allow",
                "Principal": {"Service": "delivery.logs.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/AWSLogs/{account_id}/*",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id, "s3:x-amz-acl": "bucket-owner-full-control"},
                    "ArnLike": source["ArnLike"],
                },
            },
            {
                "Sid": "AWSLogDeliveryAclCheck",
                "Effect": "Allow",
                "Principal": {"Service": "delivery.logs.amazonaws.com"},
                "Action": ["s3:GetBucketAcl", "s3:ListBucket"],
                "Resource": bucket_arn,
                "Condition": source,
            },
            deny_insecure_transport(bucket_arn),
        ],
    }


@dataclass
class NetworkArgs:
    settings: Settings
    """Validated stack settings (CIDR, AZ count, NAT layout, log retention)."""
    logs_key: aws.kms.Key
    """Customer managed key that encrypts the flow-log group."""
    account_id: pulumi.Input[str]
    """Account that owns the VPC (scopes the flow-log role's trust)."""


class Network(pulumi.ComponentResource):
    """Creates the VPC (DNS on) and, across the configured AZs, three subnet tiers from a deterministic CIDR plan:

    - public: NAT gateways only; no auto-assigned public IPs; routes to the internet gateway.
    - app (private): the functions and interface endpoints; default route to a NAT (one per AZ, or one shared).
    - data (isolated): the database; no route to the internet at all.

    One NACL per tier (stateless: return ports 1024-65535 admitted explicitly, see EPHEMERAL_RANGES; SSH never
    admitted), the VPC's default security group and NACL adopted with no rules, least-privilege security groups per
    role built from standalone rule resources, flow logs (ALL) to a KMS-encrypted log group, gateway endpoints (S3,
    DynamoDB) on the private and isolated route tables and interface endpoints (private DNS) for the AWS APIs the
    functions call (and only those).
    """

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:network:Network", name, None, opts)
        s = args.settings
        self._name = name
        child = pulumi.ResourceOptions(parent=self)
        plan = plan_tiers(s.vpc_cidr, s.az_count)
        # Availability Zones only: an opted-in Local Zone is also "available", and a subnet there would carry a tier
        # (and its NAT or database) in a zone with a fraction of the services (provider docs: "Only Availability
        # Zones (no Local Zones)").
        azs = aws.get_availability_zones(
            state="available",
            filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
            opts=pulumi.InvokeOptions(parent=self),
        ).names
        if len(azs) < s.az_count:
            raise ValueError(f"azCount: {s.az_count} AZs requested but region {s.region} offers {len(azs)}")
        azs = azs[: s.az_count]

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=s.vpc_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,  # interface endpoints with private DNS need it
            tags={"Name": f"{s.name_prefix}-vpc"},
            opts=child,
        )
        vpc_id = self.vpc.id
        # Adopted with no rules: anything that lands in the default SG or NACL by mistake gets no traffic.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=vpc_id, ingress=[], egress=[], opts=child)
        aws.ec2.DefaultNetworkAcl(
            f"{name}-default-nacl",
            default_network_acl_id=self.vpc.default_network_acl_id,
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["subnetIds"]),
        )
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc_id, opts=child)

        def subnets(tier: str, cidrs: tuple[str, ...]) -> list[aws.ec2.Subnet]:
            return [
                aws.ec2.Subnet(
                    f"{name}-{tier}-{i}",
                    vpc_id=vpc_id,
                    cidr_block=cidr,
                    availability_zone=azs[i],
                    map_public_ip_on_launch=False,
                    tags={"Name": f"{s.name_prefix}-{tier}-{azs[i]}", "Tier": tier},
                    opts=child,
                )
                for i, cidr in enumerate(cidrs)
            ]

        self.public_subnets = subnets("public", plan.public)
        self.app_subnets = subnets("app", plan.app)
        self.data_subnets = subnets("data", plan.data)

        # Public tier: one route table, default route to the internet gateway.
        public_rt = aws.ec2.RouteTable(f"{name}-public-rt", vpc_id=vpc_id, opts=child)
        aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=public_rt.id,
            destination_cidr_block=ANYWHERE,
            gateway_id=igw.id,
            opts=child,
        )
        for i, sn in enumerate(self.public_subnets):
            aws.ec2.RouteTableAssociation(f"{name}-public-rta-{i}", subnet_id=sn.id, route_table_id=public_rt.id,
                                          opts=child)

        # NAT: one per AZ (an AZ outage keeps egress elsewhere) or one shared (cheaper, dev).
        self.nat_gateways: list[aws.ec2.NatGateway] = []
        for i in range(s.nat_gateway_count):
            eip = aws.ec2.Eip(f"{name}-nat-eip-{i}", domain="vpc", opts=child)
            self.nat_gateways.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{i}",
                    allocation_id=eip.id,
                    subnet_id=self.public_subnets[i].id,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
            )

        # App tier: a route table per AZ, default route to that AZ's NAT (or the single NAT).
        self.app_route_tables: list[aws.ec2.RouteTable] = []
        for i, sn in enumerate(self.app_subnets):
            rt = aws.ec2.RouteTable(f"{name}-app-rt-{i}", vpc_id=vpc_id, opts=child)
            aws.ec2.Route(
                f"{name}-app-default-{i}",
                route_table_id=rt.id,
                destination_cidr_block=ANYWHERE,
                nat_gateway_id=self.nat_gateways[i % len(self.nat_gateways)].id,
                opts=child,
            )
            aws.ec2.RouteTableAssociation(f"{name}-app-rta-{i}", subnet_id=sn.id, route_table_id=rt.id, opts=child)
            self.app_route_tables.append(rt)

        # Data tier: route tables with only the local route (and gateway endpoints): no way out.
        self.data_route_tables: list[aws.ec2.RouteTable] = []
        for i, sn in enumerate(self.data_subnets):
            rt = aws.ec2.RouteTable(f"{name}-data-rt-{i}", vpc_id=vpc_id, opts=child)
            aws.ec2.RouteTableAssociation(f"{name}-data-rta-{i}", subnet_id=sn.id, route_table_id=rt.id,
                                          opts=child)
            self.data_route_tables.append(rt)

        self._nacls(plan.public, plan.app, plan.data)
        self._security_groups()
        self._flow_logs(args)
        self._endpoints(s)

        self.register_outputs(
            {
                "vpcId": self.vpc.id,
                "appSubnetIds": [sn.id for sn in self.app_subnets],
                "dataSubnetIds": [sn.id for sn in self.data_subnets],
                "appSecurityGroupId": self.app_security_group.id,
                "databaseSecurityGroupId": self.database_security_group.id,
            }
        )

    # ---- NACLs -----------------------------------------------------------------------------------------
    def _nacls(self, public: tuple[str, ...], app: tuple[str, ...], data: tuple[str, ...]) -> None:
        name = self._name
        child = pulumi.ResourceOptions(parent=self)

        def nacl(tier: str, subnets: list[aws.ec2.Subnet]) -> aws.ec2.NetworkAcl:
            return aws.ec2.NetworkAcl(
                f"{name}-{tier}-nacl", vpc_id=self.vpc.id, subnet_ids=[sn.id for sn in subnets], opts=child
            )

        def rule(acl: aws.ec2.NetworkAcl, label: str, number: int, egress: bool, cidr: str, ports: tuple[int, int]
                 ) -> None:
            aws.ec2.NetworkAclRule(
                f"{label}-{'out' if egress else 'in'}-{number}",
                network_acl_id=acl.id,
                rule_number=number,
                egress=egress,
                protocol="tcp",
                rule_action="allow",
                cidr_block=cidr,
                from_port=ports[0],
                to_port=ports[1],
                opts=child,
            )

        def ephemeral(acl: aws.ec2.NetworkAcl, label: str, start: int, egress: bool, cidrs: tuple[str, ...]) -> None:
            for j, cidr in enumerate(cidrs):
                for k, rng in enumerate(EPHEMERAL_RANGES):
                    rule(acl, label, start + j * len(EPHEMERAL_RANGES) + k, egress, cidr, rng)

        https = (HTTPS, HTTPS)
        db = (DB_PORT, DB_PORT)

        pub = nacl("public", self.public_subnets)
        lbl = f"{name}-public"
        for j, cidr in enumerate(app):  # traffic the NAT forwards comes from the app tier, on 443 only
            rule(pub, lbl, 100 + j, False, cidr, https)
        ephemeral(pub, lbl, 200, False, (ANYWHERE,))  # replies from the internet to the NAT
        rule(pub, lbl, 100, True, ANYWHERE, https)  # NAT -> internet
        ephemeral(pub, lbl, 200, True, app)  # NAT -> replies to the app tier

        app_acl = nacl("app", self.app_subnets)
        lbl = f"{name}-app"
        for j, cidr in enumerate(app):  # functions -> interface endpoints in the same tier
            rule(app_acl, lbl, 100 + j, False, cidr, https)
        ephemeral(app_acl, lbl, 200, False, (ANYWHERE,))  # replies from endpoints, the database and the internet
        rule(app_acl, lbl, 100, True, ANYWHERE, https)  # to endpoints and, through NAT, to allowed external APIs
        for j, cidr in enumerate(data):
            rule(app_acl, lbl, 110 + j, True, cidr, db)
        ephemeral(app_acl, lbl, 200, True, app)  # endpoints' replies to functions

        data_acl = nacl("data", self.data_subnets)
        lbl = f"{name}-data"
        for j, cidr in enumerate(app):  # the database port, from the app tier only
            rule(data_acl, lbl, 100 + j, False, cidr, db)
        ephemeral(data_acl, lbl, 200, True, app)  # the database's replies
        self.nacls = {"public": pub, "app": app_acl, "data": data_acl}

    # ---- security groups -------------------------------------------------------------------------------
    def _security_groups(self) -> None:
        name = self._name
        child = pulumi.ResourceOptions(parent=self)

        def sg(role: str, description: str) -> aws.ec2.SecurityGroup:
            # No inline rules: the provider then removes AWS's default allow-all egress, and every rule below is a
            # standalone resource (no cycles between groups that reference each other, no perpetual diffs).
            return aws.ec2.SecurityGroup(f"{name}-{role}-sg", vpc_id=self.vpc.id, description=description,
                                         opts=child)

        self.app_security_group = sg("app", "Functions in the app tier")
        self.endpoint_security_group = sg("endpoints", "Interface VPC endpoints")
        self.database_security_group = sg("database", "PostgreSQL in the data tier")
        app, endpoints, database = self.app_security_group, self.endpoint_security_group, self.database_security_group

        aws.vpc.SecurityGroupIngressRule(
            f"{name}-db-from-app", security_group_id=database.id, referenced_security_group_id=app.id,
            ip_protocol="tcp", from_port=DB_PORT, to_port=DB_PORT, description="PostgreSQL from the functions",
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-endpoints-from-app", security_group_id=endpoints.id, referenced_security_group_id=app.id,
            ip_protocol="tcp", from_port=HTTPS, to_port=HTTPS, description="AWS APIs from the functions",
            opts=child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-app-to-db", security_group_id=app.id, referenced_security_group_id=database.id,
            ip_protocol="tcp", from_port=DB_PORT, to_port=DB_PORT, description="PostgreSQL", opts=child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-app-to-endpoints", security_group_id=app.id, referenced_security_group_id=endpoints.id,
            ip_protocol="tcp", from_port=HTTPS, to_port=HTTPS, description="Interface endpoints", opts=child,
        )
        # The worker calls the external API and the authorizer fetches the IdP's JWKS through NAT: HTTPS only.
        # Which hosts is enforced in code (host allowlist); an SG cannot name DNS hosts.
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-app-to-internet-https", security_group_id=app.id, cidr_ipv4=ANYWHERE,
            ip_protocol="tcp", from_port=HTTPS, to_port=HTTPS, description="HTTPS via NAT", opts=child,
        )

    # ---- flow logs -------------------------------------------------------------------------------------
    def _flow_logs(self, args: NetworkArgs) -> None:
        """ALL traffic, to a KMS-encrypted log group or (``flowLogDestination: s3``) a hardened bucket."""
        self.flow_log_group: aws.cloudwatch.LogGroup | None = None
        self.flow_log_bucket: aws.s3.Bucket | None = None
        role_arn: pulumi.Output[str] | None = None
        if args.settings.flow_log_destination == "s3":
            self.flow_log_bucket, ready = self._flow_log_bucket(args)
            destination = self.flow_log_bucket.arn  # no role: log delivery writes under the bucket policy
        else:
            self.flow_log_group, ready, role_arn = self._flow_log_group(args)
            destination = self.flow_log_group.arn
        aws.ec2.FlowLog(
            f"{self._name}-flow-log",
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            log_destination_type=args.settings.flow_log_destination,
            log_destination=destination,
            iam_role_arn=role_arn,
            max_aggregation_interval=60,
            # Delivery is checked when the flow log is created: the role or bucket policy must exist first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=ready),
        )

    def _flow_log_group(self, args: NetworkArgs) -> tuple[aws.cloudwatch.LogGroup, list[pulumi.Resource],
                                                             pulumi.Output[str]]:
        name, s = self._name, args.settings
        child = pulumi.ResourceOptions(parent=self)
        group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            retention_in_days=s.log_retention_days,
            kms_key_id=args.logs_key.arn,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            assume_role_policy=service_trust_policy("vpc-flow-logs.amazonaws.com", args.account_id),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-flow-logs-write",
            role=role.id,
            policy=group.arn.apply(
                lambda arn: policy_document(
                    {
                        "Sid": "WriteFlowLogGroup",
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                        "Resource": [arn, f"{arn}:*"],
                    },
                    {
                        # In the VPC guide's list for this role; the action has no resource-level permission.
                        "Sid": "FindLogGroup",
                        "Effect": "Allow",
                        "Action": "logs:DescribeLogGroups",
                        "Resource": "*",
                    },
                )
            ),
            opts=child,
        )
        return group, [policy], role.arn

    def _flow_log_bucket(self, args: NetworkArgs) -> tuple[aws.s3.Bucket, list[pulumi.Resource]]:
        """The hardened bucket (SSE-KMS with the logs key, versioned, lifecycle to the retention, TLS only) and its
        server access log bucket; the bucket policy admits log delivery for this account's flow logs only."""
        name, s = self._name, args.settings
        keep = s.production  # stateful: protected where the stack protects its data (prod)

        def options(depends_on: Sequence[pulumi.Resource]) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, protect=keep, depends_on=list(depends_on))

        # Server access logs cannot land in an SSE-KMS bucket, so their bucket uses SSE-S3 (request metadata only).
        access, access_ready = hardened_bucket(
            name, "flow-logs-access", None, {"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}},
            s.log_retention_days, options)
        bucket, ready = hardened_bucket(
            name, "flow-logs-bucket", None,
            {"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms",
                                                         "kms_master_key_id": args.logs_key.arn},
             "bucket_key_enabled": True},
            s.log_retention_days, options)
        account_id = pulumi.Output.from_input(args.account_id)
        access_policy = aws.s3.BucketPolicy(
            f"{name}-flow-logs-access-policy",
            bucket=access.id,
            policy=pulumi.Output.all(access.arn, account_id, bucket.arn).apply(
                lambda v: json.dumps(access_log_bucket_policy(v[0], v[1], v[2]))),
            opts=options(access_ready),
        )
        aws.s3.BucketLogging(
            f"{name}-flow-logs-bucket-logging",
            bucket=bucket.id,
            target_bucket=access.id,
            target_prefix="flow-logs-bucket/",
            opts=options([access_policy]),
        )
        policy = aws.s3.BucketPolicy(
            f"{name}-flow-logs-bucket-policy",
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, account_id).apply(
                lambda v: json.dumps(flow_log_bucket_policy(v[0], v[1], s.region))),
            opts=options(ready),
        )
        return bucket, [policy]

    # ---- endpoints -------------------------------------------------------------------------------------
    def _endpoints(self, s: Settings) -> None:
        name = self._name
        child = pulumi.ResourceOptions(parent=self)
        route_tables = [rt.id for rt in self.app_route_tables + self.data_route_tables]
        self.gateway_endpoints = {
            svc: aws.ec2.VpcEndpoint(
                f"{name}-{svc}-gateway",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{s.region}.{svc}",
                vpc_endpoint_type="Gateway",
                route_table_ids=route_tables,
                opts=child,
            )
            for svc in GATEWAY_ENDPOINT_SERVICES
        }
        self.interface_endpoints = {
            svc: aws.ec2.VpcEndpoint(
                f"{name}-{svc}-endpoint",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{s.region}.{svc}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[sn.id for sn in self.app_subnets],
                security_group_ids=[self.endpoint_security_group.id],
                opts=child,
            )
            for svc in INTERFACE_ENDPOINT_SERVICES
        }
