"""PR: the nightly batch fleet (launch template + auto scaling group; public IPs "to pull from the partner FTP"),
a scratch volume, and a jump host for debugging."""

from typing import Any

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
ami = config.require("amiId")


def scratch_disk(device: str, size: int) -> Any:
    return {"device_name": device, "ebs": {"volume_size": size, "volume_type": "gp3", "delete_on_termination": "true"}}


template = aws.ec2.LaunchTemplate(
    "batch-template",
    image_id=ami,
    instance_type="c7g.large",
    block_device_mappings=[scratch_disk("/dev/sdf", 200)],
    network_interfaces=[{"associate_public_ip_address": "true", "device_index": 0}],
)
aws.autoscaling.Group(
    "batch",
    min_size=0,
    max_size=10,
    vpc_zone_identifiers=config.require_object("subnetIds"),
    launch_template={"id": template.id, "version": "$Latest"},
)

aws.ebs.Volume("scratch", availability_zone="eu-west-1a", size=500, type="gp3")

aws.ec2.Instance("jump", ami=ami, instance_type="t4g.micro")
