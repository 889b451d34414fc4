"""PR: "harden" the legacy VPC by adopting its default security group -- keeping SSH from the admin network
because some instances still use the default group."""

import pulumi
import pulumi_aws as aws

config = pulumi.Config()

aws.ec2.DefaultSecurityGroup(
    "legacy-default",
    vpc_id=config.require("legacyVpcId"),
    ingress=[{"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_blocks": [config.require("adminNetwork")],
              "description": "admin SSH"}],
    egress=[],
)
