"""EC2 instances and what launches them (spot requests, launch templates, launch configurations), and EBS:
instance metadata v2, public addresses, encrypted volumes and snapshots, public images and snapshots."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from . import _tokens as T
from ._meta import boolean, resource_policy, stack_policy
from ._model import Resource, Stack
from ._values import UNKNOWN, as_bool, is_set

Finding = tuple[str, str | None]
INSTANCES = (T.EC2_INSTANCE, T.EC2_SPOT_INSTANCE_REQUEST)
LAUNCHERS = (*INSTANCES, T.EC2_LAUNCH_TEMPLATE, T.EC2_LAUNCH_CONFIGURATION)


def _requires_tokens(holder: Resource, prefix: str = "metadataOptions.") -> bool | None:
    """True: IMDSv2 only (or no IMDS); False: IMDSv1 allowed; None: not said (a default decides)."""
    tokens, endpoint = holder.get(prefix + "httpTokens"), holder.get(prefix + "httpEndpoint")
    if tokens in ("required", UNKNOWN) or endpoint in ("disabled", UNKNOWN):
        return True
    return None if tokens is None else False


@stack_policy(
    name="ec2-imdsv2-required",
    description="EC2 instances, spot requests, launch templates and launch configurations must require IMDSv2.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("EC2.8", "EC2.170", "Autoscaling.3", "CIS3 5.6", "CKV_AWS_79", "CKV_AWS_341"),
    remediation="Set `metadata_options={'http_tokens': 'required'}` (or `http_endpoint='disabled'`), or have the "
    "stack set `aws.ec2.InstanceMetadataDefaults(http_tokens='required')` for the account and region.",
    preview_note="Without metadata options the AMI decides (IMDSv1 allowed unless it says v2.0); an instance "
    "launched from a launch template of the stack takes the template's options.",
)
def ec2_imdsv2_required(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    account_requires = any(_requires_tokens(d, "") for d in stack.of_type(T.EC2_INSTANCE_METADATA_DEFAULTS))
    templates = stack.of_type(T.EC2_LAUNCH_TEMPLATE)
    for r in stack.of_type(*LAUNCHERS):
        required = _requires_tokens(r)
        if required:
            continue
        if required is None:
            if account_requires:
                continue
            used = [t for t in templates if r.type in INSTANCES and stack.refers_to(r, "launchTemplate", t, [])]
            if used and all(_requires_tokens(t) for t in used):
                continue
        said = "allows IMDSv1 (httpTokens optional)" if required is False else "does not require IMDSv2"
        yield (f"The {r.label} {said}: any SSRF in the workload can read the instance role's credentials; set "
               "metadataOptions.httpTokens to required.", r.urn)


def _public_ip_reason(stack: Stack, r: Resource) -> str | None:
    associate = r.get("associatePublicIpAddress")
    if as_bool(associate) is True:
        return "sets associatePublicIpAddress=true"
    if associate is not None:  # false or unknown
        return None
    if is_set(r.get("networkInterfaces")) or is_set(r.get("launchTemplate")):
        return None  # the interfaces / template decide
    if not is_set(r.get("subnetId")):
        return "has no subnetId, so it lands in a default VPC subnet, which gives instances public IPs"
    for subnet in stack.targets_of(r, "subnetId", [T.SUBNET], ["id"]):
        if as_bool(subnet.get("mapPublicIpOnLaunch")) is True:
            return f"is in subnet {subnet.label}, which maps public IPs on launch"
    return None


@stack_policy(
    name="ec2-no-public-ip",
    description="EC2 instances, launch templates and launch configurations must not give instances public IPs.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("EC2.9", "EC2.25", "Autoscaling.5", "CKV_AWS_88"),
    remediation="Place instances in private subnets with `associate_public_ip_address=False` (launch templates: "
    "`network_interfaces[].associate_public_ip_address='false'`); reach them through a load balancer, SSM "
    "Session Manager or a VPN; attach no Elastic IP.",
)
def ec2_no_public_ip(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    for r in stack.of_type(*INSTANCES, T.EC2_LAUNCH_CONFIGURATION):
        reason = _public_ip_reason(stack, r) if r.type in INSTANCES else (
            "sets associatePublicIpAddress=true" if as_bool(r.get("associatePublicIpAddress")) is True else None)
        if reason:
            yield f"The {r.label} {reason}.", r.urn
    for template in stack.of_type(T.EC2_LAUNCH_TEMPLATE):
        interfaces = template.get("networkInterfaces")
        for index, nic in enumerate(interfaces if isinstance(interfaces, list) else []):
            if isinstance(nic, dict) and as_bool(nic.get("associatePublicIpAddress")) is True:
                yield (f"The launch template {template.label} gives instances a public IP "
                       f"(networkInterfaces[{index}].associatePublicIpAddress).", template.urn)
    for instance in stack.of_type(*INSTANCES):
        eips = stack.referrers(instance, [T.EIP], "instance", ["id"])
        eips += stack.referrers(instance, [T.EIP_ASSOCIATION], "instanceId", ["id"])
        for eip in eips:
            yield f"The Elastic IP {eip.label} gives the {instance.label} a public address.", eip.urn


def _volume_forms(r: Resource) -> Iterator[tuple[str, Any, Any]]:
    """(where, encrypted, kms key) of every EBS volume or snapshot a resource creates or describes."""
    if r.type in (T.EBS_VOLUME, T.EBS_SNAPSHOT_COPY, T.EBS_SNAPSHOT_IMPORT, T.EC2_AMI_COPY):
        yield "", r.get("encrypted"), r.get("kmsKeyId")
    elif r.type in (*INSTANCES, T.EC2_LAUNCH_CONFIGURATION, T.EC2_AMI):
        root = r.get("rootBlockDevice")
        if isinstance(root, dict):
            yield " rootBlockDevice", root.get("encrypted"), root.get("kmsKeyId")
        devices = r.get("ebsBlockDevices")
        for index, device in enumerate(devices if isinstance(devices, list) else []):
            if isinstance(device, dict) and not (r.type != T.EC2_AMI and is_set(device.get("snapshotId"))):
                yield f" ebsBlockDevices[{index}]", device.get("encrypted"), device.get("kmsKeyId")
    elif r.type == T.EC2_LAUNCH_TEMPLATE:
        mappings = r.get("blockDeviceMappings")
        for index, mapping in enumerate(mappings if isinstance(mappings, list) else []):
            ebs = mapping.get("ebs") if isinstance(mapping, dict) else None
            if isinstance(ebs, dict) and not is_set(ebs.get("snapshotId")):
                yield f" blockDeviceMappings[{index}]", ebs.get("encrypted"), ebs.get("kmsKeyId")


def _aws_managed(key: Any) -> bool:
    return isinstance(key, str) and "alias/aws/" in key


@stack_policy(
    name="ebs-encrypted",
    description="EBS volumes, snapshot copies and imports, AMIs and the block devices of instances, launch "
    "templates and launch configurations must be encrypted, with a customer managed KMS key.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("EC2.3", "EC2.7", "CIS3 2.2.1", "CKV_AWS_3", "CKV_AWS_8", "CKV_AWS_189", "CKV_AWS_183",
              "CKV_AWS_235", "CKV_AWS_236"),
    remediation="Set `encrypted=True` and `kms_key_id` (the platform's data key) on each volume, snapshot copy or "
    "block device; or have the stack turn on `aws.ebs.EncryptionByDefault` with an `aws.ebs.DefaultKmsKey` "
    "that is a customer managed key.",
    config={"requireCustomerManagedKey": boolean(
        "Require a customer managed key (not aws/ebs) for encrypted volumes.", True)},
    preview_note="A volume restored from a snapshot (snapshot_id) keeps the snapshot's encryption, and an "
    "instance's root volume without root_block_device the AMI's: neither is decided here.",
)
def ebs_encrypted(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    by_default = any(as_bool(e.get("enabled")) is not False for e in stack.of_type(T.EBS_DEFAULT_ENCRYPTION))
    default_keys = [k.get("keyArn") for k in stack.of_type(T.EBS_DEFAULT_KMS_KEY)]
    default_is_cmk = any(is_set(k) and not _aws_managed(k) for k in default_keys)
    types = (T.EBS_VOLUME, T.EBS_SNAPSHOT_COPY, T.EBS_SNAPSHOT_IMPORT, T.EC2_AMI_COPY, *LAUNCHERS, T.EC2_AMI)
    for r in stack.of_type(*types):
        if r.type == T.EBS_VOLUME and is_set(r.get("snapshotId")):
            continue
        for where, encrypted, key in _volume_forms(r):
            if encrypted is UNKNOWN or key is UNKNOWN:
                continue
            if as_bool(encrypted) is not True and not is_set(key):
                if not by_default:
                    yield (f"The {r.label}{where} is not encrypted (encrypted is "
                           f"{'absent' if encrypted is None else encrypted}).", r.urn)
                    continue
                if default_is_cmk or not cfg["requireCustomerManagedKey"]:
                    continue
                yield (f"The {r.label}{where} relies on EBS encryption by default with the AWS managed key; "
                       "give the stack a DefaultKmsKey or the volume a customer managed kms key.", r.urn)
            elif cfg["requireCustomerManagedKey"] and (not is_set(key) or _aws_managed(key)) and not default_is_cmk:
                yield f"The {r.label}{where} is encrypted with the AWS managed key aws/ebs, not a customer key.", r.urn


@resource_policy(
    name="ec2-image-and-snapshot-not-public",
    description="AMIs and EBS snapshots must not be shared with everyone, and snapshot block public access "
    "must not be turned off.",
    severity=Severity.CRITICAL,
    category="exposure",
    controls=("EC2.1", "EC2.182", "CKV_AWS_205"),
    remediation="Share AMIs with named accounts, an organization or an OU (not `group='all'`), snapshots with "
    "named account ids; keep `aws.ebs.SnapshotBlockPublicAccess` at `block-all-sharing`.",
    resource_types=(T.EC2_AMI_LAUNCH_PERMISSION, T.SNAPSHOT_CREATE_VOLUME_PERMISSION,
                    T.EBS_SNAPSHOT_BLOCK_PUBLIC_ACCESS),
)
def ec2_image_and_snapshot_not_public(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if r.type == T.EC2_AMI_LAUNCH_PERMISSION and str(r.get("group") or "").lower() == "all":
        yield f"The {r.label} makes the AMI public (group 'all'): anyone can launch it and read its volumes."
    elif r.type == T.SNAPSHOT_CREATE_VOLUME_PERMISSION and str(r.get("accountId") or "").lower() == "all":
        yield f"The {r.label} makes the snapshot public: anyone can create a volume from it."
    elif r.type == T.EBS_SNAPSHOT_BLOCK_PUBLIC_ACCESS and r.get("state") == "unblocked":
        yield f"The {r.label} turns snapshot block public access off for the region."
