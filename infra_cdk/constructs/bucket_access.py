"""Grants on key prefixes of the assets bucket, for the feature constructs."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from core.keys import objects_under
from infra_cdk.nag import acknowledge, finding_label

# On the bucket itself: without it S3 answers a missing key with 403, as it does a denied read.
LIST_BUCKET_ACTIONS = ("s3:ListBucket",)


def object_arns(bucket_arn: str, *prefixes: str) -> list[str]:
    return [f"{bucket_arn}/{objects_under(prefix)}" for prefix in prefixes]


def bucket_arn_in(stack: Stack, bucket: s3.IBucket) -> str:
    """The bucket's ARN as `stack` may use it (through an export when the bucket is elsewhere)."""
    owner = Stack.of(bucket)
    return bucket.bucket_arn if owner is stack else owner.export_value(bucket.bucket_arn)


def grant_prefixes(
    scope: Construct,
    fn: lambda_.Function,
    bucket: s3.IBucket,
    grants: dict[str, tuple[str, ...]],
    reason: str,
) -> None:
    """`grants` maps a key prefix to the S3 actions `fn` may take under it, and nothing else."""
    stack = Stack.of(scope)
    if Stack.of(bucket) is not stack:
        # Through the export CDK would make at synth anyway, so that the policy's resource (and
        # the cdk-nag finding id below) is known now.
        stack.add_stack_dependency(Stack.of(bucket), f"{fn.node.id} uses the assets bucket")
    bucket_arn = bucket_arn_in(stack, bucket)
    fn.add_environment("ASSETS_BUCKET", bucket.bucket_name)
    role = fn.role
    assert role is not None  # the factory always gives one
    for prefix, actions in grants.items():
        (resource,) = object_arns(bucket_arn, prefix)
        sid = "".join(part.capitalize() for part in prefix.strip("/").replace("-", "/").split("/"))
        role.add_to_principal_policy(iam.PolicyStatement(sid=sid, actions=list(actions), resources=[resource]))
        acknowledge(role, f"AwsSolutions-IAM5[Resource::{finding_label(scope, resource)}]", reason)
