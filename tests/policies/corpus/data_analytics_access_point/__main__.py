"""PR: give the analytics vendor read access to the reports bucket through an access point.  "The vendor's
role names change, so: any principal, read-only" -- and the bucket's public access block is relaxed so that
the access point policy "takes effect"."""

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
bucket = config.require("reportsBucket")

point = aws.s3.AccessPoint("vendor-reports", bucket=bucket, name="vendor-reports")

# The _output form resolves Outputs in the statements; the SDK's types say plain str.
vendor_read = aws.iam.get_policy_document_output(statements=[{  # type: ignore[list-item]
    "sid": "VendorRead",
    "actions": ["s3:GetObject", "s3:ListBucket"],
    "principals": [{"type": "AWS", "identifiers": ["*"]}],
    "resources": [point.arn, point.arn.apply(lambda arn: f"{arn}/object/*")],
}])
aws.s3control.AccessPointPolicy("vendor-reports", access_point_arn=point.arn, policy=vendor_read.json)

aws.s3.BucketPublicAccessBlock(
    "reports-public-access",
    bucket=bucket,
    block_public_acls=True,
    ignore_public_acls=True,
    block_public_policy=False,
    restrict_public_buckets=False,
)
