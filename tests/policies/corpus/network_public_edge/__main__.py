"""PR: the public load balancer tier.  HTTPS from the world over IPv4 and IPv6 (written as 0::/0), admin SSH
only through a prefix list of private networks, egress only HTTPS; a NACL that denies SSH/RDP from the world
before it allows HTTPS, and admits return traffic only from inside the VPC."""

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
vpc_id = config.require("vpcId")

admins = aws.ec2.ManagedPrefixList("admins", address_family="IPv4", max_entries=10,
                                   entries=[{"cidr": c} for c in config.require_object("adminNetworks")])

lb = aws.ec2.SecurityGroup(
    "public-lb",
    vpc_id=vpc_id,
    description="Public load balancer",
    ingress=[{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["0.0.0.0/0"],
              "ipv6_cidr_blocks": ["0::/0"]}],
    egress=[{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": [config.require("vpcCidr")]}],
)
aws.vpc.SecurityGroupIngressRule("public-lb-admin-ssh", security_group_id=lb.id, ip_protocol="tcp", from_port=22,
                                 to_port=22, prefix_list_id=admins.id)

rules = [
    # (number, action, port range, source)
    (50, "deny", (22, 22), "0.0.0.0/0"),
    (60, "deny", (3389, 3389), "0.0.0.0/0"),
    (100, "allow", (443, 443), "0.0.0.0/0"),
    (200, "allow", (1024, 65535), config.require("vpcCidr")),
]
aws.ec2.NetworkAcl(
    "public",
    vpc_id=vpc_id,
    subnet_ids=config.require_object("publicSubnetIds"),
    ingress=[{"rule_no": n, "action": action, "protocol": "tcp", "from_port": lo, "to_port": hi, "cidr_block": src}
             for n, action, (lo, hi), src in rules],
    egress=[{"rule_no": 100, "action": "allow", "protocol": "tcp", "from_port": 0, "to_port": 65535,
             "cidr_block": "0.0.0.0/0"}],
)
