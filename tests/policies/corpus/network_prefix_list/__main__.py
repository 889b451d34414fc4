"""PR: partners reach the reporting replica's port through a managed prefix list kept in config."""

import pulumi
import pulumi_aws as aws

config = pulumi.Config()


def partner_prefix_list(name: str, networks: list[str]) -> aws.ec2.ManagedPrefixList:
    return aws.ec2.ManagedPrefixList(
        name, address_family="IPv4", max_entries=max(len(networks), 5),
        entries=[{"cidr": cidr, "description": f"partner {i}"} for i, cidr in enumerate(networks)])


partners = partner_prefix_list("partners", config.require_object("partnerNetworks"))
replica = aws.ec2.SecurityGroup("reporting-replica", vpc_id=config.require("vpcId"),
                                description="Reporting replica (partners)")
aws.vpc.SecurityGroupIngressRule("reporting-replica-partners", security_group_id=replica.id, ip_protocol="tcp",
                                 from_port=5432, to_port=5432, prefix_list_id=partners.id)
