"""S3 policies: each bucket's companion configuration resources, settings a stack applies to buckets it does
not own, the account's public access block, and access points."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from . import _tokens as T
from ._iam import PolicyDocumentError, parse, principal_is_public
from ._meta import resource_policy, stack_policy, string_list
from ._model import Resource, Stack
from ._public import public_grants
from ._values import UNKNOWN, as_bool, as_list, is_set

Finding = tuple[str, str | None]


def _companions(stack: Stack, bucket: Resource, types: Iterable[str]) -> list[Resource]:
    return stack.referrers(bucket, types, "bucket", ["bucket", "id"])


_PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def _blocks_all(holder: Resource, prefix: str = "", absent: bool = False) -> bool:
    """All four public access block flags are true (or unknown); ``absent`` is what a missing flag means."""
    for flag in _PAB_FLAGS:
        value = holder.get(prefix + flag)
        if value is UNKNOWN:
            continue
        if (absent if value is None else as_bool(value)) is not True:
            return False
    return True


def _unowned_companions(stack: Stack, types: Iterable[str]) -> list[Resource]:
    """Companion resources (``bucket`` input) for a bucket this stack does not declare."""
    buckets = stack.of_type(*T.S3_BUCKETS, T.S3_DIRECTORY_BUCKET)
    return [c for c in stack.of_type(*types)
            if not any(stack.refers_to(c, "bucket", b, ["bucket", "id"]) for b in buckets)]


def _each_bucket_needs(stack: Stack, types: Iterable[str], ok: Callable[[Resource], bool], what: str,
                       exempt: Iterable[str] = ()) -> Iterator[Finding]:
    types = tuple(types)
    for bucket in stack.of_type(*T.S3_BUCKETS):
        if bucket.name in exempt or bucket.get("bucket") in exempt:
            continue
        if not any(ok(c) for c in _companions(stack, bucket, types)):
            yield f"The S3 bucket {bucket.label} has no {what}.", bucket.urn


@stack_policy(
    name="s3-bucket-public-access-block",
    description="Every S3 bucket must block public access with all four settings.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("S3.8", "CIS3 2.1.4", "CloudTrail.6", "AwsSolutions-S2"),
    remediation="Create an `aws.s3.BucketPublicAccessBlock` for the bucket with block_public_acls, "
    "block_public_policy, ignore_public_acls and restrict_public_buckets all true.",
)
def s3_bucket_public_access_block(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    yield from _each_bucket_needs(stack, [T.S3_PUBLIC_ACCESS_BLOCK], _blocks_all,
                                  "BucketPublicAccessBlock with all four flags true")
    for pab in _unowned_companions(stack, [T.S3_PUBLIC_ACCESS_BLOCK]):
        if not _blocks_all(pab):
            yield (f"The {pab.label} weakens the public access block of bucket {pab.get('bucket')}, which this "
                   "stack does not own: all four flags must stay true.", pab.urn)


@resource_policy(
    name="s3-account-public-access-block-not-weakened",
    description="No stack may weaken the account's S3 Block Public Access settings.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("S3.1", "CIS3 2.1.4", "CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56"),
    remediation="Declare `aws.s3.AccountPublicAccessBlock` only in the stack that owns the account baseline, with "
    "all four flags true (an absent flag is false).",
    resource_types=(T.S3_ACCOUNT_PUBLIC_ACCESS_BLOCK,),
)
def s3_account_public_access_block_not_weakened(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    weak = [f for f in _PAB_FLAGS if r.get(f) is not UNKNOWN and as_bool(r.get(f)) is not True]
    if weak:
        yield (f"The {r.label} sets {', '.join(weak)} false or leaves them out (default false): the whole "
               "account's buckets lose that protection.")


def _ssl_deny(document: Any) -> bool:
    try:
        statements = parse(document)
    except PolicyDocumentError:
        return False
    if statements is None:
        return True  # unknown at preview: decided at update
    for st in statements:
        cond = st.conditions.get("Bool")
        if (st.effect == "Deny" and principal_is_public(st.principal) and isinstance(cond, dict)
                and str(cond.get("aws:SecureTransport")).lower() == "false"
                and any(a in ("s3:*", "*") for a in st.actions)):
            return True
    return False


@stack_policy(
    name="s3-bucket-ssl-only",
    description="Every S3 bucket policy must deny requests that do not use TLS.",
    severity=Severity.MEDIUM,
    category="exposure",
    controls=("S3.5", "CIS3 2.1.1", "AwsSolutions-S10"),
    remediation="Add a BucketPolicy statement: Deny, Principal '*', Action s3:*, Resource bucket ARN and "
    "ARN/*, Condition Bool aws:SecureTransport 'false'.",
    preview_note="Bucket policies built from outputs (the bucket ARN) are unknown at preview and pass until "
    "update.",
)
def s3_bucket_ssl_only(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    for bucket in stack.of_type(*T.S3_BUCKETS):
        documents = [bucket.get("policy")] if bucket.get("policy") is not None else []
        documents += [p.get("policy") for p in _companions(stack, bucket, [T.S3_BUCKET_POLICY])]
        if not any(_ssl_deny(d) for d in documents):
            yield f"The S3 bucket {bucket.label} has no policy denying non-TLS (aws:SecureTransport=false) access.", \
                bucket.urn


@stack_policy(
    name="s3-bucket-access-logging",
    description="S3 buckets should have server access logging (except the log target buckets).",
    severity=Severity.MEDIUM,
    category="operations",
    controls=("S3.9", "CloudTrail.7", "CIS3 3.4", "AwsSolutions-S1"),
    remediation="Create an `aws.s3.BucketLogging` for the bucket with a separate `target_bucket`.",
    config={"exemptBuckets": string_list("Bucket resource names or bucket names exempt (log targets).", [])},
)
def s3_bucket_access_logging(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    targets = {c.get("targetBucket") for c in stack.of_type(*T.S3_LOGGING)}
    target_urns = set().union(*(c.prop_deps.get("targetBucket", set()) for c in stack.of_type(*T.S3_LOGGING)))
    exempt = list(cfg["exemptBuckets"])
    exempt += [b.name for b in stack.of_type(*T.S3_BUCKETS) if b.urn in target_urns or b.get("bucket") in targets]
    yield from _each_bucket_needs(stack, T.S3_LOGGING, lambda c: True, "BucketLogging (server access logs)", exempt)


@stack_policy(
    name="s3-bucket-owner-enforced",
    description="S3 buckets must disable ACLs (object ownership BucketOwnerEnforced).",
    severity=Severity.MEDIUM,
    category="exposure",
    controls=("S3.12",),
    remediation="Create an `aws.s3.BucketOwnershipControls` with `rule.object_ownership='BucketOwnerEnforced'` "
    "and no BucketAcl.",
)
def s3_bucket_owner_enforced(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    yield from _each_bucket_needs(
        stack, [T.S3_OWNERSHIP], lambda c: c.get("rule.objectOwnership") in ("BucketOwnerEnforced", UNKNOWN),
        "BucketOwnershipControls with objectOwnership BucketOwnerEnforced")
    for owner in _unowned_companions(stack, [T.S3_OWNERSHIP]):
        if owner.get("rule.objectOwnership") not in ("BucketOwnerEnforced", UNKNOWN):
            yield (f"The {owner.label} re-enables ACLs ({owner.get('rule.objectOwnership')}) on bucket "
                   f"{owner.get('bucket')}, which this stack does not own.", owner.urn)
    for acl in stack.of_type(*T.S3_ACL):
        yield f"The {acl.label} manages access with ACLs; use bucket policies instead.", acl.urn
    for bucket in stack.of_type(*T.S3_BUCKETS):
        if bucket.get("acl") not in (None, "private", UNKNOWN) or as_list(bucket.get("grants")):
            yield f"The S3 bucket {bucket.label} sets an ACL or grants; use bucket policies instead.", bucket.urn


@stack_policy(
    name="s3-bucket-lifecycle",
    description="S3 buckets should have a lifecycle configuration.",
    severity=Severity.LOW,
    category="resilience",
    controls=("S3.13",),
    remediation="Create an `aws.s3.BucketLifecycleConfiguration` with at least one rule.",
)
def s3_bucket_lifecycle(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    yield from _each_bucket_needs(stack, T.S3_LIFECYCLE, lambda c: bool(as_list(c.get("rules"))),
                                  "BucketLifecycleConfiguration with rules")


@stack_policy(
    name="s3-bucket-versioning",
    description="S3 buckets should have versioning enabled.",
    severity=Severity.LOW,
    category="resilience",
    controls=("S3.14",),
    remediation="Create an `aws.s3.BucketVersioning` with `versioning_configuration.status='Enabled'`.",
)
def s3_bucket_versioning(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    yield from _each_bucket_needs(
        stack, T.S3_VERSIONING,
        lambda c: c.get("versioningConfiguration.status") in ("Enabled", UNKNOWN), "versioning Enabled")


def _access_point_policies(stack: Stack, point: Resource) -> list[tuple[Resource, str, Any]]:
    found = [(point, "policy", point.get("policy"))] if point.get("policy") is not None else []
    for companion in stack.referrers(point, [T.S3_ACCESS_POINT_POLICY], "accessPointArn", ["arn"]):
        found.append((companion, "policy", companion.get("policy")))
    return found


@stack_policy(
    name="s3-access-point-not-public",
    description="S3 access points (and multi-region access points) must block public access and must not grant "
    "access to everyone.",
    severity=Severity.CRITICAL,
    category="exposure",
    controls=("S3.19", "S3.24", "CKV_AWS_392"),
    remediation="Leave `public_access_block_configuration` out or all four flags true (multi-region: "
    "`details.public_access_block`); restrict the access point policy to named principals or give the access "
    "point a VPC network origin (`vpc_configuration`).",
    preview_note="An access point policy built from outputs is unknown at preview and checked at update. An "
    "access point whose network origin is a VPC cannot be reached from the internet; its policy is not judged.",
)
def s3_access_point_not_public(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    for point in stack.of_type(T.S3_ACCESS_POINT):
        # Access points block public access unless told otherwise (every flag defaults to true).
        if not _blocks_all(point, "publicAccessBlockConfiguration.", absent=True):
            yield (f"The S3 access point {point.label} turns off part of its public access block.", point.urn)
        if is_set(point.get("vpcConfiguration.vpcId")):
            continue
        for holder, key, document in _access_point_policies(stack, point):
            for finding in public_grants(holder, key, document):
                yield finding, holder.urn
    for mrap in stack.of_type(T.S3_MULTI_REGION_ACCESS_POINT):
        if not _blocks_all(mrap, "details.publicAccessBlock.", absent=True):
            yield (f"The multi-region access point {mrap.label} turns off part of its public access block.",
                   mrap.urn)
    for policy in stack.of_type(T.S3_MULTI_REGION_ACCESS_POINT_POLICY, T.S3_OBJECT_LAMBDA_ACCESS_POINT_POLICY):
        key = "details.policy" if policy.type == T.S3_MULTI_REGION_ACCESS_POINT_POLICY else "policy"
        for finding in public_grants(policy, key, policy.get(key)):
            yield finding, policy.urn
