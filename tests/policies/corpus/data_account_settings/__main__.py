"""PR: sandbox account settings -- static website experiments need public bucket policies, so only ACLs stay
blocked at the account level."""

import pulumi
import pulumi_aws as aws

switch = pulumi.ResourceOptions(protect=True, retain_on_delete=True)
aws.s3.AccountPublicAccessBlock("sandbox", block_public_acls=True, ignore_public_acls=True, opts=switch)
aws.ebs.EncryptionByDefault("sandbox", enabled=True, opts=switch)
