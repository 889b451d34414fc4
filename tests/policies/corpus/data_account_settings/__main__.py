"""PR: sandbox account settings -- static website experiments need public bucket policies, so only ACLs stay
blocked at the account level."""

import pulumi_aws as aws

aws.s3.AccountPublicAccessBlock("sandbox", block_public_acls=True, ignore_public_acls=True)
aws.ebs.EncryptionByDefault("sandbox", enabled=True)
