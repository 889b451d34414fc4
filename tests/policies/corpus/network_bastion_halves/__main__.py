"""PR: on-call SSH to a bastion "from anywhere until the new VPN is up", plus RDP for the Windows jump host
over IPv6."""

import pulumi
import pulumi_aws as aws

config = pulumi.Config()

bastion = aws.ec2.SecurityGroup("bastion", vpc_id=config.require("vpcId"), description="On-call bastion",
                                egress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"]}])

for index, cidr in enumerate(config.require_object("sshSources")):
    aws.vpc.SecurityGroupIngressRule(
        f"bastion-ssh-{index}",
        security_group_id=bastion.id,
        ip_protocol="tcp",
        from_port=22,
        to_port=22,
        cidr_ipv4=cidr,
        description="on-call SSH",
    )

aws.ec2.SecurityGroupRule("bastion-rdp-v6", type="ingress", security_group_id=bastion.id, protocol="tcp",
                          from_port=3389, to_port=3389, ipv6_cidr_blocks=["0::/0"])
